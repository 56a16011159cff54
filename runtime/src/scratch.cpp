//===- scratch.cpp - Recycled scratch memory for Halide kernels -----------===//
//
// Kernels allocate scratch buffers (padded inputs, per-window winners, ...)
// through the Halide runtime's halide_malloc on every call. The default
// allocator hands large blocks straight to mmap/munmap, so each call pays
// for fresh pages. The runtime installs this allocator in every model.so
// instead: freed blocks are kept in a free list per size and handed out
// again, so after the first call of a given batch size a train or inference
// step takes no memory from the system. Blocks are 128-byte aligned (what
// Halide's own allocator guarantees). Thread-safe: kernels allocate from
// Halide's worker threads too. Memory is kept until the process exits.
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
};

ScratchCache &cache() {
  static ScratchCache *c = new ScratchCache; // never destroyed: kernels may run at exit
  return *c;
}
} // namespace

void *cnnc::rt::scratchMalloc(void *, size_t size) {
  size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0)
    rounded = kAlignment;
  ScratchCache &c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    std::vector<void *> &blocks = c.freeBlocks[rounded];
    if (!blocks.empty()) {
      void *block = blocks.back();
      blocks.pop_back();
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
  if (it != c.sizeOf.end())
    c.freeBlocks[it->second].push_back(block);
}
