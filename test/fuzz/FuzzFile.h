//===- FuzzFile.h - The fuzzer's bytes as a file ----------------*- C++ -*-===//
//
// Several readers take a path, not bytes (the .npy and IDX readers, the
// checkpoint loader, the ONNX importer). MemFile holds the fuzzer's input in
// an anonymous in-memory file (memfd_create) and names it by its
// /proc/self/fd path, so each input is read through the reader's own open,
// seek and read calls without touching the disk. FileLeakCheck finds a
// reader that leaves a file open on some path (each refused file would cost
// a long-lived process a descriptor until it can open no more).
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TEST_FUZZ_FUZZFILE_H
#define CNNC_TEST_FUZZ_FUZZFILE_H

#include <fcntl.h>
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

/// The lowest free file descriptor.
inline int lowestFreeDescriptor() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::perror("open /dev/null");
    std::abort();
  }
  close(fd);
  return fd;
}

/// Checks, when it goes out of scope, that every file descriptor opened
/// since it was made has been closed again; otherwise aborts naming `reader`,
/// which left a file open.
class FileLeakCheck {
public:
  explicit FileLeakCheck(const char *reader) : reader(reader), lowest(lowestFreeDescriptor()) {}
  ~FileLeakCheck() {
    if (lowestFreeDescriptor() != lowest) {
      std::fprintf(stderr, "%s left a file open (descriptor %d)\n", reader, lowest);
      std::abort();
    }
  }
  FileLeakCheck(const FileLeakCheck &) = delete;
  FileLeakCheck &operator=(const FileLeakCheck &) = delete;

private:
  const char *reader;
  int lowest;
};

} // namespace cnnc::fuzz

#endif
