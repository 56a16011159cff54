//===- execute.cpp - Buffers and kernel calls -----------------------------===//
//
// Owns the memory of a model's buffers and runs its kernels. Unbatched
// buffers (params, derived, state, next, hyper) are allocated at load;
// batched ones (inputs, labels, temps, outputs) when the batch size grows
// past what is allocated (a smaller batch reuses the storage). Each metadata
// buffer has one persistent halide_buffer_t (dims innermost first, float32,
// host pointing at its root's storage). A CPU model binds the caller's input
// and output arrays to the kernels directly (HostBinding); only views are
// copied. A GPU model keeps every buffer in device memory (device.cpp): its
// batched buffers have no host memory, inputs are copied to the device and
// outputs back, and nothing else crosses unless the caller reads or writes
// a parameter or state. A session's execution context (session.cpp) is a
// cnnc_model too, set up by initSessionBuffers: its own buffers for what
// the inference steps compute, the model's for the parameters.
//
//===----------------------------------------------------------------------===//
#include "device.h"
#include "error.h"
#include "model.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <limits>
#include <new>

using namespace cnnc::rt;

namespace {

/// Host allocations ensureBatch refuses above this many bytes (0: none).
std::atomic<size_t> hostAllocationLimit{0};

/// What buffer `i` is, for messages: "input 'x'", "output 'y'", or "buffer
/// 4, the result of step 'conv1'" for a temporary.
std::string bufferName(const cnnc_model &model, int i) {
  for (const auto &[role, list] : {std::pair{"input", &model.inputs},
                                   {"output", &model.outputs},
                                   {"parameter", &model.parameters},
                                   {"optimizer state", &model.train.state}})
    for (const TensorDesc &t : *list)
      if (t.buffer == i)
        return std::string(role) + " '" + t.name + "'";
  std::string name = "buffer " + std::to_string(i);
  if (i == model.train.labels)
    return name + " (the labels)";
  for (const std::vector<CallDesc> *calls : {&model.steps, &model.train.steps})
    for (const CallDesc &c : *calls)
      if (!c.args.empty() && model.buffers[c.args.back()].root == i)
        return name + ", the result of step '" + c.name + "'";
  return name;
}

/// Fills model.halideBuffers[i] for the current storage and batch.
void describeBuffer(cnnc_model &model, size_t i, int64_t batch) {
  const BufferDesc &d = model.buffers[i];
  halide_buffer_t &hb = model.halideBuffers[i];
  std::vector<halide_dimension_t> &dims = model.dims[i];
  int rank = int(d.shape.size());
  dims.assign(rank, halide_dimension_t());
  constexpr int64_t maxExtent = std::numeric_limits<int32_t>::max();
  auto tooLarge = [&] {
    fail(CNNC_ERROR_OUT_OF_MEMORY, bufferName(model, int(i)) + " of shape " + shapeString(d.shape) +
                                       " at batch " + std::to_string(batch) +
                                       " exceeds Halide's 32-bit extents (at most " +
                                       std::to_string(maxExtent) + " elements)");
  };
  int64_t stride = 1;
  for (int k = 0; k < rank; ++k) {
    // Halide's dim[0] is the innermost (last) dimension of the shape.
    int64_t extent = d.shape[rank - 1 - k] == -1 ? batch : d.shape[rank - 1 - k];
    if (extent > maxExtent || stride > maxExtent)
      tooLarge();
    dims[k].min = 0;
    dims[k].extent = int32_t(extent);
    dims[k].stride = int32_t(stride);
    dims[k].flags = 0;
    stride *= extent; // both factors are below 2^31: no overflow
  }
  if (stride > maxExtent)
    tooLarge();
  // device, device_interface and flags belong to the root's device memory (device.cpp).
  hb.host = reinterpret_cast<uint8_t *>(model.storage[d.root].get());
  hb.type.code = halide_type_float;
  hb.type.bits = 32;
  hb.type.lanes = 1;
  hb.dimensions = rank;
  hb.dim = dims.data();
  hb.padding = nullptr;
}

/// Allocates `count` floats for root buffer `i` at `batch`; running out of
/// memory (or past the test limit) fails naming the buffer, its size, its
/// shape and the batch (`batch` 0: an unbatched buffer).
AlignedFloats allocateBuffer(const cnnc_model &model, int i, int64_t count, int64_t batch) {
  const BufferDesc &d = model.buffers[i];
  if (count < 0 || uint64_t(count) > std::numeric_limits<uint64_t>::max() / sizeof(float))
    fail(CNNC_ERROR_OUT_OF_MEMORY, bufferName(model, i) + " of shape " + shapeString(d.shape) +
                                       " has " + std::to_string(count) +
                                       " elements, more than memory can hold");
  uint64_t bytes = uint64_t(count) * sizeof(float);
  auto outOfMemory = [&] {
    fail(CNNC_ERROR_OUT_OF_MEMORY, "cannot allocate " + std::to_string(bytes) + " bytes for " +
                                       bufferName(model, i) + " (shape " + shapeString(d.shape) +
                                       (batch > 0 ? ", batch " + std::to_string(batch) : "") + ")");
  };
  size_t limit = hostAllocationLimit.load(std::memory_order_relaxed);
  if (limit != 0 && bytes > limit)
    outOfMemory();
  try {
    return allocateFloats(count);
  } catch (const RuntimeError &e) {
    if (e.status != CNNC_ERROR_OUT_OF_MEMORY)
      throw;
  } catch (const std::bad_alloc &) {
  }
  outOfMemory();
  return nullptr; // not reached
}

/// Points each call's arguments at the model's halide_buffer_t array.
void setArgumentPointers(cnnc_model &model) {
  for (std::vector<CallDesc> *calls :
       {&model.prepare, &model.steps, &model.train.steps, &model.train.evalSteps})
    for (CallDesc &c : *calls) {
      c.argPointers.clear();
      for (int a : c.args)
        c.argPointers.push_back(&model.halideBuffers[a]);
    }
}

} // namespace

namespace cnnc::rt {

void callKernel(cnnc_model &model, CallDesc &call, const char *phase, double *ms) {
  KernelErrorScope errors;
  if (model.onDevice())
    for (int a : call.args)
      uploadIfHostWritten(model, model.buffers[a].root);
  int rc;
  if (!ms) {
    rc = model.desc->kernels[call.kernel](call.argPointers.data());
  } else {
    // A GPU model's kernels run asynchronously: time them between two waits.
    if (model.onDevice())
      waitForDevice(model, call.args.back());
    auto start = std::chrono::steady_clock::now();
    rc = model.desc->kernels[call.kernel](call.argPointers.data());
    if (rc == 0 && model.onDevice())
      waitForDevice(model, call.args.back());
    *ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  if (model.onDevice())
    noteDeviceWrites(model, call);
  if (rc != 0) {
    std::string kernelName;
    if (model.desc->kernel_names && model.desc->kernel_names[call.kernel])
      kernelName = std::string(" '") + model.desc->kernel_names[call.kernel] + "'";
    // Halide reports a failed device allocation (its own or the driver's) with these codes.
    bool outOfMemory =
        rc == halide_error_code_out_of_memory || rc == halide_error_code_device_malloc_failed;
    fail(outOfMemory ? CNNC_ERROR_OUT_OF_MEMORY : CNNC_ERROR_KERNEL,
         std::string(phase) + " '" + call.name + "' (kernel " + std::to_string(call.kernel) +
             kernelName + ") returned error code " + std::to_string(rc) + ": " + takeKernelError());
  }
}

void callKernels(cnnc_model &model, std::vector<CallDesc> &calls, const char *phase,
                 double *stepMs) {
  for (size_t i = 0; i < calls.size(); ++i)
    callKernel(model, calls[i], phase, stepMs ? &stepMs[i] : nullptr);
}

void checkParametersSet(const cnnc_model &model) {
  for (size_t i = 0; i < model.parameters.size(); ++i)
    if (!model.parameterSet[i])
      fail(CNNC_ERROR_PARAMETER, "parameter '" + model.parameters[i].name +
                                     "' has not been set (load a safetensors file first)");
}

void prepareModel(cnnc_model &model) {
  checkParametersSet(model);
  callKernels(model, model.prepare, "prepare", nullptr);
  model.prepared = true;
}

HostBinding::~HostBinding() {
  for (int root : bound)
    point(root, reinterpret_cast<uint8_t *>(model.storage[root].get()));
}

bool HostBinding::bind(int buffer, float *data) {
  int root = model.buffers[buffer].root;
  if (root != buffer || model.onDevice())
    return false;
  for (int b : bound)
    if (b == root)
      return false;
  point(root, reinterpret_cast<uint8_t *>(data));
  bound.push_back(root);
  return true;
}

void HostBinding::bindOrCopy(int buffer, const float *data, int64_t count) {
  if (bind(buffer, const_cast<float *>(data)))
    return;
  if (model.onDevice()) {
    copyToDevice(model, buffer, data);
    return;
  }
  std::memcpy(model.storage[model.buffers[buffer].root].get(), data, size_t(count) * sizeof(float));
  markHostWritten(model, model.buffers[buffer].root);
}

void HostBinding::point(int root, uint8_t *host) {
  for (int view : model.sharers[root])
    model.halideBuffers[view].host = host;
}

/// Makes the batched buffers hold `batch` items. Memory only grows: a
/// smaller batch reuses it (the last partial batch of an epoch, then the
/// next full one, allocate nothing). A GPU model's batched buffers have
/// device memory only. Every size is checked against Halide's 32-bit
/// extents before anything is allocated.
void ensureBatch(cnnc_model &model, int64_t batch) {
  if (model.allocatedBatch == batch)
    return;
  model.allocatedBatch = 0; // until every buffer describes the new batch
  auto used = [&](size_t i) {
    return model.unused.empty() || !model.unused[model.buffers[i].root];
  };
  for (size_t i = 0; i < model.buffers.size(); ++i)
    if (model.buffers[i].batchDim >= 0 && used(i))
      describeBuffer(model, i, batch); // checks the extents
  for (size_t i = 0; i < model.buffers.size(); ++i) {
    const BufferDesc &d = model.buffers[i];
    if (d.root != int(i) || d.batchDim < 0 || !used(i))
      continue;
    int64_t count = d.itemCount * batch; // below 2^31: describeBuffer checked it
    if (model.onDevice() || model.storageCount[i] >= count)
      continue;
    model.storage[i].reset();
    model.storageCount[i] = 0;
    model.storage[i] = allocateBuffer(model, int(i), count, batch);
    model.storageCount[i] = count;
  }
  for (size_t i = 0; i < model.buffers.size(); ++i)
    if (model.buffers[i].batchDim >= 0 && used(i))
      describeBuffer(model, i, batch); // the new storage
  if (model.onDevice())
    for (size_t i = 0; i < model.buffers.size(); ++i) {
      const BufferDesc &d = model.buffers[i];
      if (d.root == int(i) && d.batchDim >= 0 && model.deviceCount[i] < d.itemCount * batch)
        allocateDeviceMemory(model, int(i));
    }
  model.allocatedBatch = batch;
}

void setHostAllocationLimit(size_t bytes) { hostAllocationLimit.store(bytes); }

void runModel(cnnc_model &m, const char *fn, int64_t batch, const float *const *inputs,
              float *const *outputs, double *stepMs) {
  cnnc_model *model = &m;
  if (batch < 1)
    fail(CNNC_ERROR_INVALID_ARGUMENT,
         "batch size must be at least 1, got " + std::to_string(batch));
  if (!model->inputs.empty() && !inputs)
    fail(CNNC_ERROR_INVALID_ARGUMENT, std::string(fn) + ": inputs is null");
  if (!model->outputs.empty() && !outputs)
    fail(CNNC_ERROR_INVALID_ARGUMENT, std::string(fn) + ": outputs is null");
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
  callKernels(*model, model->steps, "step", stepMs);
  for (size_t i = 0; i < model->outputs.size(); ++i) {
    if (outputBound[i])
      continue;
    const TensorDesc &t = model->outputs[i];
    if (model->onDevice()) {
      copyFromDevice(*model, t.buffer, outputs[i]);
      continue;
    }
    int64_t count = t.batched ? t.itemCount * batch : t.itemCount;
    std::memcpy(outputs[i], model->halideBuffers[t.buffer].host, size_t(count) * sizeof(float));
  }
}

/// Sizes the run state of `model` to its metadata: no storage yet, one
/// empty halide_buffer_t per buffer, every parameter set or none.
static void sizeRunState(cnnc_model &model, bool parametersSet) {
  size_t n = model.buffers.size();
  model.storage.resize(n);
  model.storageCount.assign(n, 0);
  model.deviceCount.assign(n, 0);
  model.sharers.assign(n, {});
  model.halideBuffers.assign(n, halide_buffer_t());
  model.dims.resize(n);
  model.parameterSet.assign(model.parameters.size(), parametersSet);
}

void initBuffers(cnnc_model &model) {
  size_t n = model.buffers.size();
  sizeRunState(model, false);
  for (size_t i = 0; i < n; ++i) {
    const BufferDesc &d = model.buffers[i];
    model.sharers[d.root].push_back(int(i));
    if (d.root == int(i) && d.batchDim < 0) {
      model.storage[i] = allocateBuffer(model, int(i), d.itemCount, 0);
      model.storageCount[i] = d.itemCount;
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (model.buffers[i].batchDim < 0)
      describeBuffer(model, i, 0);
  if (model.onDevice())
    for (size_t i = 0; i < n; ++i) {
      const BufferDesc &d = model.buffers[i];
      if (d.root != int(i) || d.batchDim >= 0)
        continue;
      allocateDeviceMemory(model, int(i));
      // What kernels read before any kernel writes it starts as the host's zeros.
      if (d.kind == BufferKind::Param || d.kind == BufferKind::State || d.kind == BufferKind::Hyper)
        markHostWritten(model, int(i));
    }
  setArgumentPointers(model);
}

void initSessionBuffers(cnnc_model &session, const cnnc_model &model) {
  size_t n = session.buffers.size();
  sizeRunState(session, true);
  session.prepared = true;
  // The roots the inference steps, inputs and outputs touch; the rest (the
  // training buffers) get no memory.
  session.unused.assign(n, true);
  for (const CallDesc &c : session.steps)
    for (int a : c.args)
      session.unused[session.buffers[a].root] = false;
  for (const std::vector<TensorDesc> *list : {&session.inputs, &session.outputs})
    for (const TensorDesc &t : *list)
      session.unused[session.buffers[t.buffer].root] = false;
  auto shared = [&](const BufferDesc &d) {
    BufferKind kind = session.buffers[d.root].kind;
    return kind == BufferKind::Param || kind == BufferKind::Derived;
  };
  for (size_t i = 0; i < n; ++i) {
    const BufferDesc &d = session.buffers[i];
    session.sharers[d.root].push_back(int(i));
    if (d.root == int(i) && d.batchDim < 0 && !session.unused[i] && !shared(d)) {
      session.storage[i] = allocateBuffer(session, int(i), d.itemCount, 0);
      session.storageCount[i] = d.itemCount;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const BufferDesc &d = session.buffers[i];
    if (d.batchDim >= 0)
      continue;
    describeBuffer(session, i, 0);
    if (shared(d)) // read only: no kernel of the inference steps writes a parameter
      session.halideBuffers[i].host = reinterpret_cast<uint8_t *>(model.storage[d.root].get());
  }
  setArgumentPointers(session);
}

} // namespace cnnc::rt

extern "C" cnnc_status cnnc_model_prepare(cnnc_model *model) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_prepare");
    if (!model)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_prepare: model is null");
    // Open sessions read the derived buffers: they were prepared when the
    // first one was created, and the parameters cannot have changed since.
    if (model->sessions.load() > 0 && model->prepared)
      return;
    prepareModel(*model);
  });
}

extern "C" cnnc_status cnnc_model_reserve(cnnc_model *model, int64_t batch) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_reserve");
    if (!model)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_reserve: model is null");
    if (batch < 1)
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "batch size must be at least 1, got " + std::to_string(batch));
    ensureBatch(*model, batch);
  });
}

extern "C" cnnc_status cnnc_model_run(cnnc_model *model, int64_t batch, const float *const *inputs,
                                      float *const *outputs) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_run");
    if (!model)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_run: model is null");
    runModel(*model, "cnnc_model_run", batch, inputs, outputs, nullptr);
  });
}

extern "C" cnnc_status cnnc_model_run_timed(cnnc_model *model, int64_t batch,
                                            const float *const *inputs, float *const *outputs,
                                            double *out_step_ms) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_run_timed");
    if (!model)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_run_timed: model is null");
    if (!out_step_ms)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_run_timed: out_step_ms is null");
    runModel(*model, "cnnc_model_run_timed", batch, inputs, outputs, out_step_ms);
  });
}
