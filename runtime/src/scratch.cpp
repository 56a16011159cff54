//===- scratch.cpp - Recycled scratch memory for Halide kernels -----------===//
//
// Kernels allocate scratch buffers (padded inputs, per-window winners, ...)
// through the Halide runtime's halide_malloc on every call. The default
// allocator hands large blocks straight to mmap/munmap, so each call pays
// for fresh pages. The runtime installs this allocator in every model.so
// instead: freed blocks are kept in a free list per size and handed out
// again, so after the first call of a given batch size a train or inference
// step takes no memory from the system. Blocks are 128-byte aligned (what
// Halide's own allocator guarantees). One pool serves every model, behind
// one mutex: kernels allocate from the threads that run sessions and models
// at once and from Halide's worker threads. Freeing a model returns the
// kept blocks to the system (releaseScratch): a model still in use takes
// what it needs again on its next call.
//
//===----------------------------------------------------------------------===//
#include "scratch.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace {
constexpr size_t kAlignment = 128;

struct ScratchCache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void *>> freeBlocks; ///< by rounded size
  std::unordered_map<void *, size_t> sizeOf;                  ///< every block handed out
  size_t keptBytes = 0;                                       ///< in freeBlocks
};

ScratchCache &cache() {
  static ScratchCache *c = new ScratchCache; // never destroyed: kernels may run at exit
  return *c;
}
} // namespace

void *cnnc::rt::scratchMalloc(void *, size_t size) {
  if (size > SIZE_MAX - kAlignment)
    return nullptr;
  size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0)
    rounded = kAlignment;
  ScratchCache &c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.freeBlocks.find(rounded);
    if (it != c.freeBlocks.end() && !it->second.empty()) {
      void *block = it->second.back();
      it->second.pop_back();
      c.keptBytes -= rounded;
      c.sizeOf[block] = rounded;
      return block;
    }
  }
  void *block = std::aligned_alloc(kAlignment, rounded);
  if (!block)
    return nullptr;
  std::lock_guard<std::mutex> lock(c.mutex);
  c.sizeOf[block] = rounded;
  return block;
}

void cnnc::rt::scratchFree(void *, void *block) {
  if (!block)
    return;
  ScratchCache &c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.sizeOf.find(block);
  if (it == c.sizeOf.end())
    return; // not ours
  size_t size = it->second;
  c.sizeOf.erase(it);
  c.freeBlocks[size].push_back(block);
  c.keptBytes += size;
}

void cnnc::rt::releaseScratch() {
  ScratchCache &c = cache();
  std::unordered_map<size_t, std::vector<void *>> blocks;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    blocks.swap(c.freeBlocks);
    c.keptBytes = 0;
  }
  for (auto &[size, list] : blocks)
    for (void *block : list)
      std::free(block);
}

size_t cnnc::rt::scratchBytesKept() {
  ScratchCache &c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.keptBytes;
}

size_t cnnc::rt::scratchBytesInUse() {
  ScratchCache &c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  size_t bytes = 0;
  for (const auto &[block, size] : c.sizeOf)
    bytes += size;
  return bytes;
}
