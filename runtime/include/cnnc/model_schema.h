// cnnc model schema: every name that crosses the model.so ABI.
//
// The compiler writes a model.so's metadata JSON (docs/runtime-abi.md) and
// the runtime reads it back; the model file's `train:` section, the autodiff
// pass and the planner all speak of the same losses, optimizers,
// hyper-parameters and buffer kinds. Each such name is spelled here once,
// and every side includes this header instead of retyping it. Plain C++17,
// no dependencies, so the runtime stays small.
#ifndef CNNC_MODEL_SCHEMA_H
#define CNNC_MODEL_SCHEMA_H

#include "cnnc/model_abi.h"

#include <array>
#include <cstdint>
#include <string_view>

namespace cnnc::schema {

/// The ABI version written into the metadata and the model descriptor.
inline constexpr unsigned kAbiVersion = CNNC_MODEL_ABI_VERSION;

/// The most elements one buffer may hold: per batch item, and in all at the
/// batch of a call. The kernels index their buffers with 32-bit integers
/// (Halide without its large_buffers feature), so a larger buffer cannot be
/// addressed; cnnc refuses a model with a larger buffer at compile time, and
/// the runtime refuses such metadata and such batches.
inline constexpr std::int64_t kMaxBufferElements = 2147483647; // 2^31 - 1

/// The symbol every model.so exports (declared in model_abi.h); the runtime
/// looks it up by this name.
inline constexpr std::string_view kEntryPoint = "cnnc_model_v1";

/// The ELF section of model.so that holds the metadata JSON, so cnnc and the
/// runtime can read it without loading the library.
inline constexpr std::string_view kMetadataSection = "cnnc_metadata";

/// Top-level keys of the metadata object.
namespace key {
inline constexpr std::string_view kAbiVersion = "abi_version";
inline constexpr std::string_view kName = "name";
/// The name of the model file the library was compiled from (no directory).
inline constexpr std::string_view kSource = "source";
inline constexpr std::string_view kTarget = "target";
/// "cuda" or "opencl" for a model whose kernels run on a GPU; absent for CPU models.
inline constexpr std::string_view kDeviceApi = "device_api";
inline constexpr std::string_view kInputs = "inputs";
inline constexpr std::string_view kOutputs = "outputs";
inline constexpr std::string_view kParameters = "parameters";
inline constexpr std::string_view kBuffers = "buffers";
inline constexpr std::string_view kPrepare = "prepare";
inline constexpr std::string_view kSteps = "steps";
inline constexpr std::string_view kTrain = "train";
// A named tensor (inputs, outputs, parameters, state) and a buffer.
inline constexpr std::string_view kShape = "shape";
inline constexpr std::string_view kLayout = "layout";
inline constexpr std::string_view kBuffer = "buffer";
inline constexpr std::string_view kKind = "kind";
inline constexpr std::string_view kViewOf = "view_of";
// A kernel call.
inline constexpr std::string_view kKernel = "kernel";
inline constexpr std::string_view kArgs = "args";
inline constexpr std::string_view kFlops = "flops";
// The `train` object.
inline constexpr std::string_view kLoss = "loss";
inline constexpr std::string_view kOptimizer = "optimizer";
inline constexpr std::string_view kBatch = "batch";
inline constexpr std::string_view kEpochs = "epochs";
inline constexpr std::string_view kLabels = "labels";
inline constexpr std::string_view kHyper = "hyper";
inline constexpr std::string_view kLossBuffer = "loss_buffer";
inline constexpr std::string_view kCorrectBuffer = "correct_buffer";
inline constexpr std::string_view kState = "state";
inline constexpr std::string_view kInit = "init";
inline constexpr std::string_view kEvalSteps = "eval_steps";
inline constexpr std::string_view kSwaps = "swaps";
/// The default label smoothing of a cross-entropy loss, and the default
/// max_norm of gradient clipping (present when the step computes the norm).
inline constexpr std::string_view kLabelSmoothing = "label_smoothing";
inline constexpr std::string_view kClipGradNorm = "clip_grad_norm";
// An `init` entry.
inline constexpr std::string_view kBound = "bound";
inline constexpr std::string_view kValue = "value";
} // namespace key

/// The kind of a planned buffer: who writes it and when.
namespace buffer_kind {
inline constexpr std::string_view kInput = "input";     // the caller's input array
inline constexpr std::string_view kParam = "param";     // loaded from safetensors
inline constexpr std::string_view kDerived = "derived"; // computed from parameters at load
inline constexpr std::string_view kTemp = "temp";       // scratch of one call
inline constexpr std::string_view kOutput = "output";   // the caller's output array
inline constexpr std::string_view kState = "state";     // optimizer state (moments)
inline constexpr std::string_view kHyper = "hyper";     // a hyper-parameter scalar
inline constexpr std::string_view kLabels = "labels";   // the labels of a train step
inline constexpr std::string_view kNext = "next";       // a param/state's value after the step
} // namespace buffer_kind

/// Values of the metadata's "device_api": the GPU API a model's kernels run on.
namespace device_api {
inline constexpr std::string_view kCuda = "cuda";
inline constexpr std::string_view kOpenCL = "opencl";
inline constexpr std::array<std::string_view, 2> kAll = {kCuda, kOpenCL};
} // namespace device_api

/// Losses, as the model file names them (`train: {loss: ...}`).
namespace loss {
inline constexpr std::string_view kCrossEntropy = "cross_entropy";
inline constexpr std::string_view kMse = "mse";
/// The metadata's name of the cross-entropy loss (computed on the logits
/// of a final softmax).
inline constexpr std::string_view kSoftmaxCrossEntropy = "softmax_cross_entropy";
inline constexpr std::array<std::string_view, 2> kAll = {kCrossEntropy, kMse};
} // namespace loss

/// Optimizers and their hyper-parameters (PyTorch's names and defaults).
namespace optimizer {
inline constexpr std::string_view kAdam = "adam";
inline constexpr std::string_view kAdamW = "adamw";
inline constexpr std::string_view kSgd = "sgd";
inline constexpr std::array<std::string_view, 3> kAll = {kAdam, kAdamW, kSgd};
/// The value of the `optimizer` hyper-parameter that selects each rule in an
/// Adam-compiled update kernel (which can run all three).
inline constexpr float kSgdCode = 0, kAdamCode = 1, kAdamWCode = 2;
inline constexpr std::string_view kName = "name";
inline constexpr std::string_view kLr = "lr";
inline constexpr std::string_view kWeightDecay = "weight_decay";
inline constexpr std::string_view kBeta1 = "beta1";
inline constexpr std::string_view kBeta2 = "beta2";
inline constexpr std::string_view kEpsilon = "epsilon";
inline constexpr std::string_view kMomentum = "momentum";
inline constexpr std::string_view kDampening = "dampening";
inline constexpr std::string_view kNesterov = "nesterov";
/// Optimizer state slots, suffixed to the parameter name (`conv1.weight.exp_avg`).
inline constexpr std::string_view kExpAvg = "exp_avg";
inline constexpr std::string_view kExpAvgSq = "exp_avg_sq";
inline constexpr std::string_view kMomentumBuffer = "momentum_buffer";
} // namespace optimizer

/// Hyper-parameters the runtime sets before each train step. The optimizer's
/// settings are read by the update kernels at run time, so they can change
/// between steps without recompiling.
namespace hyper {
inline constexpr std::string_view kLr = "lr"; // learning rate
inline constexpr std::string_view kStep =
    "step"; // 1-based step of Adam's moments (bias correction)
inline constexpr std::string_view kSeed = "seed"; // dropout seed
/// The rule of an Adam-compiled update: optimizer::kSgdCode, kAdamCode or kAdamWCode.
inline constexpr std::string_view kOptimizer = "optimizer";
inline constexpr std::string_view kWeightDecay = optimizer::kWeightDecay;
inline constexpr std::string_view kMomentum = optimizer::kMomentum;
inline constexpr std::string_view kDampening = optimizer::kDampening;
inline constexpr std::string_view kNesterov = optimizer::kNesterov; // 0 or 1
inline constexpr std::string_view kBeta1 = optimizer::kBeta1;
inline constexpr std::string_view kBeta2 = optimizer::kBeta2;
inline constexpr std::string_view kEpsilon = optimizer::kEpsilon;
/// Cross-entropy's label smoothing in [0, 1) (train and eval steps).
inline constexpr std::string_view kLabelSmoothing = key::kLabelSmoothing;
/// Gradient clipping's max_norm (0: no clipping), with a compiled norm.
inline constexpr std::string_view kClipGradNorm = key::kClipGradNorm;
inline constexpr std::array<std::string_view, 13> kAll = {
    kLr,       kStep,  kSeed,  kOptimizer, kWeightDecay,    kMomentum,    kDampening,
    kNesterov, kBeta1, kBeta2, kEpsilon,   kLabelSmoothing, kClipGradNorm};
} // namespace hyper

/// Parameter initializations of the `init` list.
namespace init {
inline constexpr std::string_view kUniform = "uniform";   // U(-bound, bound)
inline constexpr std::string_view kConstant = "constant"; // value
inline constexpr std::array<std::string_view, 2> kAll = {kUniform, kConstant};
} // namespace init

/// Names of the train step's extra input and outputs.
namespace step_io {
inline constexpr std::string_view kLabels = "labels";
inline constexpr std::string_view kLoss = "loss";
inline constexpr std::string_view kCorrect = "correct";
} // namespace step_io

} // namespace cnnc::schema

#endif
