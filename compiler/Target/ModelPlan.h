//===- ModelPlan.h - buffers, kernels and metadata of a model ---*- C++ -*-===//
//
// Walks the fused function once and decides what the runtime will see: one
// buffer per value (inputs, parameters, parameter-derived values, temporaries,
// flatten views), one kernel per cnn.group or remaining compute op, split
// into `prepare` kernels (over parameters only, run at load time) and
// `steps` (run per inference). Serializes it as the metadata JSON of
// docs/runtime-abi.md.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TARGET_MODELPLAN_H
#define CNNC_TARGET_MODELPLAN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include <optional>
#include <string>
#include <vector>

namespace cnnc {

struct PlannedBuffer {
  std::vector<int64_t> shape; ///< outermost first, -1 = batch
  /// input | param | derived | temp | output, and for training: state |
  /// hyper | labels | next (docs/runtime-abi.md)
  std::string kind;
  int viewOf = -1;
  /// The value the buffer was planned for (its first, for a buffer shared
  /// by name): where an error about the buffer is reported.
  mlir::Value value;
};

/// Which function of the module a kernel belongs to.
enum class Phase { Inference, Train, Eval };

struct PlannedKernel {
  mlir::Operation *op;             ///< cnn.group or a single compute op
  std::vector<mlir::Value> inputs; ///< external inputs in argument order
  std::string symbol;              ///< C name of the Halide pipeline
  std::string label;               ///< layer names, for profiles
  std::vector<int> args;           ///< buffer indices, outputs last
  bool prepare = false;            ///< parameters only: run at load time
  Phase phase = Phase::Inference;
  double flops = 0; ///< filled in after lowering
  /// The kernel whose compiled code this one calls (same fingerprint), or -1.
  int sharedWith = -1;
};

struct NamedBuffer {
  std::string name;
  int buffer;
};

/// How the runtime initializes a parameter (PyTorch's defaults).
struct ParameterInit {
  std::string name;
  std::string kind; ///< uniform | constant
  double value = 0; ///< the bound of `uniform`, the value of `constant`
};

/// What the train and eval functions add (absent without training).
struct TrainingPlan {
  mlir::DictionaryAttr config; ///< loss, optimizer, hyper-parameters, batch, epochs
  int labels = -1, lossBuffer = -1, correctBuffer = -1;
  std::vector<NamedBuffer> hyper, state;
  std::vector<ParameterInit> init;
  std::vector<std::pair<int, int>> swaps; ///< [current, next]
};

struct ModelPlan {
  std::string name;
  std::vector<PlannedBuffer> buffers;
  std::vector<PlannedKernel> kernels;
  std::vector<NamedBuffer> inputs, outputs, parameters;
  std::optional<TrainingPlan> training;

  /// Metadata JSON (docs/runtime-abi.md) for the given target string, device
  /// API ("cuda", "opencl", or "" for a CPU model) and model file name ("" for
  /// none).
  std::string metadataJson(const std::string &target, const std::string &deviceApi,
                           const std::string &source = "") const;
};

/// A text that is equal for two kernels exactly when they compute the same
/// function of their arguments: the kernel's IR printed without its layer
/// label or any value name from outside it (operand and result types
/// included). Kernels with equal fingerprints share one compiled object.
std::string kernelFingerprint(const PlannedKernel &kernel);

/// What the buffers of a plan occupy: `fixedBytes` (parameters, optimizer
/// state, hyper-parameters: buffers without a batch) plus `perItemBytes`
/// for each item of the batch. Views take nothing.
struct MemoryUse {
  uint64_t fixedBytes = 0, perItemBytes = 0;
  /// The batch the model is compiled for: the train batch of a model with a
  /// train step, else 1 (inference runs at any batch).
  int64_t batch = 1;
  bool trainBatch = false;
  /// fixedBytes + perItemBytes * batch, saturated at UINT64_MAX.
  uint64_t totalBytes() const;
};

/// The memory the buffers of `plan` occupy.
MemoryUse memoryUse(const ModelPlan &plan);

/// Refuses, with an error at the layer of the buffer, a plan the runtime
/// could not run: a buffer of more than limits::kMaxBufferElements elements
/// at the train batch, or buffers that need more than `maxMemoryBytes` in all
/// at the compiled batch (MemoryUse; `cnnc --max-memory`).
mlir::LogicalResult checkResourceLimits(const ModelPlan &plan, uint64_t maxMemoryBytes);

/// `bytes` as people read it: "512 B", "3.5 KiB", "1.2 GiB".
std::string formatBytes(uint64_t bytes);

/// Plans a fused module: its inference function and, when present, the train
/// and eval functions built by cnnc-autodiff (parameters, inputs and labels
/// are shared by name). Emits a diagnostic and fails on IR the back end
/// cannot run (e.g. an output that is a parameter).
mlir::FailureOr<ModelPlan> planModel(mlir::ModuleOp module);

} // namespace cnnc

#endif
