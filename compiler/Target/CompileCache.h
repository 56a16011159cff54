//===- CompileCache.h - compiled objects kept between compilations -*- C++ -*-===//
//
// The compile cache keeps the objects the back end builds — one per distinct
// kernel, and the Halide runtime of each target — in a directory shared by
// every cnnc run, so compiling a model again only builds the kernels that
// changed. An entry is named by a hash of everything that determines its
// object (the kernel's IR, the target, the schedule options, the versions and
// build of cnnc and Halide), is written atomically (a temporary file renamed
// into place, so parallel compilations may share the cache), and ends with
// its size and checksum, so a damaged entry is detected and rebuilt. A cache
// that cannot be written degrades to no cache after one warning line. The
// cache stays under a size limit: after a compilation that stored entries,
// the least recently used ones are removed.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TARGET_COMPILECACHE_H
#define CNNC_TARGET_COMPILECACHE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <atomic>
#include <mutex>
#include <string>

namespace cnnc {

/// The versions cnnc was built with: its own (the CMake project version) and
/// those of MLIR/LLVM and Halide.
llvm::StringRef cnncVersion();
llvm::StringRef llvmVersion();
llvm::StringRef halideVersion();

/// The cache directory of this environment: $CNNC_CACHE_DIR, else
/// $XDG_CACHE_HOME/cnnc, else ~/.cache/cnnc ("" when none can be named).
std::string defaultCacheDirectory();

/// What makes two builds of the compiler produce different objects from the
/// same input: the versions of cnnc, LLVM and Halide and the build IDs of
/// the code that lowers and schedules kernels and of libHalide. Part of
/// every cache key, so rebuilding cnnc never reuses an object of the old
/// build.
const std::string &compilerIdentity();

class CompileCache {
public:
  /// A cache in `directory`; an empty directory disables it (every lookup
  /// misses and nothing is stored). `warnings` receives the one line printed
  /// when the cache cannot be written.
  CompileCache(std::string directory, llvm::raw_ostream &warnings);

  bool enabled() const { return !directory.empty(); }
  const std::string &path() const { return directory; }

  /// The key of an object: a hex hash of `description`, which must say
  /// everything that determines the object (compilerIdentity() included).
  static std::string key(llvm::StringRef description);

  enum class Lookup { Hit, Miss, Corrupt };
  /// Copies the object stored under `key` of `kind` ("kernel", "runtime")
  /// to `objectPath`. An entry whose size or checksum is wrong is Corrupt
  /// (and is replaced by the next store()).
  Lookup fetch(llvm::StringRef kind, llvm::StringRef key, const std::string &objectPath) const;

  /// Stores the object file `objectPath` under `key` of `kind`, atomically.
  /// Thread safe. On failure, warns once and stores nothing more.
  void store(llvm::StringRef kind, llvm::StringRef key, const std::string &objectPath);

  /// When this compilation stored entries, removes the least recently used
  /// entries (and temporary files older than an hour, left by a compilation
  /// that was killed) until the cache holds at most `maxBytes`.
  void trim(uint64_t maxBytes);

  /// The size limit: $CNNC_CACHE_MAX_SIZE (bytes, or a number with a K, M or
  /// G suffix), else 1 GiB. An unreadable value is reported on `warnings`.
  static uint64_t sizeLimit(llvm::raw_ostream &warnings);

private:
  std::string entryPath(llvm::StringRef kind, llvm::StringRef key) const;
  void disable(const std::string &why);

  std::string directory;
  llvm::raw_ostream &warnings;
  std::atomic<bool> writable{true};
  std::atomic<size_t> stored{0};
  std::mutex warningMutex;
};

} // namespace cnnc

#endif
