//===- safetensors.h - Reading and writing safetensors files ----*- C++ -*-===//
//
// The safetensors reader and writer shared by parameter files
// (parameters.cpp), checkpoints (checkpoint.cpp) and `cnnc --embed-weights`
// (compiler/Target/DefaultParameters.cpp, which links safetensors.cpp and
// json.cpp only). The reader opens a file, checks its whole header against
// the file size and keeps the tensors' entries and the string values of
// "__metadata__"; tensors are read one by one afterwards. A file of another
// format (a torch.save checkpoint, a pickle, NumPy, ONNX, HDF5, gzip) is
// named as such instead of being reported as a broken safetensors file. The
// writer writes F32 tensors atomically (writeFileAtomically, which the
// .npy writer uses too): to "<path>.tmp-<pid>", fflush + fsync, then rename
// over `path`, removing the temporary files of killed writers first. missingTensorsMessage explains
// a tensor a file lacks: the file's nearest names, and a prefix that every wanted name carries in
// the file (`module.` of torch.nn.DataParallel). Assumes a little-endian host.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_SRC_SAFETENSORS_H
#define CNNC_RUNTIME_SRC_SAFETENSORS_H

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace cnnc::rt {

/// The names of the safetensors header that the reader and the writer share.
namespace safetensors_key {
inline constexpr char kMetadata[] = "__metadata__"; ///< string-to-string map, not a tensor
inline constexpr char kDtype[] = "dtype";
inline constexpr char kShape[] = "shape";
inline constexpr char kDataOffsets[] = "data_offsets";
inline constexpr char kFormat[] = "format"; ///< in __metadata__: "pt" or a checkpoint format
} // namespace safetensors_key

/// The one dtype the runtime reads and writes.
inline constexpr char kDtypeF32[] = "F32";

/// One tensor of a safetensors header.
struct SafetensorsEntry {
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; ///< byte offsets relative to the data start
};

/// An open safetensors file with a validated header.
class SafetensorsReader {
public:
  /// Opens and checks `path`; `what` names it in I/O errors ("weights", "checkpoint").
  SafetensorsReader(const std::string &path, const char *what);
  /// Reads `size` bytes at `data` (kept alive by the caller) as a safetensors
  /// file called `name` in messages.
  SafetensorsReader(const void *data, size_t size, const std::string &name);
  ~SafetensorsReader();
  SafetensorsReader(const SafetensorsReader &) = delete;
  SafetensorsReader &operator=(const SafetensorsReader &) = delete;

  /// The entry of `name`, which must be F32 of exactly `shape`; otherwise a
  /// CNNC_ERROR_PARAMETER naming the file, the tensor (a `what`) and the problem
  /// (for a missing one, the file's nearest names).
  const SafetensorsEntry &require(const std::string &name, const std::vector<int64_t> &shape,
                                  const char *what) const;
  /// The entry of `name`, or null.
  const SafetensorsEntry *find(const std::string &name) const;
  /// Checks that `entry`, the tensor `name`, is F32 of exactly `shape`;
  /// otherwise a CNNC_ERROR_PARAMETER naming the file, the tensor and the problem.
  void check(const SafetensorsEntry &entry, const std::string &name,
             const std::vector<int64_t> &shape) const;
  /// The names of the file's tensors, sorted.
  std::vector<std::string> names() const;
  /// Reads an entry's bytes into `dst`; false on an I/O error.
  bool read(const SafetensorsEntry &entry, float *dst) const;

  std::string path;
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata; ///< string values of __metadata__

private:
  /// readHeader, closing the file if it fails (the constructors call it).
  void readHeaderOrClose(const char *what);
  /// Checks the header of the open `file`; `what` as for the constructor.
  void readHeader(const char *what);

  std::FILE *file = nullptr;
  uint64_t dataStart = 0;
};

/// A tensor that a model needs and a file lacks.
struct MissingTensor {
  std::string name; ///< the model's name (before any prefix to strip)
  std::vector<int64_t> shape;
};

/// The message for the tensors a model needs that the safetensors file
/// `file` lacks: "FILE: missing WHAT 'NAME' [SHAPE] (and N more); the file
/// has 'A', 'B', 'C' (and N more)" with the file's names nearest to the
/// first missing one (a shared dotted suffix first, then edit distance),
/// and a hint when every name in `wanted` (all the model's names) is in the
/// file under one prefix (suggesting --strip-prefix), without a prefix the
/// model's names have, or without the prefix `stripPrefix` that was given.
/// `missing` is not empty; `fileNames` are the file's tensor names as
/// stored; the model's names were looked up as stripPrefix + name.
std::string missingTensorsMessage(const std::string &file, const char *what,
                                  const std::vector<MissingTensor> &missing,
                                  const std::vector<std::string> &wanted,
                                  const std::vector<std::string> &fileNames,
                                  const std::string &stripPrefix);

/// One F32 tensor to write.
struct SafetensorsTensor {
  std::string name;
  std::vector<int64_t> shape;
  const float *data;
  int64_t count;
};

/// Writes `tensors` (in order) with `metadata` as "__metadata__", atomically
/// (writeFileAtomically).
void writeSafetensors(const std::string &path,
                      const std::vector<std::pair<std::string, std::string>> &metadata,
                      const std::vector<SafetensorsTensor> &tensors, const char *what);

/// Writes the file `path` (called `what` in messages: "checkpoint") so that
/// a crash or SIGKILL at any moment leaves either the previous file or the
/// complete new one. `write` fills the temporary file "<path>.tmp-<pid>" in
/// the same directory and returns false on an error (errno set); the file
/// is then flushed, fsynced, given the previous file's mode and renamed over
/// `path`, and the directory fsynced. Before writing, temporary files
/// "<name>.tmp-<pid>" of `path` whose process no longer exists (writers
/// that were killed) are removed; those of a live process are kept. An
/// existing `path` that may not be written is refused (CNNC_ERROR_IO), also
/// for root: one with no write permission bit at all (chmod 0444) counts as
/// write-protected, as `rm` counts it. On any error the temporary file is
/// removed, `path` is left as it was, and the CNNC_ERROR_IO message names
/// `what`, the path and the cause (strerror). A `path` that exists and is
/// not a regular file (/dev/stdout, a FIFO) is written in place.
void writeFileAtomically(const std::string &path, const char *what,
                         const std::function<bool(std::FILE *)> &write);

/// Removes the temporary files "<name>.tmp-<pid>" that writeFileAtomically
/// left next to `path` in processes that no longer exist; returns how many.
int removeStaleTemporaries(const std::string &path);

} // namespace cnnc::rt

#endif
