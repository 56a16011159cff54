//===- DefaultParameters.h - parameter values embedded in model.so -*- C++ -*-===//
//
// A model.so may carry values for its parameters, which the runtime loads
// when it loads the model (a weights file passed later still replaces
// them): the initializers of an ONNX model, or `cnnc --embed-weights
// w.safetensors` for any model. They are stored as one safetensors blob
// holding exactly the model's parameters, in its metadata order, placed in
// the library's read-only data with an assembler `.incbin`.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TARGET_DEFAULTPARAMETERS_H
#define CNNC_TARGET_DEFAULTPARAMETERS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cnnc {

/// A float32 tensor by name, in PyTorch's layout.
struct ParameterValues {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

/// The values to embed and where they come from (named in messages).
struct DefaultParameters {
  std::string source;
  std::vector<ParameterValues> tensors;
};

/// Reads every F32 tensor of a safetensors file (tensors of other dtypes,
/// e.g. batch norm's int64 num_batches_tracked, are skipped).
llvm::Expected<DefaultParameters> readSafetensorsFile(llvm::StringRef path);

/// The safetensors bytes of `tensors` (F32, in order).
std::string safetensorsBlob(const std::vector<const ParameterValues *> &tensors);

} // namespace cnnc

#endif
