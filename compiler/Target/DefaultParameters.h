//===- DefaultParameters.h - parameter values embedded in model.so -*- C++ -*-===//
//
// A model.so may carry values for its parameters, which the runtime loads
// when it loads the model (a weights file passed later still replaces
// them): the initializers of an ONNX model, or `cnnc --embed-weights
// w.safetensors` for any model. They are stored as one safetensors blob
// holding exactly the model's parameters, in its metadata order, placed in
// the library's read-only data with an assembler `.incbin`. A weights file
// is read by the runtime's safetensors reader (runtime/src/safetensors.h),
// so it is checked, and a file of another format named, as `cnnrun
// --weights` would; a parameter it lacks is reported with the runtime's
// message (the file's nearest names, a prefix to strip).
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TARGET_DEFAULTPARAMETERS_H
#define CNNC_TARGET_DEFAULTPARAMETERS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
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
  /// A weights file's tensor names as stored, of any dtype (empty for
  /// ONNX initializers), and the prefix stripped from them to give the
  /// names of `tensors` (those without it are left out).
  std::vector<std::string> fileNames;
  std::string stripPrefix;
  /// Tensors (by stripped name) left out for a dtype other than F32.
  std::map<std::string, std::string> otherDtypes;
};

/// Reads every F32 tensor of a safetensors file (tensors of other dtypes,
/// e.g. batch norm's int64 num_batches_tracked, are skipped). With
/// `stripPrefix`, only the tensors whose names start with it are read,
/// under their names without it.
llvm::Expected<DefaultParameters> readSafetensorsFile(llvm::StringRef path,
                                                      llvm::StringRef stripPrefix = "");

/// The values of the model's `parameters` (name, shape), in order: an error
/// if one is missing (naming the file's nearest names and a prefix to
/// strip, as the runtime does), not F32, or of another shape.
llvm::Expected<std::vector<const ParameterValues *>>
selectParameters(const DefaultParameters &values,
                 const std::vector<std::pair<std::string, std::vector<int64_t>>> &parameters);

/// The safetensors bytes of `tensors` (F32, in order).
std::string safetensorsBlob(const std::vector<const ParameterValues *> &tensors);

} // namespace cnnc

#endif
