//===- Convolution.cpp - Halide algorithm of conv2d -----------------------===//
//
// Cross-correlation with stride, dilation, asymmetric zero padding and
// groups (SPEC §1). Padding is a separate Func so the schedule can
// materialize it once and keep bounds checks out of the inner loop.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/Algorithms.h"

using namespace Halide;

namespace cnnc::halide {

Vars &vars() {
  static Vars v;
  return v;
}

Func paddedInput(Func input, Extent4D in, float outside, const char *name) {
  auto &v = vars();
  Func padded(name);
  Expr inside = v.x >= 0 && v.x < in.w && v.y >= 0 && v.y < in.h;
  padded(v.x, v.y, v.c, v.n) =
      select(inside, input(clamp(v.x, 0, in.w - 1), clamp(v.y, 0, in.h - 1), v.c, v.n),
             outside);
  return padded;
}

static int windowOutput(int in, int kernel, int stride, int dilation, int pad0,
                        int pad1) {
  return (in + pad0 + pad1 - dilation * (kernel - 1) - 1) / stride + 1;
}

ConvStages convolution(Func input, Extent4D in, Func weight,
                       std::optional<Func> bias, const ConvAttrs &a) {
  auto &v = vars();
  ConvStages s;
  s.attrs = a;
  s.input = in;
  s.output = {windowOutput(in.w, a.kernelW, a.strideX, a.dilationX, a.padLeft, a.padRight),
              windowOutput(in.h, a.kernelH, a.strideY, a.dilationY, a.padTop, a.padBottom),
              a.outChannels};
  Func source = input;
  if (a.padLeft || a.padTop || a.padRight || a.padBottom) {
    s.padded = paddedInput(input, in, 0.0f, "padded");
    source = s.padded;
  }
  int inPerGroup = in.c / a.groups, outPerGroup = a.outChannels / a.groups;
  s.r = RDom(0, a.kernelW, 0, a.kernelH, 0, inPerGroup, "r");
  Expr inChannel = s.r.z;
  if (a.groups > 1)
    inChannel = (v.c / outPerGroup) * inPerGroup + s.r.z;
  Var kx("kx"), ky("ky"), ci("ci"), co("co");
  s.weights = Func("weights");
  s.weights(kx, ky, ci, co) = weight(kx, ky, ci, co);
  s.conv = Func("conv");
  s.conv(v.x, v.y, v.c, v.n) = bias ? (*bias)(v.c) : Expr(0.0f);
  s.conv(v.x, v.y, v.c, v.n) +=
      s.weights(s.r.x, s.r.y, s.r.z, v.c) *
      source(v.x * a.strideX + s.r.x * a.dilationX - a.padLeft,
             v.y * a.strideY + s.r.y * a.dilationY - a.padTop, inChannel, v.n);
  return s;
}

} // namespace cnnc::halide
