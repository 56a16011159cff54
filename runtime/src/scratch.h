//===- scratch.h - Recycled scratch memory for Halide kernels ---*- C++ -*-===//
//
// The allocator the runtime installs into every model.so's Halide runtime
// (halide_set_custom_malloc / halide_set_custom_free): see scratch.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_SRC_SCRATCH_H
#define CNNC_RUNTIME_SRC_SCRATCH_H

#include <cstddef>

namespace cnnc::rt {

/// halide_malloc replacement: a recycled block of at least `size` bytes.
void *scratchMalloc(void *userContext, size_t size);

/// halide_free replacement: keeps the block for the next request of its size.
void scratchFree(void *userContext, void *block);

} // namespace cnnc::rt

#endif
