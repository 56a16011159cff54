//===- model.cpp - Loading a model.so and reading its metadata ------------===//
//
// cnnc_model_load: dlopens the library (RTLD_NOW | RTLD_LOCAL, so several
// models, each with its own embedded Halide runtime, can be loaded at once),
// finds `cnnc_model_v1`, checks the ABI version and parses and validates the
// metadata JSON (docs/runtime-abi.md), including the optional "train"
// object, into struct cnnc_model. Also the info queries (inputs, outputs,
// parameters, state, steps). Validation is strict:
// every index in the metadata is range-checked here so that execution can
// trust it.
//
//===----------------------------------------------------------------------===//
#include "model.h"
#include "scratch.h"
#include "error.h"
#include "json.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <limits>

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

/// Validation helper: every error names the metadata path that is wrong.
class MetadataReader {
public:
  explicit MetadataReader(const std::string &modelPath) : modelPath(modelPath) {}

  [[noreturn]] void error(const std::string &where, const std::string &msg) const {
    fail(CNNC_ERROR_FORMAT, "malformed metadata in '" + modelPath + "': " + where + ": " + msg);
  }

  const Json &member(const Json &obj, const std::string &where, const char *key) const {
    const Json *v = findMember(obj, key);
    if (!v)
      error(where, std::string("missing \"") + key + "\"");
    return *v;
  }

  const Json &array(const Json &obj, const std::string &where, const char *key) const {
    const Json &v = member(obj, where, key);
    if (!v.is_array())
      error(where + "." + key, std::string("expected an array, found ") + v.type_name());
    return v;
  }

  int64_t integer(const Json &v, const std::string &where) const {
    std::optional<int64_t> i = jsonInteger(v);
    if (!i)
      error(where, "expected an integer");
    return *i;
  }

  std::string string(const Json &obj, const std::string &where, const char *key) const {
    const Json &v = member(obj, where, key);
    if (!v.is_string())
      error(where + "." + key, std::string("expected a string, found ") + v.type_name());
    return v.get<std::string>();
  }

  int index(const Json &v, const std::string &where, size_t limit, const char *what) const {
    int64_t i = integer(v, where);
    if (i < 0 || uint64_t(i) >= limit)
      error(where, std::string(what) + " index " + std::to_string(i) + " out of range [0, " +
                       std::to_string(limit) + ")");
    return int(i);
  }

  std::vector<int64_t> shape(const Json &obj, const std::string &where) const {
    const Json &v = array(obj, where, "shape");
    std::vector<int64_t> shape;
    int batchDims = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      int64_t d = integer(v[i], where + ".shape[" + std::to_string(i) + "]");
      if (d == -1)
        ++batchDims;
      else if (d <= 0)
        error(where + ".shape", "dimension " + std::to_string(d) + " is not positive or -1");
      shape.push_back(d);
    }
    if (batchDims > 1)
      error(where + ".shape", "more than one batch (-1) dimension");
    if (shape.size() > 16)
      error(where + ".shape", "rank " + std::to_string(shape.size()) + " is too large");
    return shape;
  }

  const std::string &modelPath;
};

BufferKind parseKind(const MetadataReader &r, const std::string &where, const std::string &s) {
  if (s == "input")
    return BufferKind::Input;
  if (s == "param")
    return BufferKind::Param;
  if (s == "derived")
    return BufferKind::Derived;
  if (s == "temp")
    return BufferKind::Temp;
  if (s == "output")
    return BufferKind::Output;
  if (s == "state")
    return BufferKind::State;
  if (s == "hyper")
    return BufferKind::Hyper;
  if (s == "labels")
    return BufferKind::Labels;
  if (s == "next")
    return BufferKind::Next;
  r.error(where + ".kind", "unknown kind \"" + s + "\"");
}

const char *kindName(BufferKind k) {
  switch (k) {
  case BufferKind::Input:
    return "input";
  case BufferKind::Param:
    return "param";
  case BufferKind::Derived:
    return "derived";
  case BufferKind::Temp:
    return "temp";
  case BufferKind::Output:
    return "output";
  case BufferKind::State:
    return "state";
  case BufferKind::Hyper:
    return "hyper";
  case BufferKind::Labels:
    return "labels";
  case BufferKind::Next:
    return "next";
  }
  return "?";
}

void parseTensors(const MetadataReader &r, const Json &root, const char *key, BufferKind kind,
                  const std::vector<BufferDesc> &buffers, std::vector<TensorDesc> &out,
                  const std::string &prefix = "") {
  const Json &list = r.array(root, prefix, key);
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = prefix + (prefix.empty() ? "" : ".") + key + "[" + std::to_string(i) + "]";
    const Json &t = list[i];
    if (!t.is_object())
      r.error(where, "expected an object");
    TensorDesc d;
    d.name = r.string(t, where, "name");
    d.shape = r.shape(t, where);
    if (const Json *layout = findMember(t, "layout"); layout && layout->is_string())
      d.layout = layout->get<std::string>();
    d.buffer = r.index(r.member(t, where, "buffer"), where + ".buffer", buffers.size(), "buffer");
    const BufferDesc &b = buffers[d.buffer];
    if (b.kind != kind)
      r.error(where, "buffer " + std::to_string(d.buffer) + " has kind \"" + kindName(b.kind) +
                         "\", expected \"" + kindName(kind) + "\"");
    if (b.shape != d.shape)
      r.error(where, "shape " + shapeString(d.shape) + " differs from its buffer's " +
                         shapeString(b.shape));
    // Inputs, parameters and state own their storage; an output may be a view
    // (a final flatten), which the runtime copies out.
    if (b.viewOf >= 0 && kind != BufferKind::Output)
      r.error(where, "an " + std::string(kindName(kind)) + " buffer cannot be a view");
    if ((kind == BufferKind::Param || kind == BufferKind::State) && b.batchDim >= 0)
      r.error(where,
              std::string("a ") + kindName(kind) + " buffer cannot have a batch (-1) dimension");
    for (const TensorDesc &prev : out)
      if (prev.name == d.name)
        r.error(where, "duplicate name \"" + d.name + "\"");
    d.itemCount = b.itemCount;
    d.batched = b.batchDim >= 0;
    out.push_back(std::move(d));
  }
}

void parseCalls(const MetadataReader &r, const Json &root, const char *key, bool optional,
                const cnnc_model &model, std::vector<CallDesc> &out,
                const std::string &prefix = "") {
  if (optional && !findMember(root, key))
    return;
  const Json &list = r.array(root, prefix, key);
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = prefix + (prefix.empty() ? "" : ".") + key + "[" + std::to_string(i) + "]";
    const Json &c = list[i];
    if (!c.is_object())
      r.error(where, "expected an object");
    CallDesc d;
    d.name = r.string(c, where, "name");
    d.kernel =
        r.index(r.member(c, where, "kernel"), where + ".kernel", model.desc->num_kernels, "kernel");
    if (!model.desc->kernels || !model.desc->kernels[d.kernel])
      r.error(where + ".kernel", "kernel " + std::to_string(d.kernel) + " is null");
    const Json &args = r.array(c, where, "args");
    if (args.empty())
      r.error(where + ".args", "no arguments");
    for (size_t j = 0; j < args.size(); ++j)
      d.args.push_back(r.index(args[j], where + ".args[" + std::to_string(j) + "]",
                               model.buffers.size(), "buffer"));
    if (const Json *flops = findMember(c, "flops")) {
      d.flops = r.integer(*flops, where + ".flops");
      if (d.flops < 0)
        r.error(where + ".flops", "negative");
    }
    out.push_back(std::move(d));
  }
}

/// A number member of the optimizer or train object (any JSON number).
double number(const MetadataReader &r, const Json &v, const std::string &where) {
  if (!v.is_number())
    r.error(where, std::string("expected a number, found ") + v.type_name());
  return v.get<double>();
}

/// An index of a buffer of `kind` with one element and no batch dimension.
int scalarBuffer(const MetadataReader &r, const Json &v, const std::string &where,
                 const cnnc_model &model, const std::vector<BufferKind> &kinds) {
  int b = r.index(v, where, model.buffers.size(), "buffer");
  const BufferDesc &d = model.buffers[b];
  bool kindOk = false;
  std::string expected;
  for (BufferKind k : kinds) {
    kindOk |= d.kind == k;
    expected += std::string(expected.empty() ? "" : " or ") + "\"" + kindName(k) + "\"";
  }
  if (!kindOk)
    r.error(where, "buffer " + std::to_string(b) + " has kind \"" + kindName(d.kind) +
                       "\", expected " + expected);
  if (d.batchDim >= 0 || d.itemCount != 1)
    r.error(where, "buffer " + std::to_string(b) + " has shape " + shapeString(d.shape) +
                       ", expected one element ([1])");
  return b;
}

/// The last argument of each call is its output: it must not be a buffer the
/// runtime or the caller owns the value of.
void checkCallOutputs(const MetadataReader &r, const cnnc_model &model,
                      const std::vector<CallDesc> &calls, const char *what, bool allowNext) {
  for (const CallDesc &c : calls) {
    BufferKind k = model.buffers[model.buffers[c.args.back()].root].kind;
    if (k == BufferKind::Input || k == BufferKind::Param || k == BufferKind::State ||
        k == BufferKind::Hyper || k == BufferKind::Labels || (k == BufferKind::Next && !allowNext))
      r.error(std::string("train.") + what + " \"" + c.name + "\"",
              std::string("writes buffer ") + std::to_string(c.args.back()) + " of kind \"" +
                  kindName(k) + "\"" +
                  (k == BufferKind::Param || k == BufferKind::State
                       ? " (updates go to a \"next\" buffer and a swap)"
                       : ""));
  }
}

void parseTrain(const MetadataReader &r, const Json &t, cnnc_model &model) {
  TrainDesc &train = model.train;
  if (!t.is_object())
    r.error("train", std::string("expected an object, found ") + t.type_name());
  train.present = true;
  train.loss = r.string(t, "train", "loss");
  const Json &opt = r.member(t, "train", "optimizer");
  if (!opt.is_object())
    r.error("train.optimizer", "expected an object");
  train.optimizer = r.string(opt, "train.optimizer", "name");
  if (train.optimizer != "sgd" && train.optimizer != "adam")
    r.error("train.optimizer.name",
            "unknown optimizer \"" + train.optimizer + "\" (expected \"sgd\" or \"adam\")");
  train.lr = number(r, r.member(opt, "train.optimizer", "lr"), "train.optimizer.lr");
  if (!(train.lr >= 0))
    r.error("train.optimizer.lr", "negative or not a number");
  for (const char *key : {"batch", "epochs"})
    if (const Json *v = findMember(t, key)) {
      int64_t n = r.integer(*v, std::string("train.") + key);
      if (n < 1)
        r.error(std::string("train.") + key, "must be at least 1, got " + std::to_string(n));
      (std::string(key) == "batch" ? train.batch : train.epochs) = n;
    }

  // Buffers the runtime fills or reads.
  train.labels =
      r.index(r.member(t, "train", "labels"), "train.labels", model.buffers.size(), "buffer");
  const BufferDesc &lb = model.buffers[train.labels];
  if (lb.kind != BufferKind::Labels || lb.shape != std::vector<int64_t>{-1} || lb.viewOf >= 0)
    r.error("train.labels", "buffer " + std::to_string(train.labels) + " (kind \"" +
                                kindName(lb.kind) + "\", shape " + shapeString(lb.shape) +
                                ") must be a \"labels\" buffer of shape [-1]");
  const Json &hyper = r.member(t, "train", "hyper");
  if (!hyper.is_object())
    r.error("train.hyper", "expected an object");
  for (const auto &member : hyper.items()) {
    const std::string &key = member.key();
    int *slot = key == "lr"     ? &train.lrBuffer
                : key == "step" ? &train.stepBuffer
                : key == "seed" ? &train.seedBuffer
                                : nullptr;
    if (!slot)
      r.error("train.hyper",
              "unknown hyper-parameter \"" + key + "\" (expected \"lr\", \"step\" or \"seed\")");
    *slot = scalarBuffer(r, member.value(), "train.hyper." + key, model, {BufferKind::Hyper});
  }
  std::vector<BufferKind> resultKinds = {BufferKind::Temp, BufferKind::Output};
  train.lossBuffer =
      scalarBuffer(r, r.member(t, "train", "loss_buffer"), "train.loss_buffer", model, resultKinds);
  train.correctBuffer = scalarBuffer(r, r.member(t, "train", "correct_buffer"),
                                     "train.correct_buffer", model, resultKinds);

  // Optimizer state, named apart from the parameters.
  parseTensors(r, t, "state", BufferKind::State, model.buffers, train.state, "train");
  for (const TensorDesc &s : train.state)
    if (findParameter(model, s.name) >= 0)
      r.error("train.state", "state \"" + s.name + "\" has the name of a parameter");

  // Initialization: exactly one entry per parameter.
  const Json &init = r.array(t, "train", "init");
  train.init.assign(model.parameters.size(), InitDesc());
  std::vector<bool> seen(model.parameters.size(), false);
  for (size_t i = 0; i < init.size(); ++i) {
    std::string where = "train.init[" + std::to_string(i) + "]";
    const Json &e = init[i];
    if (!e.is_object())
      r.error(where, "expected an object");
    std::string name = r.string(e, where, "name");
    int p = findParameter(model, name);
    if (p < 0)
      r.error(where, "no parameter named \"" + name + "\"");
    if (seen[p])
      r.error(where, "parameter \"" + name + "\" is initialized twice");
    seen[p] = true;
    InitDesc d;
    d.parameter = p;
    std::string kind = r.string(e, where, "kind");
    if (kind == "uniform") {
      d.uniform = true;
      d.bound = number(r, r.member(e, where, "bound"), where + ".bound");
      if (!(d.bound >= 0) || d.bound > 1e30)
        r.error(where + ".bound", "must be a finite non-negative number");
    } else if (kind == "constant") {
      d.uniform = false;
      d.value = number(r, r.member(e, where, "value"), where + ".value");
    } else {
      r.error(where + ".kind",
              "unknown kind \"" + kind + "\" (expected \"uniform\" or \"constant\")");
    }
    train.init[p] = d;
  }
  for (size_t p = 0; p < seen.size(); ++p)
    if (!seen[p])
      r.error("train.init", "no entry for parameter \"" + model.parameters[p].name + "\"");

  parseCalls(r, t, "steps", /*optional=*/false, model, train.steps, "train");
  parseCalls(r, t, "eval_steps", /*optional=*/false, model, train.evalSteps, "train");
  checkCallOutputs(r, model, train.steps, "steps", /*allowNext=*/true);
  checkCallOutputs(r, model, train.evalSteps, "eval_steps", /*allowNext=*/false);

  // Swaps: [param or state, next], same shape, each buffer in at most one pair.
  const Json &swaps = r.array(t, "train", "swaps");
  std::vector<bool> swapped(model.buffers.size(), false);
  for (size_t i = 0; i < swaps.size(); ++i) {
    std::string where = "train.swaps[" + std::to_string(i) + "]";
    const Json &pair = swaps[i];
    if (!pair.is_array() || pair.size() != 2)
      r.error(where, "expected a pair [current, next]");
    int a = r.index(pair[0], where + "[0]", model.buffers.size(), "buffer");
    int b = r.index(pair[1], where + "[1]", model.buffers.size(), "buffer");
    const BufferDesc &da = model.buffers[a], &db = model.buffers[b];
    if (da.kind != BufferKind::Param && da.kind != BufferKind::State)
      r.error(where, "buffer " + std::to_string(a) + " has kind \"" + kindName(da.kind) +
                         "\", expected \"param\" or \"state\"");
    if (db.kind != BufferKind::Next)
      r.error(where, "buffer " + std::to_string(b) + " has kind \"" + kindName(db.kind) +
                         "\", expected \"next\"");
    if (da.shape != db.shape)
      r.error(where,
              "shapes " + shapeString(da.shape) + " and " + shapeString(db.shape) + " differ");
    for (int x : {a, b}) {
      if (swapped[x])
        r.error(where, "buffer " + std::to_string(x) + " is in more than one swap");
      swapped[x] = true;
    }
    train.swaps.push_back({a, b});
  }
  for (size_t i = 0; i < model.buffers.size(); ++i) {
    const BufferDesc &d = model.buffers[i];
    if (d.kind == BufferKind::Next && (!swapped[i] || d.viewOf >= 0))
      r.error("buffers[" + std::to_string(i) + "]",
              "a \"next\" buffer must be a root buffer in exactly one swap");
    if (d.kind == BufferKind::Hyper && int(i) != train.lrBuffer && int(i) != train.stepBuffer &&
        int(i) != train.seedBuffer)
      r.error("buffers[" + std::to_string(i) + "]",
              "no entry of train.hyper refers to this buffer");
    if (d.kind == BufferKind::Labels && int(i) != train.labels)
      r.error("buffers[" + std::to_string(i) + "]", "a second labels buffer");
    if (d.kind == BufferKind::State) {
      bool named = false;
      for (const TensorDesc &s : train.state)
        named |= s.buffer == int(i);
      if (!named)
        r.error("buffers[" + std::to_string(i) + "]",
                "no entry of the train.state list refers to this buffer");
    }
  }
}

} // namespace

void parseMetadata(cnnc_model &model, const std::string &json) {
  MetadataReader r(model.path);
  Json root = parseJson(json, "metadata in '" + model.path + "'");
  if (!root.is_object())
    r.error("top level", std::string("expected an object, found ") + root.type_name());
  if (const Json *v = findMember(root, "abi_version")) {
    int64_t version = r.integer(*v, "abi_version");
    if (version != CNNC_MODEL_ABI_VERSION)
      fail(CNNC_ERROR_ABI, "model '" + model.path + "' metadata has ABI version " +
                               std::to_string(version) + ", this runtime supports version " +
                               std::to_string(CNNC_MODEL_ABI_VERSION));
  }
  if (const Json *v = findMember(root, "name"); v && v->is_string())
    model.name = v->get<std::string>();
  if (const Json *v = findMember(root, "target"); v && v->is_string())
    model.target = v->get<std::string>();

  // Buffers first: everything else refers to them.
  const Json &buffers = r.array(root, "", "buffers");
  for (size_t i = 0; i < buffers.size(); ++i) {
    std::string where = "buffers[" + std::to_string(i) + "]";
    const Json &b = buffers[i];
    if (!b.is_object())
      r.error(where, "expected an object");
    BufferDesc d;
    d.shape = r.shape(b, where);
    d.kind = parseKind(r, where, r.string(b, where, "kind"));
    for (size_t k = 0; k < d.shape.size(); ++k) {
      if (d.shape[k] == -1) {
        d.batchDim = int(k);
        continue;
      }
      if (d.itemCount > std::numeric_limits<int32_t>::max() / d.shape[k])
        r.error(where + ".shape", "too many elements");
      d.itemCount *= d.shape[k];
    }
    if (const Json *v = findMember(b, "view_of"); v && !v->is_null())
      d.viewOf = r.index(*v, where + ".view_of", buffers.size(), "buffer");
    if (d.viewOf == int(i))
      r.error(where + ".view_of", "a buffer cannot be a view of itself");
    model.buffers.push_back(std::move(d));
  }
  // Resolve view chains to their root, rejecting cycles and size mismatches.
  for (size_t i = 0; i < model.buffers.size(); ++i) {
    int b = int(i);
    for (size_t hops = 0; model.buffers[b].viewOf >= 0; ++hops) {
      if (hops > model.buffers.size())
        r.error("buffers[" + std::to_string(i) + "].view_of", "cycle of views");
      b = model.buffers[b].viewOf;
    }
    BufferDesc &d = model.buffers[i];
    d.root = b;
    const BufferDesc &root = model.buffers[b];
    if (root.itemCount != d.itemCount || (root.batchDim >= 0) != (d.batchDim >= 0))
      r.error("buffers[" + std::to_string(i) + "].view_of",
              "shape " + shapeString(d.shape) + " has a different element count than " +
                  shapeString(root.shape) + " of buffer " + std::to_string(b));
  }

  parseTensors(r, root, "inputs", BufferKind::Input, model.buffers, model.inputs);
  parseTensors(r, root, "outputs", BufferKind::Output, model.buffers, model.outputs);
  parseTensors(r, root, "parameters", BufferKind::Param, model.buffers, model.parameters);
  parseCalls(r, root, "prepare", /*optional=*/true, model, model.prepare);
  parseCalls(r, root, "steps", /*optional=*/false, model, model.steps);

  // Training first: its loss and correct buffers may be unnamed outputs.
  if (const Json *t = findMember(root, "train"); t && !t->is_null()) {
    parseTrain(r, *t, model);
  } else {
    for (size_t i = 0; i < model.buffers.size(); ++i) {
      BufferKind k = model.buffers[i].kind;
      if (k == BufferKind::State || k == BufferKind::Hyper || k == BufferKind::Labels ||
          k == BufferKind::Next)
        r.error("buffers[" + std::to_string(i) + "]",
                std::string("kind \"") + kindName(k) + "\" needs a \"train\" object");
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
      r.error("buffers[" + std::to_string(i) + "]",
              std::string("no entry of the ") + kindName(k) + " list refers to this buffer");
  }
  // Calls made before inference must not touch batched buffers.
  for (const CallDesc &c : model.prepare)
    for (int a : c.args)
      if (model.buffers[a].batchDim >= 0)
        r.error("prepare \"" + c.name + "\"", "uses batched buffer " + std::to_string(a));

}

} // namespace cnnc::rt

cnnc_model::~cnnc_model() {
  // Release device allocations while the library (and its Halide runtime) is loaded.
  if (deviceFree)
    for (halide_buffer_t &b : halideBuffers)
      if (b.device)
        deviceFree(nullptr, &b);
  halideBuffers.clear();
  if (library)
    dlclose(library);
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
    dlerror();
    model->library = dlopen(openPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!model->library) {
      const char *why = dlerror();
      fail(CNNC_ERROR_FORMAT, "cannot load model '" + p + "': not a loadable shared library (" +
                                  (why ? why : "unknown dlopen error") + ")");
    }
    dlerror();
    void *entry = dlsym(model->library, "cnnc_model_v1");
    if (!entry)
      fail(CNNC_ERROR_ABI,
           "model '" + p + "' does not export cnnc_model_v1 (not a library built by cnnc?)");
    auto fn = reinterpret_cast<const cnnc_model_desc *(*)(void)>(entry);
    model->desc = fn();
    if (!model->desc)
      fail(CNNC_ERROR_ABI, "model '" + p + "': cnnc_model_v1 returned null");
    if (model->desc->abi_version != CNNC_MODEL_ABI_VERSION)
      fail(CNNC_ERROR_ABI,
           "model '" + p + "' has ABI version " + std::to_string(model->desc->abi_version) +
               ", this runtime supports version " + std::to_string(CNNC_MODEL_ABI_VERSION) +
               " (rebuild the model with a matching cnnc)");
    if (!model->desc->metadata_json)
      fail(CNNC_ERROR_FORMAT, "malformed metadata in '" + p + "': metadata_json is null");
    if (model->desc->num_kernels > 0 && !model->desc->kernels)
      fail(CNNC_ERROR_FORMAT, "malformed metadata in '" + p + "': kernel table is null");
    parseMetadata(*model, model->desc->metadata_json);
    // Present in every model.so (Halide's runtime is embedded); used only for GPU buffers.
    // Halide's default error handler aborts the process; route kernel errors
    // (e.g. a buffer too small) into the failing call's status instead.
    using ErrorHandler = void (*)(void *, const char *);
    if (auto setHandler = reinterpret_cast<ErrorHandler (*)(ErrorHandler)>(
            dlsym(model->library, "halide_set_error_handler")))
      setHandler(&recordKernelError);
    // Scratch memory of the kernels is recycled instead of mmapped per call.
    using Malloc = void *(*)(void *, size_t);
    using Free = void (*)(void *, void *);
    auto setMalloc = reinterpret_cast<Malloc (*)(Malloc)>(
        dlsym(model->library, "halide_set_custom_malloc"));
    auto setFree =
        reinterpret_cast<Free (*)(Free)>(dlsym(model->library, "halide_set_custom_free"));
    if (setMalloc && setFree) {
      setMalloc(&scratchMalloc);
      setFree(&scratchFree);
    }
    model->copyToHost = reinterpret_cast<int (*)(void *, halide_buffer_t *)>(
        dlsym(model->library, "halide_copy_to_host"));
    model->deviceFree = reinterpret_cast<int (*)(void *, halide_buffer_t *)>(
        dlsym(model->library, "halide_device_free"));
    initBuffers(*model);
    *out_model = model.release();
  });
}

extern "C" void cnnc_model_free(cnnc_model *model) { delete model; }

extern "C" const char *cnnc_model_name(const cnnc_model *model) {
  return model ? model->name.c_str() : "";
}

extern "C" const char *cnnc_model_target(const cnnc_model *model) {
  return model ? model->target.c_str() : "";
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
