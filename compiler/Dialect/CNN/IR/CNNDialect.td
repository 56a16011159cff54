//===- CNNDialect.td - the cnn dialect ---------------------*- tablegen -*-===//
//
// The `cnn` dialect is cnnc's graph IR: one op per network layer, operating on
// ranked f32 tensors. Activations are NCHW (or NF after flatten) with a
// dynamic batch dimension and static C/H/W; parameters are static tensors
// named after PyTorch's state_dict keys.
//
//===----------------------------------------------------------------------===//
#ifndef CNN_DIALECT_TD
#define CNN_DIALECT_TD

include "mlir/IR/OpBase.td"

def CNN_Dialect : Dialect {
  let name = "cnn";
  let cppNamespace = "::cnnc::cnn";
  let summary = "Graph IR of convolutional neural networks";
  let description = [{
    Each op is one layer of a CNN. Values are ranked `f32` tensors: activations
    are `tensor<?xCxHxWxf32>` (NCHW, the batch size chosen at run time) or
    `tensor<?xFxf32>`; parameters are produced by `cnn.param` and carry their
    PyTorch name and layout (`OIHW` for conv weights, `[out, in]` for dense).
  }];
  let useDefaultAttributePrinterParser = 0;
  let useDefaultTypePrinterParser = 0;
}

class CNN_Op<string mnemonic, list<Trait> traits = []>
    : Op<CNN_Dialect, mnemonic, traits>;

#endif // CNN_DIALECT_TD
