//===- device.h - A GPU model's buffers in device memory ---------*- C++ -*-===//
//
// For a model compiled for CUDA or OpenCL (metadata "device_api") every
// buffer lives in device memory for the life of the model; see device.cpp
// for how memory is allocated and shared with views, how the dirty flags are
// kept and where data crosses between host and device. Also the check, at
// load, that the model's driver is installed and sees a device.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_SRC_DEVICE_H
#define CNNC_RUNTIME_SRC_DEVICE_H

#include "model.h"

#include <string>

namespace cnnc::rt {

/// Fails with CNNC_ERROR_DEVICE unless the driver of `deviceApi` ("cuda" or
/// "opencl") is installed and sees a device.
using DriverCheck = void (*)(const std::string &deviceApi);

/// The driver check cnnc_model_load runs for a GPU model:
/// checkInstalledDriver, unless a test loading a fake GPU model replaced it.
extern DriverCheck deviceDriverCheck;

/// Loads the driver library (libcuda.so.1 or libOpenCL.so.1, globally, so
/// the model's Halide runtime uses it too) and asks it for a device
/// (cuInit and cuDeviceGetCount; clGetPlatformIDs and clGetDeviceIDs). Done
/// once per process and API; later calls repeat the first answer.
void checkInstalledDriver(const std::string &deviceApi);

/// Gives root buffer `root` device memory for its current shape, freeing
/// what it had; its views share the new memory. Fails with
/// CNNC_ERROR_OUT_OF_MEMORY if the device has too little.
void allocateDeviceMemory(cnnc_model &model, int root);

/// Frees the device memory of root buffer `root` (its views lose it too).
void freeDeviceMemory(cnnc_model &model, int root);

/// Sets the Halide dirty flags of root buffer `root` and of all its views.
void setDirtyFlags(cnnc_model &model, int root, uint64_t flags);

/// Copies root buffer `root` to the device if its host copy is newer.
void uploadIfHostWritten(cnnc_model &model, int root);

/// Copies `data` (the buffer's current element count) straight from the
/// caller's memory into the device memory of `buffer`.
void copyToDevice(cnnc_model &model, int buffer, const float *data);

/// Copies the device memory of `buffer` (a root or a view) straight into
/// the caller's `data`.
void copyFromDevice(cnnc_model &model, int buffer, float *data);

/// After a kernel: the roots of the arguments it left device-dirty (its
/// results) become device-dirty, with all their views.
void noteDeviceWrites(cnnc_model &model, const CallDesc &call);

/// Waits until the device has finished all queued work (for timing).
void waitForDevice(cnnc_model &model, int buffer);

} // namespace cnnc::rt

#endif
