//===- CNNInterfaces.h - per-op interfaces of the cnn dialect ---*- C++ -*-===//
//
// The C++ side of CNNInterfaces.td: what the interface methods receive.
// GradientBuilder is the reverse-mode pass as an op's gradient rule sees it;
// ParameterInitializer records PyTorch-default initializations; a
// ReceptiveField is the input window one output pixel sees. The generated
// interface classes are included by CNNDialect.h.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_DIALECT_CNN_IR_CNNINTERFACES_H
#define CNNC_DIALECT_CNN_IR_CNNINTERFACES_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"
#include "llvm/ADT/MapVector.h"

namespace cnnc::halide {
class KernelBuilder;
} // namespace cnnc::halide

namespace cnnc::cnn {

/// The reverse-mode pass, as seen by one op's gradient rule or training form.
class GradientBuilder {
public:
  virtual ~GradientBuilder() = default;
  /// Builds ops at the end of the train step.
  virtual mlir::OpBuilder &builder() = 0;
  /// Whether `value` depends on a trainable parameter (needs an adjoint).
  virtual bool requiresGrad(mlir::Value value) const = 0;
  /// Adds `grad` to the adjoint of `value` (ignored when it needs none).
  virtual void accumulate(mlir::Value value, mlir::Value grad) = 0;

  // For training forms, which run while the forward ops are cloned:
  /// The train step's value for an inference value (a parameter is cloned
  /// on first use).
  virtual mlir::Value lookup(mlir::Value inferenceValue) = 0;
  /// The hyper-parameter scalar called `name` (lr, step, seed).
  virtual mlir::Value hyper(llvm::StringRef name) = 0;
  /// Marks a parameter as updated by its op, not by the optimizer (batch
  /// norm's running statistics).
  virtual void markNotTrainable(mlir::Value param) = 0;
  /// A number distinct for each dropout of the step, in graph order.
  virtual int64_t nextDropoutSalt() = 0;
};

/// PyTorch's default initialization of parameters, by name, in graph order.
class ParameterInitializer {
public:
  explicit ParameterInitializer(mlir::MLIRContext *ctx) : b(ctx) {}
  /// U(-bound, bound) for the parameter behind `value` (seen through views);
  /// nothing when `value` is null or not a parameter.
  void uniform(mlir::Value value, double bound);
  void constant(mlir::Value value, double v);
  /// The initializations as a dictionary {name: [kind, number]}.
  mlir::DictionaryAttr toAttr() const;

private:
  void set(mlir::Value value, llvm::StringRef kind, double number);
  mutable mlir::Builder b;
  llvm::MapVector<mlir::StringAttr, mlir::Attribute> entries;
};

/// The receptive field (height, width) of a value and its jump (the input
/// distance between neighbouring outputs); `whole` once a layer sees all.
struct ReceptiveField {
  int64_t size[2] = {1, 1};
  int64_t jump[2] = {1, 1};
  bool whole = false;

  /// Sizes and jumps the largest of the operands', whole if one is.
  static ReceptiveField merge(llvm::ArrayRef<ReceptiveField> operands);
  /// After a window of `kernel` taps spaced `dilation`, sliding by `stride`.
  ReceptiveField through(llvm::ArrayRef<int64_t> kernel, llvm::ArrayRef<int64_t> stride,
                         llvm::ArrayRef<int64_t> dilation = {}) const;
  static ReceptiveField wholeInput() {
    ReceptiveField f;
    f.whole = true;
    return f;
  }
};

/// Elements of a value per batch item (the dynamic batch left out).
int64_t elementsPerItem(mlir::Value value);
/// The static shape of a ranked tensor value.
llvm::ArrayRef<int64_t> shapeOf(mlir::Value value);
/// Whether `value` is parameter data: a cnn.param or computed from
/// parameters only (a view of one, a connection table's expansion).
bool isParameterData(mlir::Value value);
/// The trainable parameters an op reads: the elements of the cnn.param
/// values behind its parameter-data operands.
int64_t countParameters(mlir::Operation *op);

} // namespace cnnc::cnn

namespace mlir::OpTrait {
/// An element-wise activation (relu, sigmoid, ...): fusable after a conv or dense.
template <typename ConcreteType>
class CNNActivation : public TraitBase<ConcreteType, CNNActivation> {};
} // namespace mlir::OpTrait

#include "compiler/Dialect/CNN/IR/CNNInterfaces.h.inc"

#endif
