//===- OnnxImporter.cpp - ONNX ModelProto -> cnn dialect ------------------===//
//
// Parses the protobuf, checks the opset, records the graph's initializers
// as constants and its input as the function argument, then converts the
// nodes in their (topological) order through OnnxOps.cpp's table. Every
// error is caught here once, prefixed with the file and the node, printed,
// and turned into a null module.
//
//===----------------------------------------------------------------------===//
#include "frontends/onnx/OnnxImporter.h"
#include "frontends/onnx/OnnxGraph.h"

#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Dialect/CNN/IR/Limits.h"
#include "compiler/Dialect/CNN/IR/ShapeInference.h"
#include "compiler/Target/DefaultParameters.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"

#include <fstream>

using namespace mlir;
using namespace cnnc;
using namespace cnnc::onnx_import;

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

int64_t Constant::size() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

Constant cnnc::onnx_import::readTensor(const onnx::TensorProto &proto) {
  Constant c;
  c.dims.assign(proto.dims().begin(), proto.dims().end());
  for (int64_t d : c.dims)
    if (d < 0 || d > (int64_t(1) << 31))
      throw NodeError{"tensor '" + proto.name() + "' has an invalid dimension " +
                      std::to_string(d)};
  // Each dimension is at most 2^31, but their product may not fit in 64 bits.
  int64_t n = 1;
  for (int64_t d : c.dims)
    if (__builtin_mul_overflow(n, d, &n) || n > limits::kMaxBufferElements)
      throw NodeError{"tensor '" + proto.name() + "' has more than " +
                      std::to_string(limits::kMaxBufferElements) + " elements"};
  if (proto.data_location() == onnx::TensorProto::EXTERNAL)
    throw NodeError{"tensor '" + proto.name() +
                    "' keeps its data in an external file, which cnnc does not read"};
  const std::string &raw = proto.raw_data();
  auto rawCount = [&](size_t bytes) {
    if (raw.size() != size_t(n) * bytes)
      throw NodeError{llvm::formatv("tensor '{0}' holds {1} bytes of data, expected {2}",
                                    proto.name(), raw.size(), size_t(n) * bytes)};
  };
  switch (proto.data_type()) {
  case onnx::TensorProto::FLOAT:
    c.isFloat = true;
    if (!raw.empty()) {
      rawCount(4);
      c.floats.resize(n);
      for (int64_t i = 0; i < n; ++i)
        c.floats[i] = llvm::bit_cast<float>(llvm::support::endian::read32le(raw.data() + 4 * i));
    } else {
      c.floats.assign(proto.float_data().begin(), proto.float_data().end());
    }
    if (int64_t(c.floats.size()) != n)
      throw NodeError{"tensor '" + proto.name() + "' holds the wrong number of values"};
    return c;
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::BOOL: {
    c.isFloat = false;
    bool is64 = proto.data_type() == onnx::TensorProto::INT64;
    size_t bytes = is64 ? 8 : proto.data_type() == onnx::TensorProto::INT32 ? 4 : 1;
    if (!raw.empty()) {
      rawCount(bytes);
      for (int64_t i = 0; i < n; ++i) {
        const char *p = raw.data() + bytes * i;
        c.ints.push_back(bytes == 8   ? int64_t(llvm::support::endian::read64le(p))
                         : bytes == 4 ? int64_t(int32_t(llvm::support::endian::read32le(p)))
                                      : int64_t(*p != 0));
      }
    } else if (is64) {
      c.ints.assign(proto.int64_data().begin(), proto.int64_data().end());
    } else {
      c.ints.assign(proto.int32_data().begin(), proto.int32_data().end());
    }
    if (int64_t(c.ints.size()) != n)
      throw NodeError{"tensor '" + proto.name() + "' holds the wrong number of values"};
    return c;
  }
  default:
    throw NodeError{"tensor '" + proto.name() + "' has ONNX element type " +
                    std::to_string(proto.data_type()) +
                    "; cnnc reads float32 tensors (and integer shapes)"};
  }
}

//===----------------------------------------------------------------------===//
// NodeContext
//===----------------------------------------------------------------------===//

ArrayRef<int64_t> cnnc::onnx_import::shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

void NodeContext::fail(const std::string &message) const { throw NodeError{message}; }

Value NodeContext::built(Value v) const {
  if (!v)
    fail(errors.take());
  return v;
}

bool NodeContext::hasInput(int i) const { return i < node.input_size() && !node.input(i).empty(); }

int64_t Tensor::onnxRank() const {
  if (constant)
    return int64_t(constant->dims.size());
  return int64_t(shapeOf(value).size()) - (sequence ? 1 : 0);
}

const Tensor &NodeContext::input(int i) const {
  if (!hasInput(i))
    fail("input " + std::to_string(i) + " is missing");
  auto it = tensors.find(node.input(i));
  if (it == tensors.end())
    fail("input '" + node.input(i) + "' is not produced by any earlier node");
  return it->second;
}

Value NodeContext::value(int i, const char *what) const {
  std::array<int64_t, 4> pads;
  Value v = paddedValue(i, what, pads);
  // A zero Pad that no Conv or AveragePool window takes in: padded here.
  if (input(i).padded())
    v = built(graph.pad(layer, v, pads, 0.0));
  return v;
}

Value NodeContext::paddedValue(int i, const char *what, std::array<int64_t, 4> &pads) const {
  const Tensor &t = input(i);
  pads = t.pads;
  if (t.shuffleGroups)
    fail(llvm::formatv("input {0} ('{1}') is a 5-D view [N, g, C/g, H, W] of a 4-D tensor, which "
                       "cnnc supports only within a channel shuffle (Reshape to [N, g, C/g, H, "
                       "W], Transpose with perm [0, 2, 1, 3, 4], Reshape back to [N, C, H, W])",
                       what, node.input(i)));
  if (!t.value)
    fail(llvm::formatv("input {0} ('{1}') is a constant; cnnc needs it to be computed from "
                       "the model input",
                       what, node.input(i)));
  return t.value;
}

Value NodeContext::operand(int i, const char *what) const {
  const Tensor &t = input(i);
  if (t.value)
    return value(i, what);
  const Constant &c = *t.constant;
  if (!c.isFloat)
    fail(llvm::formatv("input {0} ('{1}') is an integer tensor; cnnc computes with float32", what,
                       node.input(i)));
  std::string name = c.initializer.empty() ? node.input(i) : c.initializer;
  std::vector<int64_t> own =
      c.initializer.empty() || c.initializerDims.empty() ? c.dims : c.initializerDims;
  if (own.empty())
    own = {1};
  Value &param = constantParams[name];
  if (!param) {
    frontend::LayerInfo info = layer;
    info.paramNames["value"] = name;
    param = built(graph.parameter(info, "value", own));
  }
  std::vector<int64_t> dims = c.dims.empty() ? std::vector<int64_t>{1} : c.dims;
  return built(graph.view(layer, param, dims));
}

const Constant &NodeContext::constant(int i, const char *what) const {
  const Tensor &t = input(i);
  if (!t.constant)
    fail(llvm::formatv("input {0} ('{1}') must be a constant (an initializer or known at "
                       "import), not computed from the model input",
                       what, node.input(i)));
  return *t.constant;
}

std::string NodeContext::weight(int i, const char *what, ArrayRef<int64_t> shape) const {
  const Constant &c = constant(i, what);
  if (c.initializer.empty())
    fail(llvm::formatv("input {0} ('{1}') must be an initializer: cnnc makes it a trainable "
                       "parameter",
                       what, node.input(i)));
  if (!c.isFloat)
    fail(llvm::formatv("input {0} ('{1}') must be float32", what, node.input(i)));
  if (ArrayRef<int64_t>(c.dims) != shape) {
    std::string want, got;
    for (int64_t d : shape)
      want += (want.empty() ? "" : ", ") + std::to_string(d);
    for (int64_t d : c.dims)
      got += (got.empty() ? "" : ", ") + std::to_string(d);
    fail(llvm::formatv("input {0} ('{1}') has shape [{2}]; expected [{3}]", what, node.input(i),
                       got, want));
  }
  return c.initializer;
}

const onnx::AttributeProto *NodeContext::attr(const char *name) const {
  for (const onnx::AttributeProto &a : node.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

bool NodeContext::hasAttr(const char *name) const { return attr(name) != nullptr; }

int64_t NodeContext::attrInt(const char *name, int64_t otherwise) const {
  const onnx::AttributeProto *a = attr(name);
  if (!a)
    return otherwise;
  if (a->type() != onnx::AttributeProto::INT)
    fail(std::string("attribute '") + name + "' must be an integer");
  return a->i();
}

float NodeContext::attrFloat(const char *name, float otherwise) const {
  const onnx::AttributeProto *a = attr(name);
  if (!a)
    return otherwise;
  if (a->type() != onnx::AttributeProto::FLOAT)
    fail(std::string("attribute '") + name + "' must be a float");
  return a->f();
}

std::string NodeContext::attrString(const char *name, const std::string &otherwise) const {
  const onnx::AttributeProto *a = attr(name);
  if (!a)
    return otherwise;
  if (a->type() != onnx::AttributeProto::STRING)
    fail(std::string("attribute '") + name + "' must be a string");
  return a->s();
}

std::vector<int64_t> NodeContext::attrInts(const char *name, std::vector<int64_t> otherwise) const {
  const onnx::AttributeProto *a = attr(name);
  if (!a)
    return otherwise;
  if (a->type() != onnx::AttributeProto::INTS)
    fail(std::string("attribute '") + name + "' must be a list of integers");
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

void NodeContext::onlyAttrs(std::initializer_list<const char *> known) const {
  for (const onnx::AttributeProto &a : node.attribute())
    if (llvm::none_of(known, [&](const char *k) { return a.name() == k; }))
      fail("attribute '" + a.name() + "' is not supported");
}

void NodeContext::unusedOutput(int i, const char *what) const {
  if (i < node.output_size() && !node.output(i).empty() && uses.count(node.output(i)))
    fail(llvm::formatv("output {0} ('{1}') is read by the graph; cnnc does not compute it", what,
                       node.output(i)));
}

//===----------------------------------------------------------------------===//
// The graph
//===----------------------------------------------------------------------===//

namespace {

/// An error about the model as a whole (not one node).
struct ModelError {
  std::string message;
};

class Importer {
public:
  Importer(const onnx::ModelProto &model, MLIRContext *ctx, StringRef path)
      : model(model), ctx(ctx), b(ctx), path(path.str()), graph(b, errors) {}

  OwningOpRef<ModuleOp> run() {
    int64_t opset = defaultOpset();
    const onnx::GraphProto &g = model.graph();
    OwningOpRef<ModuleOp> module(ModuleOp::create(fileLoc()));
    b.setInsertionPointToEnd(module->getBody());

    for (const onnx::TensorProto &init : g.initializer()) {
      Constant c = readTensor(init);
      c.initializer = init.name();
      tensors[init.name()] = Tensor{Value(), std::make_shared<const Constant>(std::move(c))};
    }
    for (const onnx::NodeProto &node : g.node())
      for (const std::string &in : node.input())
        ++uses[in];
    for (const onnx::ValueInfoProto &out : g.output())
      ++uses[out.name()];

    // The model inputs: the graph inputs that are not initializers.
    std::vector<const onnx::ValueInfoProto *> inputs;
    for (const onnx::ValueInfoProto &in : g.input())
      if (!tensors.count(in.name()))
        inputs.push_back(&in);
    if (inputs.empty())
      throw ModelError{"the graph has no input besides its initializers"};
    if (g.output_size() == 0)
      throw ModelError{"the graph has no output"};
    std::vector<Type> inTypes;
    for (const onnx::ValueInfoProto *in : inputs)
      inTypes.push_back(inputType(*in));
    std::string modelName = g.name().empty() ? "model" : g.name();
    auto func =
        b.create<func::FuncOp>(fileLoc(), sanitize(modelName), b.getFunctionType(inTypes, {}));
    Block *entry = b.createBlock(&func.getBody());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string &inName = inputs[i]->name();
      tensors[inName] =
          Tensor{entry->addArgument(inTypes[i], NameLoc::get(b.getStringAttr(inName), fileLoc())),
                 nullptr};
      tensors[inName].sequence = inputs[i]->type().tensor_type().shape().dim_size() == 3;
      func.setArgAttr(i, "cnn.name", b.getStringAttr(inName));
    }

    for (int i = 0; i < g.node_size(); ++i)
      convert(g.node(i), i, opset);

    // Every output is a value of its own: not the value of another output.
    // (One that is a model input itself, an Identity or a Dropout of it, is
    // copied by a kernel of its own: cnnc-copy-passthrough-outputs.)
    std::vector<Value> results;
    for (const onnx::ValueInfoProto &output : g.output()) {
      auto out = tensors.find(output.name());
      if (out == tensors.end() || !out->second.value)
        throw ModelError{"the graph output '" + output.name() +
                         "' is not computed from a model input"};
      Value v = out->second.value;
      for (size_t i = 0; i < results.size(); ++i)
        if (results[i] == v)
          throw ModelError{"the graph outputs '" + g.output(int(i)).name() + "' and '" +
                           output.name() +
                           "' are the same value; cnnc compiles distinct "
                           "outputs"};
      results.push_back(v);
    }
    b.create<func::ReturnOp>(fileLoc(), results);
    func.setType(b.getFunctionType(inTypes, ValueRange(results).getTypes()));
    for (int i = 0; i < g.output_size(); ++i)
      func.setResultAttr(i, "cnn.name", b.getStringAttr(g.output(i).name()));
    return module;
  }

  /// The initializer of every parameter the import created.
  void parameterValues(ModuleOp module, DefaultParameters &out) {
    out.tensors.clear();
    module.walk([&](cnn::ParamOp param) {
      const Constant &c = *tensors.at(param.getName().str()).constant;
      ArrayRef<int64_t> shape = param.getType().getShape();
      out.tensors.push_back({param.getName().str(), {shape.begin(), shape.end()}, c.floats});
    });
  }

private:
  Location fileLoc() { return FileLineColLoc::get(ctx, path, 0, 0); }

  /// A function name: the graph's, with what MLIR symbols cannot hold
  /// replaced.
  static std::string sanitize(std::string name) {
    for (char &c : name)
      if (!isalnum(static_cast<unsigned char>(c)) && c != '_')
        c = '_';
    return name;
  }

  int64_t defaultOpset() {
    for (const onnx::OperatorSetIdProto &op : model.opset_import())
      if (op.domain().empty() || op.domain() == "ai.onnx") {
        if (op.version() < 1 || op.version() > 18)
          throw ModelError{llvm::formatv("opset {0} of the default domain is not supported "
                                         "(cnnc reads opsets 1 to 18)",
                                         op.version())};
        return op.version();
      }
    throw ModelError{"the model imports no opset of the default ONNX domain"};
  }

  /// The function argument type of the model input: float32, [N, C, H, W],
  /// [N, C, L] (a sequence, [N, C, 1, L]) or [N, F]; N may be symbolic.
  Type inputType(const onnx::ValueInfoProto &in) {
    const onnx::TypeProto &type = in.type();
    std::string what = "the model input '" + in.name() + "'";
    if (!type.has_tensor_type() || type.tensor_type().elem_type() != onnx::TensorProto::FLOAT)
      throw ModelError{what + " must be a float32 tensor"};
    const onnx::TensorShapeProto &shape = type.tensor_type().shape();
    if (shape.dim_size() < 2 || shape.dim_size() > 4)
      throw ModelError{what + " must have rank 2, 3 or 4 ([N, F], [N, C, L] or [N, C, H, W])"};
    cnn::Shape dims = {ShapedType::kDynamic};
    for (int i = 1; i < shape.dim_size(); ++i) {
      const onnx::TensorShapeProto::Dimension &d = shape.dim(i);
      if (!d.has_dim_value() || d.dim_value() < 1)
        throw ModelError{llvm::formatv("{0} has a dynamic dimension {1} ('{2}'); only the "
                                       "batch (dimension 0) may be dynamic",
                                       what, i, d.dim_param())};
      dims.push_back(d.dim_value());
    }
    if (dims.size() == 3)
      dims.insert(dims.begin() + 2, 1);
    return cnn::tensorType(ctx, dims);
  }

  void convert(const onnx::NodeProto &node, int index, int64_t opset) {
    std::string name =
        node.name().empty() ? node.op_type() + "_" + std::to_string(index) : node.name();
    current = &node;
    currentName = name;
    if (!node.domain().empty() && node.domain() != "ai.onnx")
      throw NodeError{"operators of domain '" + node.domain() + "' are not supported"};
    NodeConverter converter = findConverter(node.op_type());
    if (!converter) {
      std::string known;
      for (const std::string &op : supportedOps())
        known += (known.empty() ? "" : ", ") + op;
      throw NodeError{"operator '" + node.op_type() + "' is not supported (cnnc imports " + known +
                      ")"};
    }
    Location site = NameLoc::get(b.getStringAttr(node.op_type()), fileLoc());
    NodeContext context(node, opset, frontend::LayerInfo{name, site, {}}, graph, errors, tensors,
                        uses, constantParams);
    std::vector<Tensor> outs = converter(context);
    bool readsSequence = false;
    for (const std::string &in : node.input())
      if (auto it = tensors.find(in); it != tensors.end())
        readsSequence |= it->second.sequence;
    for (Tensor &out : outs)
      if (readsSequence && out.value && shapeOf(out.value).size() == 4 &&
          shapeOf(out.value)[2] == 1)
        out.sequence = true;
    for (int i = 0; i < node.output_size(); ++i)
      if (!node.output(i).empty() && i < int(outs.size()) && (outs[i].value || outs[i].constant))
        tensors[node.output(i)] = outs[i];
    current = nullptr;
  }

public:
  /// The node being converted when an error is thrown, or null.
  const onnx::NodeProto *current = nullptr;
  std::string currentName;

private:
  const onnx::ModelProto &model;
  MLIRContext *ctx;
  OpBuilder b;
  std::string path;
  BuilderErrors errors;
  frontend::GraphBuilder graph;
  std::map<std::string, Tensor> tensors;
  std::map<std::string, int> uses;
  std::map<std::string, Value> constantParams;
};

} // namespace

OwningOpRef<ModuleOp> cnnc::importOnnxModel(StringRef path, MLIRContext *context,
                                            llvm::raw_ostream &os, DefaultParameters &parameters) {
  onnx::ModelProto model;
  {
    std::ifstream in(path.str(), std::ios::binary);
    if (!in) {
      os << path << ": error: cannot open the file\n";
      return nullptr;
    }
    if (!model.ParseFromIstream(&in)) {
      os << path << ": error: not a valid ONNX model (the protobuf does not parse)\n";
      return nullptr;
    }
  }
  Importer importer(model, context, path);
  try {
    OwningOpRef<ModuleOp> module = importer.run();
    importer.parameterValues(*module, parameters);
    parameters.source = path.str();
    return module;
  } catch (const NodeError &e) {
    os << path << ": error: ";
    if (importer.current)
      os << "node '" << importer.currentName << "' (" << importer.current->op_type() << "): ";
    os << e.message << "\n";
  } catch (const ModelError &e) {
    os << path << ": error: " << e.message << "\n";
  }
  return nullptr;
}
