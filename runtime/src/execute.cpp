//===- execute.cpp - Buffers and kernel calls -----------------------------===//
//
// Owns the memory of a model's buffers and runs its kernels. Unbatched
// buffers (params, derived, state, next, hyper) are allocated at load;
// batched ones (inputs, labels, temps, outputs) when the batch size grows
// past what is allocated (a smaller batch reuses the storage). Each metadata buffer has
// one persistent halide_buffer_t (dims innermost first, float32, host
// pointing at its root's storage) so that a GPU pipeline's device
// allocation survives between calls. After each kernel, any argument the
// kernel left device-dirty is copied back to the host (halide_copy_to_host of
// the model's own Halide runtime), so host memory is always current and
// views stay coherent; for CPU models this never happens. The caller's input
// and output arrays are bound to the kernels directly (HostBinding); only
// views and device-resident buffers go through a copy.
//
//===----------------------------------------------------------------------===//
#include "error.h"
#include "model.h"

#include <chrono>
#include <cstring>
#include <limits>

using namespace cnnc::rt;

namespace {

/// Fills model.halideBuffers[i] for the current storage and batch.
void describeBuffer(cnnc_model &model, size_t i, int64_t batch) {
  const BufferDesc &d = model.buffers[i];
  halide_buffer_t &hb = model.halideBuffers[i];
  std::vector<halide_dimension_t> &dims = model.dims[i];
  int rank = int(d.shape.size());
  dims.assign(rank, halide_dimension_t());
  int64_t stride = 1;
  for (int k = 0; k < rank; ++k) {
    // Halide's dim[0] is the innermost (last) dimension of the shape.
    int64_t extent = d.shape[rank - 1 - k] == -1 ? batch : d.shape[rank - 1 - k];
    if (extent > std::numeric_limits<int32_t>::max() ||
        stride > std::numeric_limits<int32_t>::max())
      fail(CNNC_ERROR_OUT_OF_MEMORY,
           "buffer " + std::to_string(i) + " of shape " + shapeString(d.shape) + " at batch " +
               std::to_string(batch) + " exceeds Halide's 32-bit extents");
    dims[k].min = 0;
    dims[k].extent = int32_t(extent);
    dims[k].stride = int32_t(stride);
    dims[k].flags = 0;
    stride *= extent;
  }
  if (stride > std::numeric_limits<int32_t>::max())
    fail(CNNC_ERROR_OUT_OF_MEMORY, "buffer " + std::to_string(i) + " of shape " +
                                       shapeString(d.shape) + " at batch " + std::to_string(batch) +
                                       " exceeds Halide's 32-bit extents");
  if (hb.device && model.deviceFree)
    model.deviceFree(nullptr, &hb);
  hb.device = 0;
  hb.device_interface = nullptr;
  hb.host = reinterpret_cast<uint8_t *>(model.storage[d.root].get());
  // The host copy is the current one: a GPU pipeline uploads it before use.
  hb.flags = model.deviceApi.empty() ? 0 : halide_buffer_flag_host_dirty;
  hb.type.code = halide_type_float;
  hb.type.bits = 32;
  hb.type.lanes = 1;
  hb.dimensions = rank;
  hb.dim = dims.data();
  hb.padding = nullptr;
}

} // namespace

namespace cnnc::rt {

/// Calls one kernel and brings device-dirty results back to the host.
void callKernel(cnnc_model &model, CallDesc &call, const char *phase) {
  int rc = model.desc->kernels[call.kernel](call.argPointers.data());
  if (rc != 0) {
    std::string kernelName;
    if (model.desc->kernel_names && model.desc->kernel_names[call.kernel])
      kernelName = std::string(" '") + model.desc->kernel_names[call.kernel] + "'";
    fail(CNNC_ERROR_KERNEL, std::string(phase) + " '" + call.name + "' (kernel " +
                                std::to_string(call.kernel) + kernelName +
                                ") returned error code " + std::to_string(rc) +
                                (rc ? ": " + takeKernelError() : std::string()));
  }
  for (int a : call.args) {
    halide_buffer_t &hb = model.halideBuffers[a];
    if (!(hb.flags & halide_buffer_flag_device_dirty))
      continue;
    if (!model.copyToHost)
      fail(CNNC_ERROR_KERNEL, std::string(phase) + " '" + call.name +
                                  "' left its result on a device, and the model has no "
                                  "halide_copy_to_host");
    int crc = model.copyToHost(nullptr, &hb);
    if (crc != 0)
      fail(CNNC_ERROR_KERNEL, std::string(phase) + " '" + call.name +
                                  "': copying a result to the host failed with code " +
                                  std::to_string(crc));
    // Other buffers sharing this storage must re-upload before they are used on a device.
    int root = model.buffers[a].root;
    for (size_t i = 0; i < model.buffers.size(); ++i)
      if (int(i) != a && model.buffers[i].root == root && model.halideBuffers[i].device)
        model.halideBuffers[i].flags |= halide_buffer_flag_host_dirty;
  }
}

void checkParametersSet(const cnnc_model &model) {
  for (size_t i = 0; i < model.parameters.size(); ++i)
    if (!model.parameterSet[i])
      fail(CNNC_ERROR_PARAMETER, "parameter '" + model.parameters[i].name +
                                     "' has not been set (load a safetensors file first)");
}

void prepareModel(cnnc_model &model) {
  checkParametersSet(model);
  for (CallDesc &call : model.prepare)
    callKernel(model, call, "prepare");
  model.prepared = true;
}

HostBinding::~HostBinding() {
  for (int root : bound)
    point(root, reinterpret_cast<uint8_t *>(model.storage[root].get()));
}

bool HostBinding::bind(int buffer, float *data) {
  int root = model.buffers[buffer].root;
  if (root != buffer)
    return false;
  for (int b : bound)
    if (b == root)
      return false;
  for (size_t i = 0; i < model.buffers.size(); ++i)
    if (model.buffers[i].root == root && model.halideBuffers[i].device)
      return false;
  point(root, reinterpret_cast<uint8_t *>(data));
  bound.push_back(root);
  return true;
}

void HostBinding::bindOrCopy(int buffer, const float *data, int64_t count) {
  if (bind(buffer, const_cast<float *>(data)))
    return;
  std::memcpy(model.storage[model.buffers[buffer].root].get(), data, size_t(count) * sizeof(float));
  markHostWritten(model, model.buffers[buffer].root);
}

void HostBinding::point(int root, uint8_t *host) {
  for (size_t i = 0; i < model.buffers.size(); ++i)
    if (model.buffers[i].root == root)
      model.halideBuffers[i].host = host;
}

/// Makes the batched buffers hold `batch` items. Storage only grows: a
/// smaller batch reuses it (the last partial batch of an epoch, then the
/// next full one, allocate nothing).
void ensureBatch(cnnc_model &model, int64_t batch) {
  if (model.allocatedBatch == batch)
    return;
  for (size_t i = 0; i < model.buffers.size(); ++i) {
    const BufferDesc &d = model.buffers[i];
    if (d.root != int(i) || d.batchDim < 0)
      continue;
    if (batch > std::numeric_limits<int32_t>::max() / d.itemCount)
      fail(CNNC_ERROR_OUT_OF_MEMORY, "batch " + std::to_string(batch) +
                                         " is too large for buffer " + std::to_string(i) +
                                         " of shape " + shapeString(d.shape));
    if (model.storageCount[i] >= d.itemCount * batch)
      continue;
    model.storage[i].reset();
    model.storageCount[i] = 0;
    model.storage[i] = allocateFloats(d.itemCount * batch);
    model.storageCount[i] = d.itemCount * batch;
  }
  model.allocatedBatch = batch;
  for (size_t i = 0; i < model.buffers.size(); ++i)
    if (model.buffers[i].batchDim >= 0)
      describeBuffer(model, i, batch);
}

} // namespace cnnc::rt

namespace {

void runModel(cnnc_model *model, int64_t batch, const float *const *inputs, float *const *outputs,
              double *stepMs) {
  if (!model)
    fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_run: model is null");
  if (batch < 1)
    fail(CNNC_ERROR_INVALID_ARGUMENT,
         "batch size must be at least 1, got " + std::to_string(batch));
  if (!model->inputs.empty() && !inputs)
    fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_run: inputs is null");
  if (!model->outputs.empty() && !outputs)
    fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_run: outputs is null");
  for (size_t i = 0; i < model->inputs.size(); ++i)
    if (!inputs[i])
      fail(CNNC_ERROR_INVALID_ARGUMENT, "input '" + model->inputs[i].name + "' is null");
  for (size_t i = 0; i < model->outputs.size(); ++i)
    if (!outputs[i])
      fail(CNNC_ERROR_INVALID_ARGUMENT, "output '" + model->outputs[i].name + "' is null");
  if (!model->prepared)
    prepareModel(*model);
  ensureBatch(*model, batch);

  // Bind the caller's input and output arrays directly where possible (no
  // copies): every view of the same storage is re-pointed for this call and
  // restored afterwards, also when a kernel fails.
  HostBinding binding(*model);
  for (size_t i = 0; i < model->inputs.size(); ++i) {
    const TensorDesc &t = model->inputs[i];
    binding.bindOrCopy(t.buffer, inputs[i], t.batched ? t.itemCount * batch : t.itemCount);
  }
  std::vector<bool> outputBound(model->outputs.size());
  for (size_t i = 0; i < model->outputs.size(); ++i)
    outputBound[i] = binding.bind(model->outputs[i].buffer, outputs[i]);
  for (size_t s = 0; s < model->steps.size(); ++s) {
    auto start = std::chrono::steady_clock::now();
    callKernel(*model, model->steps[s], "step");
    if (stepMs)
      stepMs[s] =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
  }
  for (size_t i = 0; i < model->outputs.size(); ++i) {
    if (outputBound[i])
      continue;
    const TensorDesc &t = model->outputs[i];
    int64_t count = t.batched ? t.itemCount * batch : t.itemCount;
    std::memcpy(outputs[i], model->halideBuffers[t.buffer].host, size_t(count) * sizeof(float));
  }
}

} // namespace

namespace cnnc::rt {

void initBuffers(cnnc_model &model) {
  size_t n = model.buffers.size();
  model.storage.resize(n);
  model.storageCount.assign(n, 0);
  model.halideBuffers.assign(n, halide_buffer_t());
  model.dims.resize(n);
  model.parameterSet.assign(model.parameters.size(), false);
  for (size_t i = 0; i < n; ++i) {
    const BufferDesc &d = model.buffers[i];
    if (d.root == int(i) && d.batchDim < 0) {
      model.storage[i] = allocateFloats(d.itemCount);
      model.storageCount[i] = d.itemCount;
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (model.buffers[i].batchDim < 0)
      describeBuffer(model, i, 0);
  for (std::vector<CallDesc> *calls :
       {&model.prepare, &model.steps, &model.train.steps, &model.train.evalSteps})
    for (CallDesc &c : *calls) {
      c.argPointers.clear();
      for (int a : c.args)
        c.argPointers.push_back(&model.halideBuffers[a]);
    }
}

void markHostWritten(cnnc_model &model, int root) {
  if (model.deviceApi.empty())
    return;
  for (size_t i = 0; i < model.buffers.size(); ++i)
    if (model.buffers[i].root == root)
      model.halideBuffers[i].flags |= halide_buffer_flag_host_dirty;
}

} // namespace cnnc::rt

extern "C" cnnc_status cnnc_model_prepare(cnnc_model *model) {
  return guard([&] {
    if (!model)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_prepare: model is null");
    prepareModel(*model);
  });
}

extern "C" cnnc_status cnnc_model_run(cnnc_model *model, int64_t batch, const float *const *inputs,
                                      float *const *outputs) {
  return guard([&] { runModel(model, batch, inputs, outputs, nullptr); });
}

extern "C" cnnc_status cnnc_model_run_timed(cnnc_model *model, int64_t batch,
                                            const float *const *inputs, float *const *outputs,
                                            double *out_step_ms) {
  return guard([&] {
    if (!out_step_ms)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_run_timed: out_step_ms is null");
    runModel(model, batch, inputs, outputs, out_step_ms);
  });
}
