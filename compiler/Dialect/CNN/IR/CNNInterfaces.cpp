//===- CNNInterfaces.cpp - support of the cnn op interfaces ---------------===//
//
// The generated interface definitions and the helpers their default
// implementations use: element counts, parameter data, receptive fields and
// the record of parameter initializations.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Dialect/CNN/IR/Limits.h"

#include "llvm/ADT/SmallPtrSet.h"

using namespace mlir;
using namespace cnnc::cnn;

#include "compiler/Dialect/CNN/IR/CNNInterfaces.cpp.inc"

ArrayRef<int64_t> cnnc::cnn::shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

int64_t cnnc::cnn::elementsPerItem(Value value) {
  // The module's values are checked against cnnc::limits::kMaxBufferElements
  // before any pass; saturating keeps a figure of unchecked IR an overflow.
  return cnnc::limits::productOfStatic(shapeOf(value)).saturated();
}

bool cnnc::cnn::isParameterData(Value value) {
  Operation *def = value.getDefiningOp();
  if (!def)
    return false;
  if (isa<ParamOp>(def))
    return true;
  return def->getNumOperands() > 0 &&
         llvm::all_of(def->getOperands(), [](Value v) { return isParameterData(v); });
}

/// Adds the cnn.param values behind parameter data `value` to `params`.
static void collectParams(Value value, llvm::SmallPtrSetImpl<Operation *> &params) {
  Operation *def = value.getDefiningOp();
  if (isa<ParamOp>(def)) {
    params.insert(def);
    return;
  }
  for (Value v : def->getOperands())
    collectParams(v, params);
}

int64_t cnnc::cnn::countParameters(Operation *op) {
  llvm::SmallPtrSet<Operation *, 4> params;
  for (Value v : op->getOperands())
    if (isParameterData(v))
      collectParams(v, params);
  cnnc::limits::Checked n = 0;
  for (Operation *param : params)
    n += elementsPerItem(param->getResult(0));
  return n.saturated();
}

ReceptiveField ReceptiveField::merge(ArrayRef<ReceptiveField> operands) {
  ReceptiveField out;
  for (const ReceptiveField &f : operands) {
    for (int i = 0; i < 2; ++i) {
      out.size[i] = std::max(out.size[i], f.size[i]);
      out.jump[i] = std::max(out.jump[i], f.jump[i]);
    }
    out.whole |= f.whole;
  }
  return out;
}

ReceptiveField ReceptiveField::through(ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride,
                                       ArrayRef<int64_t> dilation) const {
  ReceptiveField out = *this;
  for (int i = 0; i < 2; ++i) {
    cnnc::limits::Checked grown =
        cnnc::limits::Checked(size[i]) +
        (cnnc::limits::Checked(kernel[i]) - 1) * (dilation.empty() ? 1 : dilation[i]) * jump[i];
    cnnc::limits::Checked jumped = cnnc::limits::Checked(jump[i]) * stride[i];
    // A field past 2^63 pixels covers any input there can be.
    if (!grown.ok() || !jumped.ok())
      return wholeInput();
    out.size[i] = grown.value();
    out.jump[i] = jumped.value();
  }
  return out;
}

void ParameterInitializer::set(Value value, StringRef kind, double number) {
  // A conv1d weight is read through a view of its parameter.
  if (auto view = value ? value.getDefiningOp<ReshapeOp>() : nullptr)
    value = view.getInput();
  if (auto param = value ? value.getDefiningOp<ParamOp>() : nullptr)
    entries[param.getNameAttr()] =
        b.getArrayAttr({b.getStringAttr(kind), b.getF64FloatAttr(number)});
}

void ParameterInitializer::uniform(Value value, double bound) { set(value, "uniform", bound); }

void ParameterInitializer::constant(Value value, double v) { set(value, "constant", v); }

DictionaryAttr ParameterInitializer::toAttr() const {
  SmallVector<NamedAttribute> list;
  for (auto &[name, value] : entries)
    list.push_back(b.getNamedAttr(name, value));
  return b.getDictionaryAttr(list);
}
