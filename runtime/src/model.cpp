//===- model.cpp - Loading a model.so and reading its metadata ------------===//
//
// cnnc_model_load: checks the file before loading it (elf_check.h: a
// complete ELF shared object exporting `cnnc_model_v1`; the host CPU has the
// features of the target its metadata section names, cpu_features.h), then
// dlopens the library (RTLD_NOW | RTLD_LOCAL, so several models, each with
// its own embedded Halide runtime, can be loaded at once), finds
// `cnnc_model_v1`, checks the ABI version and parses and validates the
// metadata JSON (docs/runtime-abi.md), including the optional "train"
// object, into struct cnnc_model, checking every kernel call against the
// kernel's Halide metadata. A GPU model's driver is checked and its
// buffers get device memory (device.cpp). Also the info queries (inputs,
// outputs, parameters, state, steps). Validation is strict:
// every index in the metadata is range-checked here so that execution can
// trust it. Every metadata key and buffer, optimizer, hyper-parameter and
// init name comes from cnnc/model_schema.h.
//
//===----------------------------------------------------------------------===//
#include "model.h"
#include "cpu_features.h"
#include "device.h"
#include "elf_check.h"
#include "error.h"
#include "json.h"
#include "scratch.h"

#include "cnnc/model_schema.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <utility>

using namespace cnnc::rt;

namespace cnnc::rt {

AlignedFloats allocateFloats(int64_t count) {
  if (count < 0 || uint64_t(count) > std::numeric_limits<size_t>::max() / sizeof(float) - 64)
    fail(CNNC_ERROR_OUT_OF_MEMORY, "buffer of " + std::to_string(count) + " floats is too large");
  size_t bytes = (size_t(count) * sizeof(float) + 63) / 64 * 64;
  if (bytes == 0)
    bytes = 64;
  void *p = std::aligned_alloc(64, bytes);
  if (!p)
    fail(CNNC_ERROR_OUT_OF_MEMORY,
         "cannot allocate " + std::to_string(bytes) + " bytes for a buffer");
  std::memset(p, 0, bytes);
  return AlignedFloats(static_cast<float *>(p));
}

int findState(const cnnc_model &model, const std::string &name) {
  for (size_t i = 0; i < model.train.state.size(); ++i)
    if (model.train.state[i].name == name)
      return int(i);
  return -1;
}

int findParameter(const cnnc_model &model, const std::string &name) {
  for (size_t i = 0; i < model.parameters.size(); ++i)
    if (model.parameters[i].name == name)
      return int(i);
  return -1;
}

namespace {

namespace key = schema::key;
namespace buffer_kind = schema::buffer_kind;

/// `name` in double quotes, as metadata names appear in messages.
std::string quote(std::string_view name) { return "\"" + std::string(name) + "\""; }

/// The names in double quotes, the last two joined by "or": "\"a\", \"b\" or \"c\"".
template <typename Names> std::string oneOf(const Names &names) {
  std::string s;
  for (size_t i = 0; i < std::size(names); ++i)
    s += (i == 0 ? "" : i + 1 == std::size(names) ? " or " : ", ") + quote(names[i]);
  return s;
}

/// The metadata path of member `name` of `where` ("train.optimizer.lr"); `name` at the top.
std::string path(const std::string &where, std::string_view name) {
  return where.empty() ? std::string(name) : where + "." + std::string(name);
}

/// The metadata path of element `i` of `where` ("buffers[3]").
std::string element(const std::string &where, size_t i) {
  return where + "[" + std::to_string(i) + "]";
}

/// Each buffer kind and its metadata name.
constexpr std::pair<BufferKind, std::string_view> kBufferKindNames[] = {
    {BufferKind::Input, buffer_kind::kInput},     {BufferKind::Param, buffer_kind::kParam},
    {BufferKind::Derived, buffer_kind::kDerived}, {BufferKind::Temp, buffer_kind::kTemp},
    {BufferKind::Output, buffer_kind::kOutput},   {BufferKind::State, buffer_kind::kState},
    {BufferKind::Hyper, buffer_kind::kHyper},     {BufferKind::Labels, buffer_kind::kLabels},
    {BufferKind::Next, buffer_kind::kNext},
};

std::string_view kindName(BufferKind kind) {
  for (const auto &[k, name] : kBufferKindNames)
    if (k == kind)
      return name;
  return "?";
}

/// Validation helper: every error names the metadata path that is wrong.
class MetadataReader {
public:
  explicit MetadataReader(const std::string &modelPath) : modelPath(modelPath) {}

  [[noreturn]] void error(const std::string &where, const std::string &msg) const {
    fail(CNNC_ERROR_FORMAT, "malformed metadata in '" + modelPath + "': " + where + ": " + msg);
  }

  const Json &member(const Json &obj, const std::string &where, std::string_view name) const {
    const Json *v = findMember(obj, name);
    if (!v)
      error(where.empty() ? "top level" : where, "missing " + quote(name));
    return *v;
  }

  const Json &array(const Json &obj, const std::string &where, std::string_view name) const {
    const Json &v = member(obj, where, name);
    if (!v.is_array())
      error(path(where, name), std::string("expected an array, found ") + v.type_name());
    return v;
  }

  int64_t integer(const Json &v, const std::string &where) const {
    std::optional<int64_t> i = jsonInteger(v);
    if (!i)
      error(where, "expected an integer");
    return *i;
  }

  std::string string(const Json &obj, const std::string &where, std::string_view name) const {
    const Json &v = member(obj, where, name);
    if (!v.is_string())
      error(path(where, name), std::string("expected a string, found ") + v.type_name());
    return v.get<std::string>();
  }

  /// A JSON number (integer or not).
  double number(const Json &v, const std::string &where) const {
    if (!v.is_number())
      error(where, std::string("expected a number, found ") + v.type_name());
    return v.get<double>();
  }

  int index(const Json &v, const std::string &where, size_t limit, const char *what) const {
    int64_t i = integer(v, where);
    if (i < 0 || uint64_t(i) >= limit)
      error(where, std::string(what) + " index " + std::to_string(i) + " out of range [0, " +
                       std::to_string(limit) + ")");
    return int(i);
  }

  std::vector<int64_t> shape(const Json &obj, const std::string &where) const {
    const Json &v = array(obj, where, key::kShape);
    std::string shapePath = path(where, key::kShape);
    std::vector<int64_t> shape;
    int batchDims = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      int64_t d = integer(v[i], element(shapePath, i));
      if (d == -1)
        ++batchDims;
      else if (d <= 0)
        error(shapePath, "dimension " + std::to_string(d) + " is not positive or -1");
      shape.push_back(d);
    }
    if (batchDims > 1)
      error(shapePath, "more than one batch (-1) dimension");
    if (shape.size() > 16)
      error(shapePath, "rank " + std::to_string(shape.size()) + " is too large");
    return shape;
  }

  BufferKind bufferKind(const Json &obj, const std::string &where) const {
    std::string name = string(obj, where, key::kKind);
    for (const auto &[kind, kindName] : kBufferKindNames)
      if (name == kindName)
        return kind;
    error(path(where, key::kKind), "unknown kind " + quote(name));
  }

  const std::string &modelPath;
};

void parseTensors(const MetadataReader &r, const Json &root, std::string_view listKey,
                  BufferKind kind, const std::vector<BufferDesc> &buffers,
                  std::vector<TensorDesc> &out, const std::string &prefix = "") {
  const Json &list = r.array(root, prefix, listKey);
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = element(path(prefix, listKey), i);
    const Json &t = list[i];
    if (!t.is_object())
      r.error(where, "expected an object");
    TensorDesc d;
    d.name = r.string(t, where, key::kName);
    d.shape = r.shape(t, where);
    if (const Json *layout = findMember(t, key::kLayout); layout && layout->is_string())
      d.layout = layout->get<std::string>();
    d.buffer = r.index(r.member(t, where, key::kBuffer), path(where, key::kBuffer), buffers.size(),
                       "buffer");
    const BufferDesc &b = buffers[d.buffer];
    if (b.kind != kind)
      r.error(where, "buffer " + std::to_string(d.buffer) + " has kind " + quote(kindName(b.kind)) +
                         ", expected " + quote(kindName(kind)));
    if (b.shape != d.shape)
      r.error(where, "shape " + shapeString(d.shape) + " differs from its buffer's " +
                         shapeString(b.shape));
    // Inputs, parameters and state own their storage; an output may be a view
    // (a final flatten), which the runtime copies out.
    if (b.viewOf >= 0 && kind != BufferKind::Output)
      r.error(where, "an " + std::string(kindName(kind)) + " buffer cannot be a view");
    if ((kind == BufferKind::Param || kind == BufferKind::State) && b.batchDim >= 0)
      r.error(where,
              "a " + std::string(kindName(kind)) + " buffer cannot have a batch (-1) dimension");
    for (const TensorDesc &prev : out)
      if (prev.name == d.name)
        r.error(where, "duplicate name " + quote(d.name));
    d.itemCount = b.itemCount;
    d.batched = b.batchDim >= 0;
    out.push_back(std::move(d));
  }
}

/// The kernel's name as its descriptor gives it, in quotes, or "".
std::string kernelName(const cnnc_model &model, int kernel) {
  const char *name = model.desc->kernel_names ? model.desc->kernel_names[kernel] : nullptr;
  return name ? " (" + quote(name) + ")" : "";
}

/// Checks a call against its kernel's own Halide metadata: as many
/// arguments as the kernel takes, each a float32 buffer of the kernel's rank
/// (and, where the kernel records estimates, of its extents), and of the
/// shape the descriptor says the kernel was compiled for. Skipped when the
/// descriptor has no metadata table (cnnc_model_load requires one).
void checkKernelSignature(const MetadataReader &r, const cnnc_model &model, const CallDesc &call,
                          const std::string &where) {
  if (!model.desc->kernel_metadata)
    return;
  std::string kernel = "kernel " + std::to_string(call.kernel) + kernelName(model, call.kernel);
  std::string site = where + " " + quote(call.name);
  cnnc_kernel_metadata_fn getter = model.desc->kernel_metadata[call.kernel];
  const halide_filter_metadata_t *m = getter ? getter() : nullptr;
  if (!m || m->num_arguments < 0 || (m->num_arguments > 0 && !m->arguments))
    r.error(site, kernel + " has no Halide metadata");
  if (size_t(m->num_arguments) != call.args.size())
    r.error(site, "calls " + kernel + " with " + std::to_string(call.args.size()) +
                      " arguments, but the kernel takes " + std::to_string(m->num_arguments));
  size_t shapeOffset = 0; // into the kernel's compiled shapes
  for (size_t j = 0; j < call.args.size(); ++j) {
    const halide_filter_argument_t &a = m->arguments[j];
    const BufferDesc &b = model.buffers[call.args[j]];
    std::string arg = "argument " + std::to_string(j) + " (buffer " + std::to_string(call.args[j]) +
                      ") of " + kernel;
    if (a.kind != halide_argument_kind_input_buffer && a.kind != halide_argument_kind_output_buffer)
      r.error(site, arg + ": the kernel takes a scalar there, not a buffer");
    if (a.type.code != halide_type_float || a.type.bits != 32 || a.type.lanes != 1)
      r.error(site, arg + ": the kernel takes a buffer of another type than float32");
    if (size_t(a.dimensions) != b.shape.size())
      r.error(site, arg + ": the kernel takes a buffer of rank " + std::to_string(a.dimensions) +
                        ", buffer " + std::to_string(call.args[j]) + " has shape " +
                        shapeString(b.shape));
    // The shape the kernel was compiled for: its extents are trusted.
    if (const int64_t *const *shapes = model.desc->kernel_shapes; shapes && shapes[call.kernel]) {
      std::vector<int64_t> compiled(shapes[call.kernel] + shapeOffset,
                                    shapes[call.kernel] + shapeOffset + a.dimensions);
      shapeOffset += size_t(a.dimensions);
      if (compiled != b.shape)
        r.error(site, arg + ": the kernel was compiled for shape " + shapeString(compiled) +
                          ", buffer " + std::to_string(call.args[j]) + " has shape " +
                          shapeString(b.shape));
    }
    // Halide numbers dimensions innermost first; estimates come in (min, extent) pairs.
    for (int d = 0; a.buffer_estimates && d < a.dimensions; ++d) {
      const int64_t *extent = a.buffer_estimates[2 * d + 1];
      int64_t want = b.shape[b.shape.size() - 1 - size_t(d)];
      if (extent && want != -1 && *extent != want)
        r.error(site, arg + ": the kernel expects extent " + std::to_string(*extent) +
                          " in dimension " + std::to_string(b.shape.size() - 1 - size_t(d)) +
                          ", buffer " + std::to_string(call.args[j]) + " has shape " +
                          shapeString(b.shape));
    }
    // A kernel writes its output buffers: never a buffer the caller or the
    // runtime owns the value of.
    BufferKind k = model.buffers[b.root].kind;
    if (a.kind == halide_argument_kind_output_buffer &&
        (k == BufferKind::Input || k == BufferKind::Param || k == BufferKind::State ||
         k == BufferKind::Hyper || k == BufferKind::Labels))
      r.error(site, arg + " is an output, but buffer " + std::to_string(call.args[j]) +
                        " has kind " + quote(kindName(k)));
  }
}

void parseCalls(const MetadataReader &r, const Json &root, std::string_view listKey, bool optional,
                const cnnc_model &model, std::vector<CallDesc> &out,
                const std::string &prefix = "") {
  if (optional && !findMember(root, listKey))
    return;
  const Json &list = r.array(root, prefix, listKey);
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = element(path(prefix, listKey), i);
    const Json &c = list[i];
    if (!c.is_object())
      r.error(where, "expected an object");
    CallDesc d;
    d.name = r.string(c, where, key::kName);
    std::string kernelPath = path(where, key::kKernel);
    d.kernel =
        r.index(r.member(c, where, key::kKernel), kernelPath, model.desc->num_kernels, "kernel");
    if (!model.desc->kernels || !model.desc->kernels[d.kernel])
      r.error(kernelPath, "kernel " + std::to_string(d.kernel) + " is null");
    const Json &args = r.array(c, where, key::kArgs);
    std::string argsPath = path(where, key::kArgs);
    if (args.empty())
      r.error(argsPath, "no arguments");
    for (size_t j = 0; j < args.size(); ++j)
      d.args.push_back(r.index(args[j], element(argsPath, j), model.buffers.size(), "buffer"));
    checkKernelSignature(r, model, d, where);
    if (const Json *flops = findMember(c, key::kFlops)) {
      d.flops = r.integer(*flops, path(where, key::kFlops));
      if (d.flops < 0)
        r.error(path(where, key::kFlops), "negative");
    }
    out.push_back(std::move(d));
  }
}

/// An index of a buffer of `kind` with one element and no batch dimension.
int scalarBuffer(const MetadataReader &r, const Json &v, const std::string &where,
                 const cnnc_model &model, const std::vector<BufferKind> &kinds) {
  int b = r.index(v, where, model.buffers.size(), "buffer");
  const BufferDesc &d = model.buffers[b];
  bool kindOk = false;
  std::vector<std::string_view> expected;
  for (BufferKind k : kinds) {
    kindOk |= d.kind == k;
    expected.push_back(kindName(k));
  }
  if (!kindOk)
    r.error(where, "buffer " + std::to_string(b) + " has kind " + quote(kindName(d.kind)) +
                       ", expected " + oneOf(expected));
  if (d.batchDim >= 0 || d.itemCount != 1)
    r.error(where, "buffer " + std::to_string(b) + " has shape " + shapeString(d.shape) +
                       ", expected one element ([1])");
  return b;
}

/// The last argument of each call is its output: it must not be a buffer the
/// runtime or the caller owns the value of.
void checkCallOutputs(const MetadataReader &r, const cnnc_model &model,
                      const std::vector<CallDesc> &calls, std::string_view listKey,
                      bool allowNext) {
  for (const CallDesc &c : calls) {
    BufferKind k = model.buffers[model.buffers[c.args.back()].root].kind;
    if (k == BufferKind::Input || k == BufferKind::Param || k == BufferKind::State ||
        k == BufferKind::Hyper || k == BufferKind::Labels || (k == BufferKind::Next && !allowNext))
      r.error(path(std::string(key::kTrain), listKey) + " " + quote(c.name),
              "writes buffer " + std::to_string(c.args.back()) + " of kind " + quote(kindName(k)) +
                  (k == BufferKind::Param || k == BufferKind::State
                       ? " (updates go to a " + quote(buffer_kind::kNext) + " buffer and a swap)"
                       : ""));
  }
}

void parseTrain(const MetadataReader &r, const Json &t, cnnc_model &model) {
  namespace optimizer = schema::optimizer;
  namespace hyper = schema::hyper;
  namespace init = schema::init;
  const std::string train = std::string(key::kTrain);
  TrainDesc &desc = model.train;
  if (!t.is_object())
    r.error(train, std::string("expected an object, found ") + t.type_name());
  desc.present = true;
  desc.loss = r.string(t, train, key::kLoss);
  const std::string optimizerPath = path(train, key::kOptimizer);
  const Json &opt = r.member(t, train, key::kOptimizer);
  if (!opt.is_object())
    r.error(optimizerPath, "expected an object");
  desc.optimizer = r.string(opt, optimizerPath, optimizer::kName);
  if (std::find(optimizer::kAll.begin(), optimizer::kAll.end(), desc.optimizer) ==
      optimizer::kAll.end())
    r.error(path(optimizerPath, optimizer::kName), "unknown optimizer " + quote(desc.optimizer) +
                                                       " (expected " + oneOf(optimizer::kAll) +
                                                       ")");
  const std::string lrPath = path(optimizerPath, optimizer::kLr);
  desc.lr = r.number(r.member(opt, optimizerPath, optimizer::kLr), lrPath);
  if (!(desc.lr >= 0))
    r.error(lrPath, "negative or not a number");
  // The other settings (those of the other family may be absent: PyTorch's
  // defaults) are the ones a loaded model starts with.
  OptimizerSettings &defaults = desc.defaults;
  defaults.name = desc.optimizer;
  const std::pair<std::string_view, double OptimizerSettings::*> numbers[] = {
      {optimizer::kMomentum, &OptimizerSettings::momentum},
      {optimizer::kDampening, &OptimizerSettings::dampening},
      {optimizer::kWeightDecay, &OptimizerSettings::weightDecay},
      {optimizer::kBeta1, &OptimizerSettings::beta1},
      {optimizer::kBeta2, &OptimizerSettings::beta2},
      {optimizer::kEpsilon, &OptimizerSettings::epsilon}};
  for (auto [name, field] : numbers)
    if (const Json *v = findMember(opt, name))
      defaults.*field = r.number(*v, path(optimizerPath, name));
  if (const Json *v = findMember(opt, optimizer::kNesterov)) {
    if (!v->is_boolean())
      r.error(path(optimizerPath, optimizer::kNesterov),
              std::string("expected true or false, found ") + v->type_name());
    defaults.nesterov = v->get<bool>();
  }
  desc.stateForm = desc.optimizer != optimizer::kSgd ? StateForm::AdamMoments
                   : defaults.momentum != 0          ? StateForm::MomentumBuffer
                                                     : StateForm::None;
  if (std::string problem = optimizerProblem(model, defaults); !problem.empty())
    r.error(optimizerPath, problem);
  model.optimizer = defaults;
  for (std::string_view name : {key::kBatch, key::kEpochs})
    if (const Json *v = findMember(t, name)) {
      int64_t n = r.integer(*v, path(train, name));
      if (n < 1)
        r.error(path(train, name), "must be at least 1, got " + std::to_string(n));
      (name == key::kBatch ? desc.batch : desc.epochs) = n;
    }

  // Buffers the runtime fills or reads.
  const std::string labelsPath = path(train, key::kLabels);
  desc.labels =
      r.index(r.member(t, train, key::kLabels), labelsPath, model.buffers.size(), "buffer");
  const BufferDesc &lb = model.buffers[desc.labels];
  if (lb.kind != BufferKind::Labels || lb.shape != std::vector<int64_t>{-1} || lb.viewOf >= 0)
    r.error(labelsPath, "buffer " + std::to_string(desc.labels) + " (kind " +
                            quote(kindName(lb.kind)) + ", shape " + shapeString(lb.shape) +
                            ") must be a " + quote(buffer_kind::kLabels) + " buffer of shape [-1]");
  const std::string hyperPath = path(train, key::kHyper);
  const Json &hyperObject = r.member(t, train, key::kHyper);
  if (!hyperObject.is_object())
    r.error(hyperPath, "expected an object");
  std::set<int> hyperBuffers;
  for (const auto &member : hyperObject.items()) {
    const std::string &name = member.key();
    const std::pair<std::string_view, int *> slots[] = {
        {hyper::kLr, &desc.lrBuffer},
        {hyper::kStep, &desc.stepBuffer},
        {hyper::kSeed, &desc.seedBuffer},
        {hyper::kOptimizer, &desc.optimizerBuffer},
        {hyper::kWeightDecay, &desc.weightDecayBuffer},
        {hyper::kMomentum, &desc.momentumBuffer},
        {hyper::kDampening, &desc.dampeningBuffer},
        {hyper::kNesterov, &desc.nesterovBuffer},
        {hyper::kBeta1, &desc.beta1Buffer},
        {hyper::kBeta2, &desc.beta2Buffer},
        {hyper::kEpsilon, &desc.epsilonBuffer},
        {hyper::kLabelSmoothing, &desc.labelSmoothingBuffer},
        {hyper::kClipGradNorm, &desc.clipGradNormBuffer}};
    int *slot = nullptr;
    for (auto [known, buffer] : slots)
      if (name == known)
        slot = buffer;
    if (!slot)
      r.error(hyperPath,
              "unknown hyper-parameter " + quote(name) + " (expected " + oneOf(hyper::kAll) + ")");
    *slot = scalarBuffer(r, member.value(), path(hyperPath, name), model, {BufferKind::Hyper});
    hyperBuffers.insert(*slot);
  }
  // The defaults of label smoothing and clipping, each with its buffer.
  auto setting = [&](std::string_view name, int buffer, double max, const char *range,
                     double &out) {
    const Json *v = findMember(t, name);
    std::string where = path(train, name);
    if (!v) {
      if (buffer >= 0)
        r.error(where, "missing (the step reads the hyper-parameter " + quote(name) + ")");
      return;
    }
    if (buffer < 0)
      r.error(where, "given without a " + quote(name) + " entry in " + hyperPath);
    out = r.number(*v, where);
    if (!(out >= 0 && out < max))
      r.error(where, std::string("must be in ") + range + ", got " + std::to_string(out));
  };
  setting(key::kLabelSmoothing, desc.labelSmoothingBuffer, 1, "[0, 1)", desc.labelSmoothing);
  setting(key::kClipGradNorm, desc.clipGradNormBuffer, HUGE_VAL, "[0, inf)", desc.clipGradNorm);
  model.labelSmoothing = float(desc.labelSmoothing);
  model.clipGradNorm = float(desc.clipGradNorm);
  std::vector<BufferKind> resultKinds = {BufferKind::Temp, BufferKind::Output};
  desc.lossBuffer = scalarBuffer(r, r.member(t, train, key::kLossBuffer),
                                 path(train, key::kLossBuffer), model, resultKinds);
  desc.correctBuffer = scalarBuffer(r, r.member(t, train, key::kCorrectBuffer),
                                    path(train, key::kCorrectBuffer), model, resultKinds);

  // Optimizer state, named apart from the parameters.
  parseTensors(r, t, key::kState, BufferKind::State, model.buffers, desc.state, train);
  for (const TensorDesc &s : desc.state)
    if (findParameter(model, s.name) >= 0)
      r.error(path(train, key::kState),
              std::string(key::kState) + " " + quote(s.name) + " has the name of a parameter");

  // Initialization: exactly one entry per parameter.
  const std::string initPath = path(train, key::kInit);
  const Json &initList = r.array(t, train, key::kInit);
  desc.init.assign(model.parameters.size(), InitDesc());
  std::vector<bool> seen(model.parameters.size(), false);
  for (size_t i = 0; i < initList.size(); ++i) {
    std::string where = element(initPath, i);
    const Json &e = initList[i];
    if (!e.is_object())
      r.error(where, "expected an object");
    std::string name = r.string(e, where, key::kName);
    int p = findParameter(model, name);
    if (p < 0)
      r.error(where, "no parameter named " + quote(name));
    if (seen[p])
      r.error(where, "parameter " + quote(name) + " is initialized twice");
    seen[p] = true;
    InitDesc d;
    d.parameter = p;
    std::string kind = r.string(e, where, key::kKind);
    if (kind == init::kUniform) {
      d.uniform = true;
      d.bound = r.number(r.member(e, where, key::kBound), path(where, key::kBound));
      if (!(d.bound >= 0) || d.bound > 1e30)
        r.error(path(where, key::kBound), "must be a finite non-negative number");
    } else if (kind == init::kConstant) {
      d.uniform = false;
      d.value = r.number(r.member(e, where, key::kValue), path(where, key::kValue));
    } else {
      r.error(path(where, key::kKind),
              "unknown kind " + quote(kind) + " (expected " + oneOf(init::kAll) + ")");
    }
    desc.init[p] = d;
  }
  for (size_t p = 0; p < seen.size(); ++p)
    if (!seen[p])
      r.error(initPath, "no entry for parameter " + quote(model.parameters[p].name));

  parseCalls(r, t, key::kSteps, /*optional=*/false, model, desc.steps, train);
  parseCalls(r, t, key::kEvalSteps, /*optional=*/false, model, desc.evalSteps, train);
  checkCallOutputs(r, model, desc.steps, key::kSteps, /*allowNext=*/true);
  checkCallOutputs(r, model, desc.evalSteps, key::kEvalSteps, /*allowNext=*/false);

  // Swaps: [param or state, next], same shape, each buffer in at most one pair.
  const std::string swapsPath = path(train, key::kSwaps);
  const Json &swaps = r.array(t, train, key::kSwaps);
  std::vector<bool> swapped(model.buffers.size(), false);
  for (size_t i = 0; i < swaps.size(); ++i) {
    std::string where = element(swapsPath, i);
    const Json &pair = swaps[i];
    if (!pair.is_array() || pair.size() != 2)
      r.error(where, "expected a pair [current, next]");
    int a = r.index(pair[0], element(where, 0), model.buffers.size(), "buffer");
    int b = r.index(pair[1], element(where, 1), model.buffers.size(), "buffer");
    const BufferDesc &da = model.buffers[a], &db = model.buffers[b];
    if (da.kind != BufferKind::Param && da.kind != BufferKind::State)
      r.error(where, "buffer " + std::to_string(a) + " has kind " + quote(kindName(da.kind)) +
                         ", expected " +
                         oneOf(std::array{buffer_kind::kParam, buffer_kind::kState}));
    if (db.kind != BufferKind::Next)
      r.error(where, "buffer " + std::to_string(b) + " has kind " + quote(kindName(db.kind)) +
                         ", expected " + quote(buffer_kind::kNext));
    if (da.shape != db.shape)
      r.error(where,
              "shapes " + shapeString(da.shape) + " and " + shapeString(db.shape) + " differ");
    for (int x : {a, b}) {
      if (swapped[x])
        r.error(where, "buffer " + std::to_string(x) + " is in more than one swap");
      swapped[x] = true;
    }
    desc.swaps.push_back({a, b});
  }
  const std::string buffers = std::string(key::kBuffers);
  for (size_t i = 0; i < model.buffers.size(); ++i) {
    const BufferDesc &d = model.buffers[i];
    if (d.kind == BufferKind::Next && (!swapped[i] || d.viewOf >= 0))
      r.error(element(buffers, i), "a " + quote(buffer_kind::kNext) +
                                       " buffer must be a root buffer in exactly one swap");
    if (d.kind == BufferKind::Hyper && !hyperBuffers.count(int(i)))
      r.error(element(buffers, i), "no entry of " + hyperPath + " refers to this buffer");
    if (d.kind == BufferKind::Labels && int(i) != desc.labels)
      r.error(element(buffers, i), "a second " + std::string(buffer_kind::kLabels) + " buffer");
    if (d.kind == BufferKind::State) {
      bool named = false;
      for (const TensorDesc &s : desc.state)
        named |= s.buffer == int(i);
      if (!named)
        r.error(element(buffers, i),
                "no entry of the " + path(train, key::kState) + " list refers to this buffer");
    }
  }
}

} // namespace

void parseMetadata(cnnc_model &model, const std::string &json) {
  MetadataReader r(model.path);
  Json root = parseJson(json, "metadata in '" + model.path + "'");
  if (!root.is_object())
    r.error("top level", std::string("expected an object, found ") + root.type_name());
  if (const Json *v = findMember(root, key::kAbiVersion)) {
    int64_t version = r.integer(*v, std::string(key::kAbiVersion));
    if (version != schema::kAbiVersion)
      fail(CNNC_ERROR_ABI, "model '" + model.path + "' metadata has ABI version " +
                               std::to_string(version) + ", this runtime supports version " +
                               std::to_string(schema::kAbiVersion));
  }
  if (const Json *v = findMember(root, key::kName); v && v->is_string())
    model.name = v->get<std::string>();
  if (const Json *v = findMember(root, key::kTarget); v && v->is_string())
    model.target = v->get<std::string>();
  if (const Json *v = findMember(root, key::kDeviceApi); v && !v->is_null()) {
    namespace device_api = schema::device_api;
    if (!v->is_string() || std::find(device_api::kAll.begin(), device_api::kAll.end(),
                                     v->get<std::string>()) == device_api::kAll.end())
      r.error(std::string(key::kDeviceApi), "expected " + oneOf(device_api::kAll));
    model.deviceApi = v->get<std::string>();
  }

  // Buffers first: everything else refers to them.
  const std::string buffersPath = std::string(key::kBuffers);
  const Json &buffers = r.array(root, "", key::kBuffers);
  for (size_t i = 0; i < buffers.size(); ++i) {
    std::string where = element(buffersPath, i);
    const Json &b = buffers[i];
    if (!b.is_object())
      r.error(where, "expected an object");
    BufferDesc d;
    d.shape = r.shape(b, where);
    d.kind = r.bufferKind(b, where);
    for (size_t k = 0; k < d.shape.size(); ++k) {
      if (d.shape[k] == -1) {
        d.batchDim = int(k);
        continue;
      }
      if (d.itemCount > std::numeric_limits<int32_t>::max() / d.shape[k])
        r.error(path(where, key::kShape), "too many elements");
      d.itemCount *= d.shape[k];
    }
    if (const Json *v = findMember(b, key::kViewOf); v && !v->is_null())
      d.viewOf = r.index(*v, path(where, key::kViewOf), buffers.size(), "buffer");
    if (d.viewOf == int(i))
      r.error(path(where, key::kViewOf), "a buffer cannot be a view of itself");
    model.buffers.push_back(std::move(d));
  }
  // Resolve view chains to their root, rejecting cycles and size mismatches.
  for (size_t i = 0; i < model.buffers.size(); ++i) {
    int b = int(i);
    for (size_t hops = 0; model.buffers[b].viewOf >= 0; ++hops) {
      if (hops > model.buffers.size())
        r.error(path(element(buffersPath, i), key::kViewOf), "cycle of views");
      b = model.buffers[b].viewOf;
    }
    BufferDesc &d = model.buffers[i];
    d.root = b;
    const BufferDesc &root = model.buffers[b];
    if (root.itemCount != d.itemCount || (root.batchDim >= 0) != (d.batchDim >= 0))
      r.error(path(element(buffersPath, i), key::kViewOf),
              "shape " + shapeString(d.shape) + " has a different element count than " +
                  shapeString(root.shape) + " of buffer " + std::to_string(b));
  }

  parseTensors(r, root, key::kInputs, BufferKind::Input, model.buffers, model.inputs);
  parseTensors(r, root, key::kOutputs, BufferKind::Output, model.buffers, model.outputs);
  parseTensors(r, root, key::kParameters, BufferKind::Param, model.buffers, model.parameters);
  parseCalls(r, root, key::kPrepare, /*optional=*/true, model, model.prepare);
  parseCalls(r, root, key::kSteps, /*optional=*/false, model, model.steps);

  // Training first: its loss and correct buffers may be unnamed outputs.
  if (const Json *t = findMember(root, key::kTrain); t && !t->is_null()) {
    parseTrain(r, *t, model);
  } else {
    for (size_t i = 0; i < model.buffers.size(); ++i) {
      BufferKind k = model.buffers[i].kind;
      if (k == BufferKind::State || k == BufferKind::Hyper || k == BufferKind::Labels ||
          k == BufferKind::Next)
        r.error(element(buffersPath, i),
                "kind " + quote(kindName(k)) + " needs a " + quote(key::kTrain) + " object");
    }
  }

  // Every input, param and output buffer must be named, or nobody could fill or read it.
  for (size_t i = 0; i < model.buffers.size(); ++i) {
    BufferKind k = model.buffers[i].kind;
    const std::vector<TensorDesc> *list = k == BufferKind::Input    ? &model.inputs
                                          : k == BufferKind::Output ? &model.outputs
                                          : k == BufferKind::Param  ? &model.parameters
                                                                    : nullptr;
    if (!list || int(i) == model.train.lossBuffer || int(i) == model.train.correctBuffer)
      continue;
    bool named = false;
    for (const TensorDesc &t : *list)
      named |= t.buffer == int(i);
    if (!named)
      r.error(element(buffersPath, i),
              "no entry of the " + std::string(kindName(k)) + " list refers to this buffer");
  }
  // Calls made before inference must not touch batched buffers.
  for (const CallDesc &c : model.prepare)
    for (int a : c.args)
      if (model.buffers[a].batchDim >= 0)
        r.error(std::string(key::kPrepare) + " " + quote(c.name),
                "uses batched buffer " + std::to_string(a));
}

} // namespace cnnc::rt

namespace {

/// Fails (CNNC_ERROR_DEVICE) if the model's target has x86 features this
/// machine lacks: its code would die with SIGILL.
void checkHostCpu(const std::string &path, const std::string &target) {
  std::vector<MissingCpuFeature> missing = missingCpuFeatures(target, hostHasCpuExtension);
  if (missing.empty())
    return;
  fail(CNNC_ERROR_DEVICE, "model '" + path +
                              "' was compiled for CPU features this machine lacks: " +
                              describeMissing(missing) + " (its target is " + target +
                              "); compile it with a --target this machine supports, such as "
                              "--target=host on this machine");
}

/// The loaded models of each library handle (dlopen gives a library loaded
/// twice the same handle, and one Halide runtime): the last one to go
/// releases the device state of that runtime (context, cached memory).
std::mutex libraryUsersMutex;
std::map<void *, int> libraryUsers;
/// The libraries whose Halide runtime has the runtime's handlers installed.
std::set<void *> connectedLibraries;

void addLibraryUser(void *library) {
  std::lock_guard<std::mutex> lock(libraryUsersMutex);
  ++libraryUsers[library];
}

/// True if the caller was the library's last user.
bool removeLibraryUser(void *library) {
  std::lock_guard<std::mutex> lock(libraryUsersMutex);
  if (--libraryUsers[library] > 0)
    return false;
  libraryUsers.erase(library);
  connectedLibraries.erase(library);
  return true;
}

/// Installs the runtime's handlers into the model's Halide runtime and, for
/// a GPU model, checks its driver and finds its device interface.
void connectHalideRuntime(cnnc_model &model) {
  if (model.desc->halide)
    model.halide = *model.desc->halide;
  {
    // Once per loaded library, under the lock: loading a second model of it
    // must not rewrite what the kernels of the first read while they run.
    std::lock_guard<std::mutex> lock(libraryUsersMutex);
    if (connectedLibraries.insert(model.library).second) {
      // Halide's default error handler aborts the process; route kernel errors
      // (e.g. a buffer too small) into the failing call's status instead.
      if (model.halide.set_error_handler)
        model.halide.set_error_handler(&recordKernelError);
      // Scratch memory of the kernels is recycled instead of mmapped per call.
      if (model.halide.set_custom_malloc && model.halide.set_custom_free) {
        model.halide.set_custom_malloc(&scratchMalloc);
        model.halide.set_custom_free(&scratchFree);
      }
    }
  }
  if (model.deviceApi.empty())
    return;
  const cnnc_halide_runtime &h = model.halide;
  if (!h.copy_to_host || !h.copy_to_device || !h.device_malloc || !h.device_free ||
      !h.device_sync || !h.device_release || !h.device_interface || !h.reuse_device_allocations)
    fail(CNNC_ERROR_ABI, "model '" + model.path + "' targets " + model.deviceApi +
                             " but its descriptor lacks the Halide device entry points");
  // Halide 14's CUDA runtime loads kernels allowing 64 registers per thread
  // unless told otherwise; register-blocked kernels need more.
  if (model.deviceApi == cnnc::schema::device_api::kCuda)
    setenv("HL_CUDA_JIT_MAX_REGISTERS", "128", /*overwrite=*/0);
  deviceDriverCheck(model.deviceApi);
  model.deviceInterface = h.device_interface();
  if (!model.deviceInterface)
    fail(CNNC_ERROR_ABI,
         "model '" + model.path + "' has no " + model.deviceApi + " device interface");
  // Kernel-internal device buffers are recycled between calls (CUDA).
  h.reuse_device_allocations(nullptr, true);
}

} // namespace

cnnc_model::~cnnc_model() {
  // Release device memory while the library (and its Halide runtime) is loaded.
  if (onDevice())
    for (size_t i = 0; i < buffers.size() && i < halideBuffers.size(); ++i)
      if (buffers[i].root == int(i))
        freeDeviceMemory(*this, int(i));
  halideBuffers.clear();
  if (!library)
    return;
  if (removeLibraryUser(library) && onDevice())
    halide.device_release(nullptr, deviceInterface);
  dlclose(library);
  releaseScratch();
}

extern "C" cnnc_status cnnc_model_load(const char *path, cnnc_model **out_model) {
  return guard([&] {
    if (!out_model)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_load: out_model is null");
    *out_model = nullptr;
    if (!path || !*path)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_load: empty path");
    std::string p = path;
    struct stat st;
    if (stat(path, &st) != 0)
      fail(CNNC_ERROR_IO, "cannot open model '" + p + "': " + std::strerror(errno));
    if (S_ISDIR(st.st_mode))
      fail(CNNC_ERROR_IO, "cannot open model '" + p + "': is a directory");

    auto model = std::make_unique<cnnc_model>();
    model->path = p;
    // dlopen searches the library path for names without '/': load the file named.
    std::string openPath = p.find('/') == std::string::npos ? "./" + p : p;
    const std::string entryPoint(cnnc::schema::kEntryPoint);
    // Before dlopen maps the file and runs its constructors: a complete ELF
    // shared object that exports the entry point, compiled for CPU features
    // this machine has.
    std::optional<std::string> section =
        checkModelLibraryFile(p, openPath, entryPoint, std::string(cnnc::schema::kMetadataSection));
    if (section) {
      Json metadata = parseJson(*section, "metadata in '" + p + "'");
      if (const Json *t = findMember(metadata, cnnc::schema::key::kTarget); t && t->is_string())
        checkHostCpu(p, t->get<std::string>());
    }
    dlerror();
    model->library = dlopen(openPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!model->library) {
      const char *why = dlerror();
      fail(CNNC_ERROR_FORMAT, "cannot load model '" + p + "': not a loadable shared library (" +
                                  (why ? why : "unknown dlopen error") + ")");
    }
    addLibraryUser(model->library);
    dlerror();
    void *entry = dlsym(model->library, entryPoint.c_str());
    if (!entry)
      fail(CNNC_ERROR_ABI,
           "model '" + p + "' does not export " + entryPoint + " (not a library built by cnnc?)");
    auto fn = reinterpret_cast<const cnnc_model_desc *(*)(void)>(entry);
    model->desc = fn();
    if (!model->desc)
      fail(CNNC_ERROR_ABI, "model '" + p + "': " + entryPoint + " returned null");
    if (model->desc->abi_version != cnnc::schema::kAbiVersion)
      fail(CNNC_ERROR_ABI,
           "model '" + p + "' has ABI version " + std::to_string(model->desc->abi_version) +
               ", this runtime supports version " + std::to_string(cnnc::schema::kAbiVersion) +
               " (rebuild the model with a matching cnnc)");
    if (!model->desc->metadata_json)
      fail(CNNC_ERROR_FORMAT, "malformed metadata in '" + p + "': metadata_json is null");
    if (model->desc->num_kernels > 0 && !model->desc->kernels)
      fail(CNNC_ERROR_FORMAT, "malformed metadata in '" + p + "': kernel table is null");
    if (model->desc->num_kernels > 0 && !model->desc->kernel_metadata)
      fail(CNNC_ERROR_FORMAT, "malformed metadata in '" + p + "': kernel metadata table is null");
    parseMetadata(*model, model->desc->metadata_json);
    checkHostCpu(p, model->target);
    connectHalideRuntime(*model);
    initBuffers(*model);
    loadDefaultParameters(*model);
    *out_model = model.release();
  });
}

extern "C" void cnnc_model_free(cnnc_model *model) { releaseModel(model); }

extern "C" const char *cnnc_model_name(const cnnc_model *model) {
  return model ? model->name.c_str() : "";
}

extern "C" const char *cnnc_model_target(const cnnc_model *model) {
  return model ? model->target.c_str() : "";
}

extern "C" const char *cnnc_model_device_api(const cnnc_model *model) {
  return model ? model->deviceApi.c_str() : "";
}

static const std::vector<TensorDesc> *tensorList(const cnnc_model *model, cnnc_tensor_role role) {
  if (!model)
    return nullptr;
  switch (role) {
  case CNNC_ROLE_INPUT:
    return &model->inputs;
  case CNNC_ROLE_OUTPUT:
    return &model->outputs;
  case CNNC_ROLE_PARAMETER:
    return &model->parameters;
  case CNNC_ROLE_STATE:
    return &model->train.state;
  }
  return nullptr;
}

extern "C" size_t cnnc_model_num_tensors(const cnnc_model *model, cnnc_tensor_role role) {
  const std::vector<TensorDesc> *list = tensorList(model, role);
  return list ? list->size() : 0;
}

extern "C" cnnc_status cnnc_model_get_tensor_info(const cnnc_model *model, cnnc_tensor_role role,
                                                  size_t index, cnnc_tensor_info *out_info) {
  return guard([&] {
    const std::vector<TensorDesc> *list = tensorList(model, role);
    if (!list || !out_info)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_get_tensor_info: null model, "
                                        "out_info or unknown role");
    if (index >= list->size())
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_get_tensor_info: index " +
                                            std::to_string(index) + " out of range (" +
                                            std::to_string(list->size()) + " tensors)");
    const TensorDesc &t = (*list)[index];
    out_info->name = t.name.c_str();
    out_info->rank = int32_t(t.shape.size());
    out_info->shape = t.shape.data();
    out_info->item_count = t.itemCount;
    out_info->batched = t.batched ? 1 : 0;
  });
}

void cnnc::rt::checkArrayShape(const TensorDesc &t, const char *role, int32_t rank,
                               const int64_t *shape, int64_t *batch) {
  if (rank < 0 || (rank > 0 && !shape))
    fail(CNNC_ERROR_INVALID_ARGUMENT, std::string("the shape given for ") + role + " '" + t.name +
                                          "' is null or has a negative rank");
  std::vector<int64_t> got(shape, shape + rank);
  int64_t b = batch && *batch > 0 ? *batch : -1;
  bool ok = got.size() == t.shape.size();
  for (size_t d = 0; ok && d < got.size(); ++d) {
    if (t.shape[d] != -1) {
      ok = got[d] == t.shape[d];
    } else {
      if (b < 0)
        b = got[d];
      ok = got[d] == b;
    }
  }
  if (!ok) {
    std::string want = "[";
    for (size_t d = 0; d < t.shape.size(); ++d)
      want += (d ? "," : "") + (t.shape[d] != -1 ? std::to_string(t.shape[d])
                                : b > 0          ? std::to_string(b)
                                                 : std::string("N"));
    fail(CNNC_ERROR_INVALID_ARGUMENT,
         std::string(role) + " '" + t.name + "' needs shape " + want + "]" +
             (t.batched && b > 0 ? " for batch " + std::to_string(b) : "") + ", got " +
             shapeString(got));
  }
  if (t.batched && b < 1)
    fail(CNNC_ERROR_INVALID_ARGUMENT, std::string(role) + " '" + t.name +
                                          "' needs at least one batch item, got shape " +
                                          shapeString(got));
  if (t.batched && batch)
    *batch = b;
}

extern "C" cnnc_status cnnc_model_check_shape(const cnnc_model *model, cnnc_tensor_role role,
                                              const char *name, int32_t rank, const int64_t *shape,
                                              int64_t *inout_batch) {
  return guard([&] {
    const std::vector<TensorDesc> *list = tensorList(model, role);
    if (!list || !name)
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "cnnc_model_check_shape: null model or name, or unknown role");
    static const char *const roles[] = {"input", "output", "parameter", "state tensor"};
    for (const TensorDesc &t : *list)
      if (t.name == name) {
        checkArrayShape(t, roles[role], rank, shape, inout_batch);
        return;
      }
    fail(CNNC_ERROR_INVALID_ARGUMENT, std::string("cnnc_model_check_shape: the model has no ") +
                                          roles[role] + " '" + name + "'");
  });
}

extern "C" size_t cnnc_model_num_steps(const cnnc_model *model) {
  return model ? model->steps.size() : 0;
}

extern "C" cnnc_status cnnc_model_get_step_info(const cnnc_model *model, size_t index,
                                                cnnc_step_info *out_info) {
  return guard([&] {
    if (!model || !out_info)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_get_step_info: null model or out_info");
    if (index >= model->steps.size())
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_get_step_info: index " + std::to_string(index) +
                                            " out of range (" +
                                            std::to_string(model->steps.size()) + " steps)");
    out_info->name = model->steps[index].name.c_str();
    out_info->flops = model->steps[index].flops;
  });
}
