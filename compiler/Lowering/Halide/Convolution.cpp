//===- Convolution.cpp - Halide algorithm of conv2d -----------------------===//
//
// Cross-correlation with stride, dilation, asymmetric zero padding and
// groups. Padding is a separate Func so the schedule can
// materialize it once and keep bounds checks out of the inner loop. The
// transposed convolution reuses the input gradient's algorithm; connection
// tables expand a compact weight through an index table embedded in the
// pipeline.
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
      select(inside, input(clamp(v.x, 0, in.w - 1), clamp(v.y, 0, in.h - 1), v.c, v.n), outside);
  return padded;
}

static int windowOutput(int in, int kernel, int stride, int dilation, int pad0, int pad1) {
  return (in + pad0 + pad1 - dilation * (kernel - 1) - 1) / stride + 1;
}

ConvStages convolution(Func input, Extent4D in, Func weight, std::optional<Func> bias,
                       const ConvAttrs &a) {
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
  s.source = source;
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

ConvStages convolutionTranspose(Func input, Extent4D in, Func weight, std::optional<Func> bias,
                                const ConvAttrs &forward, Extent4D out) {
  // a = Wᵀz is the input gradient of the conv z = W ⋆ a.
  return convolutionGradInput(input, in, weight, forward, out, bias);
}

Func scatterConnections(Func compact, const std::vector<std::vector<int>> &table, int inChannels) {
  // index(ci, co): the compact kernel of connection (co, ci), or -1.
  int outChannels = int(table.size());
  Buffer<int32_t> index(inChannels, outChannels, "connection_index");
  index.fill(-1);
  int k = 0;
  for (int co = 0; co < outChannels; ++co)
    for (int ci : table[co])
      index(ci, co) = k++;
  Var kx("kx"), ky("ky"), ci("ci"), co("co");
  Func dense("scatter_connections");
  Expr i = index(ci, co);
  dense(kx, ky, ci, co) = select(i >= 0, compact(kx, ky, clamp(i, 0, k - 1)), 0.0f);
  return dense;
}

Func gatherConnections(Func dense, const std::vector<std::vector<int>> &table, int inChannels) {
  std::vector<int> connections;
  for (const std::vector<int> &row : table)
    connections.insert(connections.end(), row.begin(), row.end());
  int count = int(connections.size());
  // (input channel, output channel) of each connection, in table order.
  Buffer<int32_t> pairs(2, count, "connection_pairs");
  int k = 0;
  for (size_t co = 0; co < table.size(); ++co)
    for (int ci : table[co]) {
      pairs(0, k) = ci;
      pairs(1, k) = int(co);
      ++k;
    }
  Var kx("kx"), ky("ky"), kk("k");
  Func compact("gather_connections");
  int outChannels = int(table.size());
  compact(kx, ky, kk) = dense(kx, ky, clamp(pairs(0, kk), 0, inChannels - 1),
                              clamp(pairs(1, kk), 0, outChannels - 1));
  return compact;
}

} // namespace cnnc::halide
