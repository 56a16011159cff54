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

/// Returns every kept (free) block to the system; called when a model is
/// freed. Blocks in use by kernels running now stay theirs.
void releaseScratch();

/// The bytes of the blocks kept for reuse, and of those handed out and not
/// yet freed (for tests and diagnostics).
size_t scratchBytesKept();
size_t scratchBytesInUse();

} // namespace cnnc::rt

#endif
