//===- FuzzFile.h - The fuzzer's bytes as a file ----------------*- C++ -*-===//
//
// Several readers take a path, not bytes (the .npy and IDX readers, the
// checkpoint loader, the ONNX importer). MemFile holds the fuzzer's input in
// an anonymous in-memory file (memfd_create) and names it by its
// /proc/self/fd path, so each input is read through the reader's own open,
// seek and read calls without touching the disk.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TEST_FUZZ_FUZZFILE_H
#define CNNC_TEST_FUZZ_FUZZFILE_H

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace cnnc::fuzz {

class MemFile {
public:
  explicit MemFile(const char *name) {
    fd = memfd_create(name, 0);
    if (fd < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  ~MemFile() { close(fd); }
  MemFile(const MemFile &) = delete;
  MemFile &operator=(const MemFile &) = delete;

  /// Replaces the file's contents with `size` bytes at `data`.
  void write(const uint8_t *data, size_t size) {
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != ssize_t(size))) {
      std::perror("writing the memfd");
      std::abort();
    }
  }

  std::string path;

private:
  int fd = -1;
};

} // namespace cnnc::fuzz

#endif
