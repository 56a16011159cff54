//===- OnnxImporter.h - ONNX model -> cnn dialect ---------------*- C++ -*-===//
//
// Reads an ONNX model (a protobuf ModelProto, opsets 9 to 17 of the default
// domain) and builds the same kind of module the YAML frontend builds: one
// func.func whose argument is the model input (`tensor<?xCxHxWxf32>`, arg
// attribute `cnn.name` = the ONNX input's name) and whose result is the
// model output. Initializers that a node reads as its weights become
// parameters under their ONNX names (for a `torch.onnx.export`, the
// state_dict's names); initializers and Constant nodes read as shapes or
// axes, and the shape arithmetic the exporter emits around Reshape, are
// folded at import. Every op is located at NameLoc(node name, "<op type>").
//
// Errors name the node: `model.onnx: error: node 'Conv_12' (Conv): ...`,
// printed to stderr; the importer then returns null.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_FRONTENDS_ONNX_ONNXIMPORTER_H
#define CNNC_FRONTENDS_ONNX_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

namespace cnnc {

struct DefaultParameters;

/// Imports the ONNX model file at `path`, and stores in `parameters` the
/// value of every parameter (the initializers the model's nodes read as
/// weights), to be embedded in model.so. Returns null after printing the
/// error to `errors` when the file cannot be read or the model has anything
/// cnnc does not implement.
mlir::OwningOpRef<mlir::ModuleOp> importOnnxModel(llvm::StringRef path, mlir::MLIRContext *context,
                                                  llvm::raw_ostream &errors,
                                                  DefaultParameters &parameters);

} // namespace cnnc

#endif
