//===- device.cpp - A GPU model's buffers in device memory ----------------===//
//
// A GPU model's buffers stay in device memory for the life of the model.
// Every root buffer gets device memory from the model's own Halide runtime
// (halide_device_malloc, reached through the descriptor) when it gets its
// shape: unbatched ones at load, batched ones when the batch grows past what
// is allocated (a smaller batch reuses the memory, so steady-state calls
// allocate nothing). A view gets the root's `device` and `device_interface`:
// for CUDA that is the device pointer, for OpenCL a handle holding the
// cl_mem and an offset of 0; either describes the whole allocation, and a
// view has its root's element count, so the kernels see the same memory.
// Only the root frees it.
//
// The Halide dirty flags are kept equal across a root and its views:
// host-dirty when the host wrote the whole buffer (parameters, state, the
// hyper-parameter scalars), device-dirty when a kernel wrote it. Data
// crosses only here: a host-written argument is uploaded before the first
// kernel that reads it; inputs and labels go from the caller's arrays
// straight to the device and outputs straight back (batched buffers have
// no host memory at all); the host copy of an unbatched buffer (a
// parameter, state, the loss) is refreshed when read, and only if a kernel
// changed it. Kernels therefore never see a host-dirty buffer and copy
// nothing themselves.
//
// The driver check dlopens the driver library with RTLD_GLOBAL and keeps
// it: Halide's runtime looks the driver's functions up in the process first,
// so it uses the same library even where only the versioned name exists.
//
//===----------------------------------------------------------------------===//
#include "device.h"
#include "error.h"

#include "cnnc/model_schema.h"

#include <dlfcn.h>

#include <mutex>

namespace cnnc::rt {

namespace {

/// ": <Halide's message> (Halide error <code>)", for a failed Halide call.
std::string halideFailure(int code) {
  std::string message = takeKernelError();
  return (message.empty() ? "" : ": " + message) + " (Halide error " + std::to_string(code) + ")";
}

/// "buffer 3 [-1,32,26,26] at batch 8", for messages.
std::string describe(const cnnc_model &model, int buffer) {
  const BufferDesc &d = model.buffers[buffer];
  std::string text = "buffer " + std::to_string(buffer) + " " + shapeString(d.shape);
  if (d.batchDim >= 0)
    text += " at batch " +
            std::to_string(model.halideBuffers[buffer].dim[d.shape.size() - 1 - d.batchDim].extent);
  return text;
}

int64_t elementCount(const halide_buffer_t &hb) {
  int64_t count = 1;
  for (int k = 0; k < hb.dimensions; ++k)
    count *= hb.dim[k].extent;
  return count;
}

// The few driver functions the check calls, declared here (no driver headers).
using CuInit = int (*)(unsigned flags);
using CuDeviceGetCount = int (*)(int *count);
using ClGetPlatformIDs = int32_t (*)(uint32_t entries, void **platforms, uint32_t *count);
using ClGetDeviceIDs = int32_t (*)(void *platform, uint64_t type, uint32_t entries, void **devices,
                                   uint32_t *count);
constexpr int kCudaErrorNoDevice = 100;
constexpr int32_t kClDeviceNotFound = -1;
constexpr int32_t kClPlatformNotFoundKhr = -1001;
constexpr uint64_t kClDeviceTypeAll = 0xFFFFFFFF;

/// Why a CUDA model cannot run here, or "" if it can.
std::string cudaProblem() {
  const std::string prefix = "model.so targets CUDA, but ";
  void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (!driver)
    return prefix + "no CUDA driver (libcuda.so.1) was found";
  auto cuInit = reinterpret_cast<CuInit>(dlsym(driver, "cuInit"));
  auto cuDeviceGetCount = reinterpret_cast<CuDeviceGetCount>(dlsym(driver, "cuDeviceGetCount"));
  if (!cuInit || !cuDeviceGetCount)
    return prefix + "libcuda.so.1 lacks cuInit or cuDeviceGetCount";
  const std::string noDevice = prefix + "the CUDA driver found no device (cuDeviceGetCount: 0)";
  int rc = cuInit(0);
  if (rc == kCudaErrorNoDevice)
    return noDevice;
  if (rc != 0)
    return prefix + "the CUDA driver failed to initialize (cuInit returned error " +
           std::to_string(rc) + ")";
  int count = 0;
  rc = cuDeviceGetCount(&count);
  if (rc != 0)
    return prefix + "cuDeviceGetCount returned error " + std::to_string(rc);
  return count > 0 ? "" : noDevice;
}

/// Why an OpenCL model cannot run here, or "" if it can.
std::string openclProblem() {
  const std::string prefix = "model.so targets OpenCL, but ";
  void *driver = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (!driver)
    return prefix + "no OpenCL driver (libOpenCL.so.1) was found";
  auto clGetPlatformIDs = reinterpret_cast<ClGetPlatformIDs>(dlsym(driver, "clGetPlatformIDs"));
  auto clGetDeviceIDs = reinterpret_cast<ClGetDeviceIDs>(dlsym(driver, "clGetDeviceIDs"));
  if (!clGetPlatformIDs || !clGetDeviceIDs)
    return prefix + "libOpenCL.so.1 lacks clGetPlatformIDs or clGetDeviceIDs";
  uint32_t platformCount = 0;
  int32_t rc = clGetPlatformIDs(0, nullptr, &platformCount);
  if (rc != 0 && rc != kClPlatformNotFoundKhr)
    return prefix + "clGetPlatformIDs returned error " + std::to_string(rc);
  if (rc != 0 || platformCount == 0)
    return prefix + "no OpenCL platform was found (clGetPlatformIDs: 0)";
  std::vector<void *> platforms(platformCount);
  if (clGetPlatformIDs(platformCount, platforms.data(), &platformCount) != 0)
    return prefix + "clGetPlatformIDs failed to list the platforms";
  uint32_t deviceCount = 0;
  for (void *platform : platforms) {
    uint32_t count = 0;
    rc = clGetDeviceIDs(platform, kClDeviceTypeAll, 0, nullptr, &count);
    if (rc == 0)
      deviceCount += count;
    else if (rc != kClDeviceNotFound)
      return prefix + "clGetDeviceIDs returned error " + std::to_string(rc);
  }
  if (deviceCount == 0)
    return prefix + "no OpenCL device was found (clGetDeviceIDs: 0 on " +
           std::to_string(platformCount) + " platform(s))";
  return "";
}

} // namespace

DriverCheck deviceDriverCheck = checkInstalledDriver;

void checkInstalledDriver(const std::string &deviceApi) {
  static std::once_flag cudaChecked, openclChecked;
  static std::string cudaAnswer, openclAnswer;
  const std::string *problem = nullptr;
  if (deviceApi == schema::device_api::kCuda) {
    std::call_once(cudaChecked, [] { cudaAnswer = cudaProblem(); });
    problem = &cudaAnswer;
  } else {
    std::call_once(openclChecked, [] { openclAnswer = openclProblem(); });
    problem = &openclAnswer;
  }
  if (!problem->empty())
    fail(CNNC_ERROR_DEVICE, *problem);
}

void allocateDeviceMemory(cnnc_model &model, int root) {
  freeDeviceMemory(model, root);
  halide_buffer_t &hb = model.halideBuffers[root];
  int rc = model.halide.device_malloc(nullptr, &hb, model.deviceInterface);
  if (rc != 0 || !hb.device) {
    hb.device = 0;
    hb.device_interface = nullptr;
    fail(CNNC_ERROR_OUT_OF_MEMORY,
         "cannot allocate " + std::to_string(elementCount(hb) * int64_t(sizeof(float))) +
             " bytes of device memory for " + describe(model, root) + halideFailure(rc));
  }
  model.deviceCount[root] = elementCount(hb);
  for (int view : model.sharers[root]) {
    model.halideBuffers[view].device = hb.device;
    model.halideBuffers[view].device_interface = hb.device_interface;
  }
  setDirtyFlags(model, root, 0);
}

void freeDeviceMemory(cnnc_model &model, int root) {
  halide_buffer_t &hb = model.halideBuffers[root];
  setDirtyFlags(model, root, 0);
  if (hb.device)
    model.halide.device_free(nullptr, &hb); // nothing to do if it fails
  for (int view : model.sharers[root]) {
    model.halideBuffers[view].device = 0;
    model.halideBuffers[view].device_interface = nullptr;
  }
  model.deviceCount[root] = 0;
}

void setDirtyFlags(cnnc_model &model, int root, uint64_t flags) {
  for (int view : model.sharers[root])
    model.halideBuffers[view].flags = flags;
}

void markHostWritten(cnnc_model &model, int root) {
  if (model.onDevice())
    setDirtyFlags(model, root, halide_buffer_flag_host_dirty);
}

void uploadIfHostWritten(cnnc_model &model, int root) {
  halide_buffer_t &hb = model.halideBuffers[root];
  if (!(hb.flags & halide_buffer_flag_host_dirty))
    return;
  int rc = model.halide.copy_to_device(nullptr, &hb, model.deviceInterface);
  if (rc != 0)
    fail(CNNC_ERROR_DEVICE,
         "copying " + describe(model, root) + " to the device failed" + halideFailure(rc));
  setDirtyFlags(model, root, 0);
}

void copyToDevice(cnnc_model &model, int buffer, const float *data) {
  int root = model.buffers[buffer].root;
  halide_buffer_t &hb = model.halideBuffers[root];
  uint8_t *ownHost = hb.host;
  hb.host = reinterpret_cast<uint8_t *>(const_cast<float *>(data));
  hb.flags = halide_buffer_flag_host_dirty; // Halide copies only a host-dirty buffer
  int rc = model.halide.copy_to_device(nullptr, &hb, model.deviceInterface);
  hb.host = ownHost;
  // The device now holds the newest value; a host copy, if any, is stale.
  setDirtyFlags(model, root, halide_buffer_flag_device_dirty);
  if (rc != 0)
    fail(CNNC_ERROR_DEVICE,
         "copying " + describe(model, root) + " to the device failed" + halideFailure(rc));
}

void copyFromDevice(cnnc_model &model, int buffer, float *data) {
  uploadIfHostWritten(model, model.buffers[buffer].root);
  halide_buffer_t &hb = model.halideBuffers[buffer];
  uint8_t *ownHost = hb.host;
  uint64_t ownFlags = hb.flags;
  hb.host = reinterpret_cast<uint8_t *>(data);
  hb.flags = halide_buffer_flag_device_dirty; // Halide copies only a device-dirty buffer
  int rc = model.halide.copy_to_host(nullptr, &hb);
  hb.host = ownHost;
  hb.flags = ownFlags;
  if (rc != 0)
    fail(CNNC_ERROR_DEVICE,
         "copying " + describe(model, buffer) + " from the device failed" + halideFailure(rc));
}

const float *currentHostData(const cnnc_model &constModel, int root) {
  // Refreshing the host copy changes no value the caller can observe.
  cnnc_model &model = const_cast<cnnc_model &>(constModel);
  halide_buffer_t &hb = model.halideBuffers[root];
  if (!hb.host)
    fail(CNNC_ERROR_INVALID_ARGUMENT, describe(model, root) + " has no host copy");
  if (hb.flags & halide_buffer_flag_device_dirty) {
    int rc = model.halide.copy_to_host(nullptr, &hb);
    if (rc != 0)
      fail(CNNC_ERROR_DEVICE,
           "copying " + describe(model, root) + " from the device failed" + halideFailure(rc));
    setDirtyFlags(model, root, 0);
  }
  return model.storage[root].get();
}

void noteDeviceWrites(cnnc_model &model, const CallDesc &call) {
  for (int a : call.args)
    if (model.halideBuffers[a].flags & halide_buffer_flag_device_dirty)
      setDirtyFlags(model, model.buffers[a].root, halide_buffer_flag_device_dirty);
}

void waitForDevice(cnnc_model &model, int buffer) {
  int rc = model.halide.device_sync(nullptr, &model.halideBuffers[buffer]);
  if (rc != 0)
    fail(CNNC_ERROR_DEVICE, "waiting for the device failed" + halideFailure(rc));
}

} // namespace cnnc::rt
