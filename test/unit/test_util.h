//===- test_util.h - Helpers shared by the runtime unit tests ---*- C++ -*-===//
//
// Temporary files, raw safetensors and IDX writers (so tests can build
// malformed files byte by byte, and toy datasets), running a tool (cnnrun)
// with its output captured, and the paths of the test model libraries, which
// CMake passes as compile definitions (CNNC_TEST_MODEL and its variants).
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TEST_UNIT_TEST_UTIL_H
#define CNNC_TEST_UNIT_TEST_UTIL_H

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>
#include <zlib.h>

namespace cnnc::test {

/// A fresh temporary directory, removed (with its files) on destruction.
class TempDir {
public:
  TempDir() {
    char tmpl[] = "/tmp/cnnc-unit-XXXXXX";
    const char *d = mkdtemp(tmpl);
    path_ = d ? d : "/tmp";
  }
  ~TempDir() {
    for (const std::string &f : files_)
      std::remove(f.c_str());
    rmdir(path_.c_str());
  }
  /// The directory's path.
  const std::string &path() const { return path_; }
  /// The path of a file `name` inside the directory (remembered for cleanup).
  std::string file(const std::string &name) {
    files_.push_back(path_ + "/" + name);
    return files_.back();
  }

private:
  std::string path_;
  std::vector<std::string> files_;
};

/// Writes `bytes` to `path`.
inline void writeFile(const std::string &path, const std::string &bytes) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

/// Returns the 8-byte little-endian encoding of n.
inline std::string u64le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i)
    s[i] = char((n >> (8 * i)) & 0xFF);
  return s;
}

/// Returns the raw bytes of floats.
inline std::string floatBytes(const std::vector<float> &v) {
  return std::string(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(float));
}

/// A safetensors file: header length, `header` JSON, then `data`.
inline std::string safetensors(const std::string &header, const std::string &data) {
  return u64le(header.size()) + header + data;
}

/// One tensor for makeSafetensors.
struct RawTensor {
  std::string name, dtype, shape; ///< shape as JSON, e.g. "[3,4]"
  std::string bytes;
};

/// Builds a well-formed safetensors file from tensors (offsets computed),
/// with `metadata` (a JSON object) as __metadata__.
inline std::string makeSafetensors(const std::vector<RawTensor> &tensors,
                                   const std::string &metadata = "{\"format\":\"pt\"}") {
  std::string header = "{\"__metadata__\":" + metadata;
  std::string data;
  for (const RawTensor &t : tensors) {
    header += ",\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":" + t.shape +
              ",\"data_offsets\":[" + std::to_string(data.size()) + "," +
              std::to_string(data.size() + t.bytes.size()) + "]}";
    data += t.bytes;
  }
  return safetensors(header + "}", data);
}

/// Writes an unsigned-byte IDX file (gzipped if `gzip`) of `dims` and `bytes`.
inline void writeIdx(const std::string &path, const std::vector<uint32_t> &dims,
                     const std::vector<uint8_t> &bytes, bool gzip) {
  std::string data = {0, 0, 8, char(dims.size())};
  for (uint32_t d : dims)
    for (int k = 3; k >= 0; --k)
      data += char((d >> (8 * k)) & 0xFF);
  data.append(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  if (!gzip) {
    writeFile(path, data);
    return;
  }
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, data.data(), unsigned(data.size()));
  gzclose(f);
}

/// A toy IDX dataset for the training test model: item i is a 2x2 image of
/// class i % 3 with pixel (i % 3) at 255 and pixel 3 holding (i * 37) % 64.
/// Writes DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte(.gz for train).
inline void writeToyIdxDataset(TempDir &dir, int trainCount, int testCount) {
  for (int split = 0; split < 2; ++split) {
    int n = split == 0 ? trainCount : testCount;
    std::vector<uint8_t> images(size_t(n) * 4, 0), labels(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      labels[i] = uint8_t(i % 3);
      images[i * 4 + i % 3] = 255;
      images[i * 4 + 3] = uint8_t((i * 37) % 64);
    }
    std::string prefix = split == 0 ? "train" : "t10k", ext = split == 0 ? ".gz" : "";
    writeIdx(dir.file(prefix + "-images-idx3-ubyte" + ext), {uint32_t(n), 2, 2}, images,
             split == 0);
    writeIdx(dir.file(prefix + "-labels-idx1-ubyte" + ext), {uint32_t(n)}, labels, split == 0);
  }
}

/// Runs the shell command `commandLine`, its stdout into `out` and, if `err`
/// is given, its stderr into `*err`; returns the exit status (-1 if killed).
inline int runCommand(const std::string &commandLine, std::string &out,
                      std::string *err = nullptr) {
  std::string errFile = "/tmp/cnnc-unit-stderr-" + std::to_string(getpid());
  std::FILE *p = popen((commandLine + " 2>" + errFile).c_str(), "r");
  out.clear();
  char buf[4096];
  size_t n;
  while (p && (n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  int status = p ? pclose(p) : -1;
  if (err) {
    err->clear();
    if (std::FILE *f = std::fopen(errFile.c_str(), "r")) {
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        err->append(buf, n);
      std::fclose(f);
    }
  }
  std::remove(errFile.c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// The test model's parameters: W (3x4) and b (3).
inline std::vector<float> testWeight() {
  return {0.5f, -1.0f, 0.25f, 2.0f, -0.5f, 1.5f, 1.0f, -2.0f, 0.1f, 0.2f, 0.3f, 0.4f};
}
inline std::vector<float> testBias() { return {0.1f, -0.2f, 0.3f}; }

/// The C++ reference of the test model: y = relu(W x + 2 b).
inline std::vector<float> referenceForward(const std::vector<float> &w, const std::vector<float> &b,
                                           const std::vector<float> &x, int batch) {
  std::vector<float> y(size_t(batch) * 3);
  for (int n = 0; n < batch; ++n)
    for (int o = 0; o < 3; ++o) {
      float acc = 2.0f * b[o];
      for (int i = 0; i < 4; ++i)
        acc += w[o * 4 + i] * x[n * 4 + i];
      y[n * 3 + o] = acc > 0 ? acc : 0;
    }
  return y;
}

} // namespace cnnc::test

#endif
