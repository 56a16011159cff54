//===- model.h - The loaded model: metadata, buffers and state --*- C++ -*-===//
//
// Defines struct cnnc_model, shared by the runtime's source files: what the
// metadata says (buffers, inputs, outputs, parameters, prepare kernels and
// steps; docs/runtime-abi.md), the library handle it came from, and the run
// state (storage, one persistent halide_buffer_t per metadata buffer, which
// parameters are set, whether `prepare` is current, the allocated batch).
// A buffer with `view_of` owns no storage: it aliases its root buffer's.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_SRC_MODEL_H
#define CNNC_RUNTIME_SRC_MODEL_H

#include "cnnc/model_abi.h"
#include "cnnc/runtime.h"

#include <HalideRuntime.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace cnnc::rt {

/// What a metadata buffer holds.
enum class BufferKind { Input, Param, Derived, Temp, Output };

/// One entry of the metadata's `buffers`.
struct BufferDesc {
  std::vector<int64_t> shape; ///< outermost first; -1 = batch
  BufferKind kind = BufferKind::Temp;
  int viewOf = -1;       ///< the buffer whose storage this one shares, or -1
  int root = -1;         ///< the buffer owning the storage (itself if not a view)
  int batchDim = -1;     ///< index of the -1 dimension in shape, or -1
  int64_t itemCount = 1; ///< elements per batch item (all elements if unbatched)
};

/// One entry of `inputs`, `outputs` or `parameters`.
struct TensorDesc {
  std::string name;
  std::vector<int64_t> shape;
  std::string layout;
  int buffer = -1;
  int64_t itemCount = 1;
  bool batched = false;
};

/// One entry of `prepare` or `steps`: a kernel call.
struct CallDesc {
  std::string name;
  int kernel = -1;
  std::vector<int> args;
  int64_t flops = 0;
  std::vector<void *> argPointers; ///< &halideBuffers[args[i]], fixed after load
};

/// 64-byte aligned float storage.
struct FreeDeleter {
  void operator()(float *p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], FreeDeleter>;

/// Allocates `count` zeroed floats aligned to 64 bytes; throws on failure.
AlignedFloats allocateFloats(int64_t count);

} // namespace cnnc::rt

/// The opaque model handle of the C API.
struct cnnc_model {
  // Where it came from.
  void *library = nullptr;
  const cnnc_model_desc *desc = nullptr;
  std::string path, name, target;

  // What the metadata says.
  std::vector<cnnc::rt::BufferDesc> buffers;
  std::vector<cnnc::rt::TensorDesc> inputs, outputs, parameters;
  std::vector<cnnc::rt::CallDesc> prepare, steps;

  // Run state.
  std::vector<cnnc::rt::AlignedFloats> storage; ///< per root buffer
  std::vector<int64_t> storageCount;            ///< elements allocated per root
  std::vector<halide_buffer_t> halideBuffers;   ///< one per metadata buffer
  std::vector<std::vector<halide_dimension_t>> dims;
  std::vector<bool> parameterSet;
  bool prepared = false;
  int64_t allocatedBatch = 0;

  // Halide runtime entry points inside model.so, for GPU-resident buffers.
  int (*copyToHost)(void *, halide_buffer_t *) = nullptr;
  int (*deviceFree)(void *, halide_buffer_t *) = nullptr;

  ~cnnc_model();
};

namespace cnnc::rt {

/// Parses and validates `json` into `model` (buffers, tensors, calls).
void parseMetadata(cnnc_model &model, const std::string &json);

/// Allocates the unbatched buffers and sets up the halide_buffer_t array.
void initBuffers(cnnc_model &model);

/// Index of the parameter named `name`, or -1.
int findParameter(const cnnc_model &model, const std::string &name);

/// Marks that the host copy of root buffer `root` changed, so buffers on a
/// device that share it re-upload.
void markHostWritten(cnnc_model &model, int root);

} // namespace cnnc::rt

#endif
