//===- device.h - A GPU model's buffers in device memory ---------*- C++ -*-===//
//
// For a model compiled for CUDA or OpenCL (metadata "device_api") every
// buffer lives in device memory for the life of the model; see device.cpp
// for how memory is allocated and shared with views, how the dirty flags are
// kept and where data crosses between host and device.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_SRC_DEVICE_H
#define CNNC_RUNTIME_SRC_DEVICE_H

#include "model.h"

#include <string>

namespace cnnc::rt {

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
