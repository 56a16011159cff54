//===- safetensors.h - Reading and writing safetensors files ----*- C++ -*-===//
//
// The safetensors reader and writer shared by parameter files
// (safetensors.cpp) and checkpoints (checkpoint.cpp). The reader opens a
// file, checks its whole header against the file size and keeps the
// tensors' entries and the string values of "__metadata__"; tensors are read
// one by one afterwards. The writer writes F32 tensors atomically: to
// "<path>.tmp-<pid>", fflush + fsync, then rename over `path`. Assumes a
// little-endian host.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_SRC_SAFETENSORS_H
#define CNNC_RUNTIME_SRC_SAFETENSORS_H

#include <cstdint>
#include <cstdio>
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
  /// CNNC_ERROR_PARAMETER naming the file, the tensor (a `what`) and the problem.
  const SafetensorsEntry &require(const std::string &name, const std::vector<int64_t> &shape,
                                  const char *what) const;
  /// Reads an entry's bytes into `dst`; false on an I/O error.
  bool read(const SafetensorsEntry &entry, float *dst) const;

  std::string path;
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata; ///< string values of __metadata__

private:
  /// Checks the header of the open `file`; `what` as for the constructor.
  void readHeader(const char *what);

  std::FILE *file = nullptr;
  uint64_t dataStart = 0;
};

/// One F32 tensor to write.
struct SafetensorsTensor {
  std::string name;
  std::vector<int64_t> shape;
  const float *data;
  int64_t count;
};

/// Writes `tensors` (in order) with `metadata` as "__metadata__", atomically.
void writeSafetensors(const std::string &path,
                      const std::vector<std::pair<std::string, std::string>> &metadata,
                      const std::vector<SafetensorsTensor> &tensors, const char *what);

} // namespace cnnc::rt

#endif
