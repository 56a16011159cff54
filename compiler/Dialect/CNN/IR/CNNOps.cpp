//===- CNNOps.cpp - verifiers, shape inference and folders of cnn ops -----===//
//
// Each op's result type is inferred by the shape functions of
// ShapeInference.cpp; an inconsistent op is reported at its location (which
// for imported models is the YAML node's file:line:col) and never asserts.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Dialect/CNN/IR/ShapeInference.h"
#include "compiler/Dialect/CNN/IR/WindowAttrs.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace cnnc::cnn;

#include "compiler/Dialect/CNN/IR/CNNDialect.cpp.inc"

void CNNDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "compiler/Dialect/CNN/IR/CNNOps.cpp.inc"
      >();
}

RankedTensorType cnnc::cnn::tensorType(MLIRContext *ctx, llvm::ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, Float32Type::get(ctx));
}

std::string cnnc::cnn::layerName(Operation *op) {
  if (auto name = dyn_cast<NameLoc>(op->getLoc()))
    return name.getName().str();
  std::string names;
  if (auto fused = dyn_cast<FusedLoc>(op->getLoc()))
    for (Location l : fused.getLocations())
      if (auto name = dyn_cast<NameLoc>(l))
        names += (names.empty() ? "" : "+") + name.getName().str();
  return names.empty() ? op->getName().stripDialect().str() : names;
}

/// Reports `err` at `loc` (if given) and fails; succeeds on an empty error.
static LogicalResult report(std::optional<Location> loc, const std::string &err) {
  if (err.empty())
    return success();
  if (loc)
    emitError(*loc) << err;
  return failure();
}

static LogicalResult inferred(MLIRContext *ctx, std::optional<Location> loc, const std::string &err,
                              const Shape &shape, SmallVectorImpl<Type> &inferredReturnTypes) {
  if (failed(report(loc, err)))
    return failure();
  inferredReturnTypes.push_back(tensorType(ctx, shape));
  return success();
}

//===----------------------------------------------------------------------===//
// param
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty parameter name");
  for (int64_t d : getType().getShape())
    if (ShapedType::isDynamic(d) || d <= 0)
      return emitOpError("parameter '") << getName() << "' must have a static positive shape";
  if (std::string err =
          checkBufferSize(getType().getShape(), "parameter '" + getName().str() + "'");
      !err.empty())
    return emitOpError(err);
  return success();
}

//===----------------------------------------------------------------------===//
// conv2d, dense, pooling
//===----------------------------------------------------------------------===//

LogicalResult Conv2DOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                         Adaptor adaptor, SmallVectorImpl<Type> &results) {
  Window w;
  std::string err = readWindow(adaptor, w);
  if (failed(report(loc, err)))
    return failure();
  Shape shape;
  ArrayRef<int64_t> bias;
  if (adaptor.getBias())
    bias = shapeOf(adaptor.getBias());
  err = inferConv2D(shapeOf(adaptor.getInput()), shapeOf(adaptor.getWeight()),
                    adaptor.getBias() ? bias.data() : nullptr, bias.size(), w, adaptor.getGroups(),
                    shape);
  return inferred(ctx, loc, err, shape, results);
}

LogicalResult DenseOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                        Adaptor adaptor, SmallVectorImpl<Type> &results) {
  Shape shape;
  ArrayRef<int64_t> bias;
  if (adaptor.getBias())
    bias = shapeOf(adaptor.getBias());
  std::string err = inferDense(shapeOf(adaptor.getInput()), shapeOf(adaptor.getWeight()),
                               adaptor.getBias() ? bias.data() : nullptr, bias.size(), shape);
  return inferred(ctx, loc, err, shape, results);
}

template <typename Adaptor>
static LogicalResult inferPool(MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
                               SmallVectorImpl<Type> &results) {
  Window w;
  std::string err = readWindow(adaptor, w);
  if (failed(report(loc, err)))
    return failure();
  Shape shape;
  err = inferPool2D(shapeOf(adaptor.getInput()), w, shape);
  return inferred(ctx, loc, err, shape, results);
}

LogicalResult MaxPool2DOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &results) {
  return inferPool(ctx, loc, adaptor, results);
}

LogicalResult AvgPool2DOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &results) {
  return inferPool(ctx, loc, adaptor, results);
}

LogicalResult GlobalAvgPoolOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                Adaptor adaptor, SmallVectorImpl<Type> &results) {
  ArrayRef<int64_t> in = shapeOf(adaptor.getInput());
  std::string err = checkActivation4D(in, "global_avg_pool input");
  Shape shape;
  if (err.empty())
    shape = {in[0], in[1], 1, 1};
  return inferred(ctx, loc, err, shape, results);
}

//===----------------------------------------------------------------------===//
// conv_transpose2d, connection tables, position_bias, local_response_norm
//===----------------------------------------------------------------------===//

LogicalResult ConvTranspose2DOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                  Adaptor adaptor, SmallVectorImpl<Type> &results) {
  Window w;
  std::string err = readWindow(adaptor, w);
  if (failed(report(loc, err)))
    return failure();
  Shape shape;
  ArrayRef<int64_t> bias;
  if (adaptor.getBias())
    bias = shapeOf(adaptor.getBias());
  err = inferConvTranspose2D(shapeOf(adaptor.getInput()), shapeOf(adaptor.getWeight()),
                             adaptor.getBias() ? bias.data() : nullptr, bias.size(), w,
                             adaptor.getGroups(), shape);
  return inferred(ctx, loc, err, shape, results);
}

/// The rows of a connection table attribute.
static SmallVector<ArrayRef<int64_t>> tableRows(ArrayAttr table) {
  SmallVector<ArrayRef<int64_t>> rows;
  for (Attribute row : table)
    rows.push_back(cast<DenseI64ArrayAttr>(row).asArrayRef());
  return rows;
}

LogicalResult ScatterConnectionsOp::verify() {
  std::string err = checkScatterConnections(shapeOf(getWeight()), getType().getShape(),
                                            tableRows(getConnections()));
  if (!err.empty())
    return emitOpError(err);
  return success();
}

LogicalResult GatherConnectionsOp::verify() {
  std::string err = checkScatterConnections(cast<RankedTensorType>(getType()).getShape(),
                                            shapeOf(getGrad()), tableRows(getConnections()));
  if (!err.empty())
    return emitOpError(err);
  return success();
}

LogicalResult PositionBiasOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                               Adaptor adaptor, SmallVectorImpl<Type> &results) {
  Shape shape;
  std::string err =
      inferPositionBias(shapeOf(adaptor.getInput()), shapeOf(adaptor.getBias()), shape);
  return inferred(ctx, loc, err, shape, results);
}

LogicalResult ReduceOverBatchOp::verify() {
  ArrayRef<int64_t> in = shapeOf(getInput());
  ArrayRef<int64_t> out = cast<RankedTensorType>(getType()).getShape();
  if (in.empty() || out != in.drop_front())
    return emitOpError("expects the result to be the input's shape without "
                       "the batch, found ")
           << shapeToString(in) << " -> " << shapeToString(out);
  return success();
}

LogicalResult LocalResponseNormOp::verify() {
  std::string err =
      checkLocalResponseNorm(getType().getShape(), getSize(), getAlpha().convertToDouble(),
                             getBeta().convertToDouble(), getK().convertToDouble());
  if (!err.empty())
    return emitOpError(err);
  return success();
}

//===----------------------------------------------------------------------===//
// Element-wise ops
//===----------------------------------------------------------------------===//

static LogicalResult verifyActivation(Operation *op, Type type) {
  auto shape = cast<RankedTensorType>(type).getShape();
  if (shape.size() != 2 && shape.size() != 4)
    return op->emitOpError("expects an activation [N, F] or [N, C, H, W], found ")
           << shapeToString(shape);
  return success();
}

LogicalResult ReluOp::verify() { return verifyActivation(*this, getType()); }
LogicalResult SigmoidOp::verify() { return verifyActivation(*this, getType()); }
LogicalResult Relu6Op::verify() { return verifyActivation(*this, getType()); }
LogicalResult TanhOp::verify() { return verifyActivation(*this, getType()); }
LogicalResult HardswishOp::verify() { return verifyActivation(*this, getType()); }
LogicalResult SiluOp::verify() { return verifyActivation(*this, getType()); }
LogicalResult AffineOp::verify() {
  if (!std::isfinite(getScale().convertToDouble()) || !std::isfinite(getShift().convertToDouble()))
    return emitOpError("scale and shift must be finite");
  // An activation, or (in a train step) the gradient of a broadcast parameter.
  if (getType().getRank() < 1 || getType().getRank() > 4)
    return emitOpError("expects a tensor of rank 1 to 4, found ")
           << shapeToString(getType().getShape());
  return success();
}

/// add / sub / mul / div: an activation and an rhs that broadcasts to it.
static LogicalResult verifyBinary(Operation *op, Value lhs, Value rhs) {
  if (failed(verifyActivation(op, lhs.getType())))
    return failure();
  if (std::string err = checkBroadcast(shapeOf(lhs), shapeOf(rhs)); !err.empty())
    return op->emitOpError("expects rhs to broadcast to lhs: ") << err;
  return success();
}
LogicalResult AddOp::verify() { return verifyBinary(*this, getLhs(), getRhs()); }
LogicalResult SubOp::verify() { return verifyBinary(*this, getLhs(), getRhs()); }
LogicalResult MulOp::verify() { return verifyBinary(*this, getLhs(), getRhs()); }
LogicalResult DivOp::verify() { return verifyBinary(*this, getLhs(), getRhs()); }

LogicalResult DropoutOp::verify() {
  double rate = getRate().convertToDouble();
  if (!(rate >= 0.0 && rate < 1.0))
    return emitOpError("rate must be in [0, 1), found ") << rate;
  return verifyActivation(*this, getType());
}

OpFoldResult DropoutOp::fold(FoldAdaptor) { return getInput(); }

LogicalResult SoftmaxOp::verify() {
  if (getType().getRank() != 2)
    return emitOpError("expects [N, F] (flatten first), found ")
           << shapeToString(getType().getShape());
  return success();
}

//===----------------------------------------------------------------------===//
// Batch norm and its folded forms
//===----------------------------------------------------------------------===//

LogicalResult BatchNormOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &results) {
  Shape shape;
  ArrayRef<int64_t> vectors[] = {shapeOf(adaptor.getWeight()), shapeOf(adaptor.getBias()),
                                 shapeOf(adaptor.getMean()), shapeOf(adaptor.getVariance())};
  std::string err = inferBatchNorm(shapeOf(adaptor.getInput()), vectors, shape);
  if (err.empty() && adaptor.getEpsilon().convertToDouble() <= 0)
    err = "batch_norm epsilon must be positive";
  return inferred(ctx, loc, err, shape, results);
}

LogicalResult BnFoldWeightOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                               Adaptor adaptor, SmallVectorImpl<Type> &results) {
  ArrayRef<int64_t> w = shapeOf(adaptor.getWeight());
  std::string err;
  if (w.empty() || shapeOf(adaptor.getGamma()) != ArrayRef<int64_t>{w[0]} ||
      shapeOf(adaptor.getVariance()) != ArrayRef<int64_t>{w[0]})
    err = "bn_fold_weight: gamma and variance must be vectors of the weight's "
          "first dimension, weight " +
          shapeToString(w);
  return inferred(ctx, loc, err, Shape(w.begin(), w.end()), results);
}

LogicalResult BnFoldBiasOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                             Adaptor adaptor, SmallVectorImpl<Type> &results) {
  ArrayRef<int64_t> g = shapeOf(adaptor.getGamma());
  std::string err;
  bool ok = g.size() == 1 && shapeOf(adaptor.getBeta()) == g && shapeOf(adaptor.getMean()) == g &&
            shapeOf(adaptor.getVariance()) == g &&
            (!adaptor.getBias() || shapeOf(adaptor.getBias()) == g);
  if (!ok)
    err = "bn_fold_bias: all operands must be vectors of the same length";
  return inferred(ctx, loc, err, Shape(g.begin(), g.end()), results);
}

//===----------------------------------------------------------------------===//
// concat, flatten
//===----------------------------------------------------------------------===//

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                         Adaptor adaptor, SmallVectorImpl<Type> &results) {
  SmallVector<ArrayRef<int64_t>> shapes;
  for (Value v : adaptor.getInputs())
    shapes.push_back(shapeOf(v));
  Shape shape;
  std::string err = inferConcat(shapes, shape);
  return inferred(ctx, loc, err, shape, results);
}

LogicalResult FlattenOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                          Adaptor adaptor, SmallVectorImpl<Type> &results) {
  Shape shape;
  std::string err = inferFlatten(shapeOf(adaptor.getInput()), shape);
  return inferred(ctx, loc, err, shape, results);
}

OpFoldResult FlattenOp::fold(FoldAdaptor) {
  // Flattening an [N, F] value is the identity.
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// block and group
//===----------------------------------------------------------------------===//

static LogicalResult verifyRegionOp(Operation *op, ValueRange inputs) {
  Block &body = op->getRegion(0).front();
  if (body.getNumArguments() != inputs.size())
    return op->emitOpError("region has ")
           << body.getNumArguments() << " arguments, expected " << inputs.size();
  for (auto [arg, in] : llvm::zip(body.getArguments(), inputs))
    if (arg.getType() != in.getType())
      return op->emitOpError("region argument type ")
             << arg.getType() << " does not match input type " << in.getType();
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return op->emitOpError("region must end with cnn.yield");
  if (yield.getValues().getTypes() != op->getResultTypes())
    return op->emitOpError("yielded types do not match the result types");
  return success();
}

LogicalResult BlockOp::verify() { return verifyRegionOp(*this, getInputs()); }
LogicalResult GroupOp::verify() { return verifyRegionOp(*this, getInputs()); }

//===----------------------------------------------------------------------===//
// Train-step state: hyper, state, assign
//===----------------------------------------------------------------------===//

LogicalResult HyperOp::verify() {
  if (getType().getShape() != ArrayRef<int64_t>{1})
    return emitOpError("hyper-parameter '") << getName() << "' must be tensor<1xf32>";
  return success();
}

LogicalResult StateOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty state name");
  for (int64_t d : getType().getShape())
    if (ShapedType::isDynamic(d) || d <= 0)
      return emitOpError("state '") << getName() << "' must have a static positive shape";
  return success();
}

/// The runtime swaps the storage of the target with the value's, so a
/// cnn.param or cnn.state of that name in the same block must have the
/// value's type. (A target defined nowhere is reported when the model is
/// compiled.)
LogicalResult AssignOp::verify() {
  if (getTarget().empty())
    return emitOpError("needs a non-empty target name");
  Type type = getValue().getType();
  for (int64_t d : cast<RankedTensorType>(type).getShape())
    if (ShapedType::isDynamic(d) || d <= 0)
      return emitOpError("expects a value with a static positive shape, found ") << type;
  Block *block = (*this)->getBlock();
  if (!block)
    return success();
  for (Operation &op : *block) {
    StringRef name;
    if (auto param = dyn_cast<ParamOp>(op))
      name = param.getName();
    else if (auto state = dyn_cast<StateOp>(op))
      name = state.getName();
    else
      continue;
    if (name == getTarget() && op.getResult(0).getType() != type)
      return emitOpError("assigns a value of type ")
             << type << " to '" << getTarget() << "' of type " << op.getResult(0).getType();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Sequences and pooling variants: embedding, global_max_pool, kmax_pool,
// min_pool2d, l2_pool2d, reshape
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &results) {
  Shape shape;
  std::string err = inferEmbedding(shapeOf(adaptor.getIds()), shapeOf(adaptor.getWeight()), shape);
  return inferred(ctx, loc, err, shape, results);
}

LogicalResult GlobalMaxPoolOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                Adaptor adaptor, SmallVectorImpl<Type> &results) {
  ArrayRef<int64_t> in = shapeOf(adaptor.getInput());
  std::string err = checkActivation4D(in, "global_max_pool input");
  Shape shape;
  if (err.empty())
    shape = {in[0], in[1], 1, 1};
  return inferred(ctx, loc, err, shape, results);
}

LogicalResult KMaxPoolOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                           Adaptor adaptor, SmallVectorImpl<Type> &results) {
  Shape shape;
  std::string err = inferKMaxPool(shapeOf(adaptor.getInput()), adaptor.getK(), shape);
  return inferred(ctx, loc, err, shape, results);
}

LogicalResult MinPool2DOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &results) {
  return inferPool(ctx, loc, adaptor, results);
}

LogicalResult L2Pool2DOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                           Adaptor adaptor, SmallVectorImpl<Type> &results) {
  return inferPool(ctx, loc, adaptor, results);
}

LogicalResult ReshapeOp::verify() {
  std::string err = checkReshape(getInput().getType().getShape(), getType().getShape());
  if (!err.empty())
    return emitOpError(err);
  return success();
}

//===----------------------------------------------------------------------===//
// Windows
//===----------------------------------------------------------------------===//

std::optional<Window> cnnc::cnn::windowOf(Operation *op) {
  std::optional<Window> window;
  auto read = [&](auto windowed) {
    window.emplace();
    [[maybe_unused]] std::string err = readWindow(windowed, *window);
    assert(err.empty() && "windowOf on an op that does not verify");
  };
  llvm::TypeSwitch<Operation *>(op)
      .Case<Conv2DOp, ConvTranspose2DOp, Conv2DGradInputOp, Conv2DGradWeightOp, MaxPool2DOp,
            AvgPool2DOp, MinPool2DOp, L2Pool2DOp, MaxPool2DGradOp, AvgPool2DGradOp, MinPool2DGradOp,
            L2Pool2DGradOp>(read);
  return window;
}

/// The types of a binary op: `T` when both operands have type T, else
/// `T, U` (lhs, then the broadcast rhs).
static ParseResult parseBroadcastTypes(OpAsmParser &parser, Type &lhs, Type &rhs) {
  if (parser.parseType(lhs))
    return failure();
  rhs = lhs;
  if (succeeded(parser.parseOptionalComma()))
    return parser.parseType(rhs);
  return success();
}
static void printBroadcastTypes(OpAsmPrinter &p, Operation *, Type lhs, Type rhs) {
  p << lhs;
  if (rhs != lhs)
    p << ", " << rhs;
}

#define GET_OP_CLASSES
#include "compiler/Dialect/CNN/IR/CNNOps.cpp.inc"
