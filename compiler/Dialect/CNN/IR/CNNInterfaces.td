//===- CNNInterfaces.td - what each cnn op knows about itself -*- tablegen -*-===//
//
// The per-op behaviour that passes ask for instead of switching on op kinds:
//
// - DifferentiableOpInterface: the op's gradient rule (cnnc-autodiff walks
//   the graph backwards and asks each op for the adjoints of its operands),
//   its training form (batch norm with batch statistics, dropout with a
//   mask) and the PyTorch-default initialization of its parameters.
// - CostOpInterface: parameters, weights, multiply-adds, FLOPs, activation
//   memory and receptive field; one source for `cnnc --stats` and for the
//   FLOP counts of each kernel that `cnnrun bench` prints.
// - HalideLowerableOpInterface: the op's Halide algorithm. The dialect only
//   declares it; the lowering library attaches an external model to each op
//   (registerHalideLowerings), so the dialect does not link Halide.
//
// The first two are implemented in one file per op family under Ops/; the
// lowering in the file of the same name under compiler/Lowering/Halide/Ops/.
//
//===----------------------------------------------------------------------===//
#ifndef CNN_INTERFACES_TD
#define CNN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def CNN_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::cnnc::cnn";
  let description = [{
    An op that takes part in the train step: it knows its gradient rule,
    written with cnn ops in gather form, and optionally a training form and
    the initialization of the parameters it reads.
  }];
  let methods = [
    InterfaceMethod<[{
        Emits the gradient rule for `grad`, the adjoint of the op's result:
        builds cnn ops with `gradients.builder()` and hands each operand's
        adjoint to `gradients.accumulate`. Operands for which
        `gradients.requiresGrad` is false need none.
      }], "::mlir::LogicalResult", "buildGradient",
      (ins "::cnnc::cnn::GradientBuilder &":$gradients, "::mlir::Value":$grad)>,
    InterfaceMethod<[{
        Builds the op's training form in the train step (reading its operands
        through `gradients.lookup`) and returns the value that replaces its
        result, or a null value when the op is simply cloned.
      }], "::mlir::Value", "buildTrainingForm",
      (ins "::cnnc::cnn::GradientBuilder &":$gradients), [{}], [{ return {}; }]>,
    InterfaceMethod<[{
        Records PyTorch's default initialization of the parameters the op
        reads (when trained from scratch).
      }], "void", "initializeParameters",
      (ins "::cnnc::cnn::ParameterInitializer &":$init), [{}], [{ return; }]>,
  ];
}

def CNN_CostOpInterface : OpInterface<"CostOpInterface"> {
  let cppNamespace = "::cnnc::cnn";
  let description = [{
    The complexity of one op: what `cnnc --stats` reports per layer and what
    a kernel's FLOP count (printed by `cnnrun bench`) sums.
  }];
  let methods = [
    InterfaceMethod<[{
        Floating-point operations per batch item (for an op over parameters
        only: for the whole op).
      }], "double", "getFlopsPerItem", (ins), [{}], [{ return 0; }]>,
    InterfaceMethod<[{
        Multiply-adds per image, one per weight use (the time term).
      }], "int64_t", "getMultiplyAdds", (ins), [{}], [{ return 0; }]>,
    InterfaceMethod<[{
        Weights stored (the space term of the layer: Σ K²·C_in·C_out).
      }], "int64_t", "getWeightCount", (ins), [{}], [{ return 0; }]>,
    InterfaceMethod<[{
        Trainable parameters, as PyTorch's `parameters()` counts them.
      }], "int64_t", "getParameterCount", (ins), [{}],
      [{ return ::cnnc::cnn::countParameters($_op); }]>,
    InterfaceMethod<[{
        Elements of the feature map the op produces per image (0 for a view).
      }], "int64_t", "getActivationElements", (ins), [{}],
      [{ return ::cnnc::cnn::elementsPerItem($_op->getResult(0)); }]>,
    InterfaceMethod<[{
        The receptive field of the result, given those of the operands
        (parameters have the field of one pixel).
      }], "::cnnc::cnn::ReceptiveField", "getReceptiveField",
      (ins "::llvm::ArrayRef<::cnnc::cnn::ReceptiveField>":$operands), [{}],
      [{ return ::cnnc::cnn::ReceptiveField::merge(operands); }]>,
  ];
}

def CNN_HalideLowerableOpInterface : OpInterface<"HalideLowerableOpInterface"> {
  let cppNamespace = "::cnnc::cnn";
  let description = [{
    An op with a Halide algorithm. Attached as an external model by the
    Halide lowering library (`cnnc::registerHalideLowerings`).
  }];
  let methods = [
    InterfaceMethod<[{
        Defines the op's result in `kernel` from the Funcs of its operands
        and records the stages its schedule needs.
      }], "::mlir::LogicalResult", "lowerToHalide",
      (ins "::cnnc::halide::KernelBuilder &":$kernel)>,
  ];
}

/// Activations: fused into the loop nest of the conv or dense before them.
def CNN_Activation : NativeOpTrait<"CNNActivation">;

/// Shorthands for declaring the interfaces with the methods an op overrides.
class CNN_Cost<list<string> methods = []>
    : DeclareOpInterfaceMethods<CNN_CostOpInterface, methods>;
class CNN_Differentiable<list<string> methods = []>
    : DeclareOpInterfaceMethods<CNN_DifferentiableOpInterface, methods>;

#endif // CNN_INTERFACES_TD
