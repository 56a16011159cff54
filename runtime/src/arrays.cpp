//===- arrays.cpp - NumPy .npy and IDX array files ------------------------===//
//
// cnnc_array readers and writers used by the tools: NumPy .npy (versions 1
// to 3, C order; float32, or with cnnc_npy_load_numeric any little-endian
// integer, bool or float64 array converted to float32; anything else is a
// clear error) and IDX (the MNIST format: big-endian magic 0x000008NN with NN
// dimensions, big-endian uint32 sizes, then unsigned bytes), read through
// zlib so gzipped and plain files both work. Sizes from a header are
// overflow-checked and the data must be there before anything is allocated
// for it: an .npy file's size is compared with what its shape needs, and
// IDX data (whose uncompressed size is unknown) is read in chunks, so a
// header claiming more than the file holds costs no more memory than the
// file. Every refusal names the file and the sizes needed and found. The
// .npy writer is atomic (writeFileAtomically). Assumes a little-endian host.
//
//===----------------------------------------------------------------------===//
#include "error.h"
#include "safetensors.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <vector>

using namespace cnnc::rt;

namespace {

/// Closes a FILE* on scope exit.
struct File {
  std::FILE *f = nullptr;
  ~File() {
    if (f)
      std::fclose(f);
  }
};

/// The element count of `shape` and its size in bytes at `elementSize`
/// bytes per element (as stored in the file) and as float32, overflow-checked;
/// a shape beyond CNNC_ARRAY_MAX_RANK or whose size does not fit is refused
/// naming `path`.
struct ArraySize {
  int64_t count = 1;
  uint64_t storedBytes = 0;
};
ArraySize arraySize(const std::vector<int64_t> &shape, size_t elementSize,
                    const std::string &path) {
  if (shape.size() > CNNC_ARRAY_MAX_RANK)
    fail(CNNC_ERROR_FORMAT, path + ": rank " + std::to_string(shape.size()) +
                                " exceeds the supported " + std::to_string(CNNC_ARRAY_MAX_RANK));
  ArraySize size;
  uint64_t floatBytes = 0;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(size.count, d, &size.count))
      fail(CNNC_ERROR_FORMAT,
           path + ": shape " + shapeString(shape) + " has more elements than fit in 64 bits");
  if (__builtin_mul_overflow(uint64_t(size.count), uint64_t(elementSize), &size.storedBytes) ||
      __builtin_mul_overflow(uint64_t(size.count), uint64_t(sizeof(float)), &floatBytes) ||
      floatBytes > uint64_t(std::numeric_limits<int64_t>::max()))
    fail(CNNC_ERROR_FORMAT, path + ": shape " + shapeString(shape) + " needs more than 2^63 bytes");
  return size;
}

/// Allocates an array of `shape` (whose size arraySize checked); data is
/// malloc'd (freed by cnnc_array_free).
void allocateArray(cnnc_array &a, const std::vector<int64_t> &shape, int64_t count,
                   const std::string &path) {
  a.rank = int32_t(shape.size());
  for (size_t i = 0; i < shape.size(); ++i)
    a.shape[i] = shape[i];
  a.count = count;
  a.data = static_cast<float *>(std::malloc(size_t(count ? count : 1) * sizeof(float)));
  if (!a.data)
    fail(CNNC_ERROR_OUT_OF_MEMORY, path + ": cannot allocate " + std::to_string(count) +
                                       " floats (" + std::to_string(uint64_t(count) * 4) +
                                       " bytes) for shape " + shapeString(shape));
}

/// Parses the Python dict literal of an .npy header.
class NpyHeaderParser {
public:
  NpyHeaderParser(const std::string &text, const std::string &path) : text(text), path(path) {}

  void parse(std::string &descr, bool &fortran, std::vector<int64_t> &shape) {
    bool haveDescr = false, haveFortran = false, haveShape = false;
    skip();
    expect('{');
    while (true) {
      skip();
      if (peek() == '}')
        break;
      std::string key = quoted();
      skip();
      expect(':');
      skip();
      if (key == "descr") {
        descr = quoted();
        haveDescr = true;
      } else if (key == "fortran_order") {
        if (text.compare(pos, 4, "True") == 0) {
          fortran = true;
          pos += 4;
        } else if (text.compare(pos, 5, "False") == 0) {
          fortran = false;
          pos += 5;
        } else {
          error("fortran_order is not True or False");
        }
        haveFortran = true;
      } else if (key == "shape") {
        expect('(');
        while (true) {
          skip();
          if (peek() == ')')
            break;
          if (!(peek() >= '0' && peek() <= '9'))
            error("shape entry is not a non-negative integer");
          int64_t v = 0;
          while (peek() >= '0' && peek() <= '9') {
            if (v > (std::numeric_limits<int64_t>::max() - 9) / 10)
              error("shape entry too large");
            v = v * 10 + (text[pos++] - '0');
          }
          shape.push_back(v);
          skip();
          if (peek() == ',')
            ++pos;
          else if (peek() != ')')
            error("expected ',' or ')' in shape");
        }
        ++pos;
        haveShape = true;
      } else {
        error("unknown key '" + key + "'");
      }
      skip();
      if (peek() == ',')
        ++pos;
      else if (peek() != '}')
        error("expected ',' or '}'");
    }
    if (!haveDescr || !haveFortran || !haveShape)
      error("missing 'descr', 'fortran_order' or 'shape'");
  }

private:
  const std::string &text;
  const std::string &path;
  size_t pos = 0;

  [[noreturn]] void error(const std::string &msg) {
    fail(CNNC_ERROR_FORMAT, path + ": malformed .npy header: " + msg);
  }
  char peek() const { return pos < text.size() ? text[pos] : '\0'; }
  void skip() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n')
      ++pos;
  }
  void expect(char c) {
    if (peek() != c)
      error(std::string("expected '") + c + "'");
    ++pos;
  }
  std::string quoted() {
    char q = peek();
    if (q != '\'' && q != '"')
      error("expected a quoted string");
    size_t end = text.find(q, pos + 1);
    if (end == std::string::npos)
      error("unterminated string");
    std::string s = text.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    return s;
  }
};

/// Copies `count` little-endian values of type T to floats.
template <typename T> void convertTo(const unsigned char *raw, float *out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, raw + size_t(i) * sizeof(T), sizeof(T));
    out[i] = float(v);
  }
}

/// A .npy element type the reader converts to float32.
struct NpyType {
  const char *descr;
  cnnc_dtype dtype;
  size_t size;
  void (*convert)(const unsigned char *raw, float *out, int64_t count);
};

const NpyType npyTypes[] = {
    {"<f4", CNNC_DTYPE_FLOAT32, 4, nullptr},
    {"<f8", CNNC_DTYPE_FLOAT64, 8, convertTo<double>},
    {"|u1", CNNC_DTYPE_UINT8, 1, convertTo<uint8_t>},
    {"|i1", CNNC_DTYPE_INT8, 1, convertTo<int8_t>},
    {"|b1", CNNC_DTYPE_BOOL, 1, convertTo<uint8_t>},
    {"<u2", CNNC_DTYPE_UINT16, 2, convertTo<uint16_t>},
    {"<i2", CNNC_DTYPE_INT16, 2, convertTo<int16_t>},
    {"<u4", CNNC_DTYPE_UINT32, 4, convertTo<uint32_t>},
    {"<i4", CNNC_DTYPE_INT32, 4, convertTo<int32_t>},
    {"<u8", CNNC_DTYPE_UINT64, 8, convertTo<uint64_t>},
    {"<i8", CNNC_DTYPE_INT64, 8, convertTo<int64_t>},
};

const NpyType *findNpyType(const std::string &descr) {
  for (const NpyType &t : npyTypes)
    if (descr == t.descr)
      return &t;
  return nullptr;
}

/// Reads a .npy file: float32 only, or with `anyType` any numeric dtype,
/// converted to float32 (`outType` says which it was).
void npyLoad(const std::string &path, cnnc_array &out, bool anyType, cnnc_dtype &outType) {
  File file;
  file.f = std::fopen(path.c_str(), "rb");
  if (!file.f)
    fail(CNNC_ERROR_IO, "cannot open '" + path + "': " + std::strerror(errno));
  unsigned char pre[10];
  if (std::fread(pre, 1, 10, file.f) != 10 || std::memcmp(pre, "\x93NUMPY", 6) != 0)
    fail(CNNC_ERROR_FORMAT, path + ": not a NumPy .npy file (bad magic)");
  int major = pre[6];
  uint32_t headerLen;
  if (major == 1) {
    headerLen = pre[8] | (uint32_t(pre[9]) << 8);
  } else if (major == 2 || major == 3) {
    unsigned char more[2];
    if (std::fread(more, 1, 2, file.f) != 2)
      fail(CNNC_ERROR_FORMAT, path + ": truncated .npy header");
    headerLen =
        pre[8] | (uint32_t(pre[9]) << 8) | (uint32_t(more[0]) << 16) | (uint32_t(more[1]) << 24);
  } else {
    fail(CNNC_ERROR_FORMAT, path + ": unsupported .npy format version " + std::to_string(major));
  }
  if (headerLen > (1u << 20))
    fail(CNNC_ERROR_FORMAT,
         path + ": .npy header length " + std::to_string(headerLen) + " is implausibly large");
  std::string header(headerLen, '\0');
  if (std::fread(header.data(), 1, headerLen, file.f) != headerLen)
    fail(CNNC_ERROR_FORMAT, path + ": truncated .npy header");
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  NpyHeaderParser(header, path).parse(descr, fortran, shape);
  const NpyType *type = findNpyType(descr);
  if (!type || (!anyType && type->dtype != CNNC_DTYPE_FLOAT32))
    fail(CNNC_ERROR_FORMAT, path + ": expected dtype float32 ('<f4'), found '" + descr +
                                "' (convert with .astype(np.float32))");
  if (fortran)
    fail(CNNC_ERROR_FORMAT, path + ": Fortran-order arrays are not supported "
                                   "(save np.ascontiguousarray(x))");
  // The data must be in the file before anything is allocated for it.
  ArraySize size = arraySize(shape, type->size, path);
  uint64_t dataStart = (major == 1 ? 10 : 12) + uint64_t(headerLen);
  struct stat st;
  if (fstat(fileno(file.f), &st) != 0)
    fail(CNNC_ERROR_IO, "cannot read '" + path + "': " + std::strerror(errno));
  uint64_t available = S_ISREG(st.st_mode) && uint64_t(st.st_size) > dataStart
                           ? uint64_t(st.st_size) - dataStart
                           : 0;
  if (S_ISREG(st.st_mode) && available < size.storedBytes)
    fail(CNNC_ERROR_FORMAT, path + ": truncated .npy data: shape " + shapeString(shape) + " of '" +
                                descr + "' needs " + std::to_string(size.storedBytes) +
                                " bytes after the " + std::to_string(dataStart) +
                                "-byte header, the file has " + std::to_string(available));
  cnnc_array a{};
  allocateArray(a, shape, size.count, path);
  size_t bytes = size_t(size.storedBytes);
  std::vector<unsigned char> raw;
  if (type->dtype != CNNC_DTYPE_FLOAT32) {
    try {
      raw.resize(bytes);
    } catch (const std::bad_alloc &) {
      cnnc_array_free(&a);
      fail(CNNC_ERROR_OUT_OF_MEMORY,
           path + ": cannot allocate " + std::to_string(bytes) + " bytes to read its data");
    }
  }
  void *target = type->dtype == CNNC_DTYPE_FLOAT32 ? static_cast<void *>(a.data) : raw.data();
  size_t got = bytes ? std::fread(target, 1, bytes, file.f) : 0;
  if (got != bytes) {
    cnnc_array_free(&a);
    fail(CNNC_ERROR_FORMAT, path + ": truncated .npy data: shape " + shapeString(shape) + " of '" +
                                descr + "' needs " + std::to_string(bytes) + " bytes after the " +
                                std::to_string(dataStart) + "-byte header, found " +
                                std::to_string(got));
  }
  if (!raw.empty())
    type->convert(raw.data(), a.data, a.count);
  out = a;
  outType = type->dtype;
}

void npySave(const std::string &path, const float *data, int32_t rank, const int64_t *shape) {
  if (rank < 0 || (rank > 0 && !shape))
    fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_npy_save: invalid rank or shape");
  std::string dims;
  int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    if (shape[i] < 0)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_npy_save: negative dimension");
    dims += std::to_string(shape[i]) + (rank == 1 ? "," : (i + 1 < rank ? ", " : ""));
    if (__builtin_mul_overflow(count, shape[i], &count) || count > (int64_t(1) << 60))
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_npy_save: the shape has too many elements");
  }
  if (count && !data)
    fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_npy_save: data is null");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  unsigned char pre[10] = {0x93,
                           'N',
                           'U',
                           'M',
                           'P',
                           'Y',
                           1,
                           0,
                           (unsigned char)(header.size() & 0xFF),
                           (unsigned char)(header.size() >> 8)};
  writeFileAtomically(path, ".npy file", [&](std::FILE *f) {
    return std::fwrite(pre, 1, 10, f) == 10 &&
           std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
           std::fwrite(data, sizeof(float), size_t(count), f) == size_t(count);
  });
}

/// Closes a gzFile on scope exit.
struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f)
      gzclose(f);
  }
};

void idxLoad(const std::string &path, cnnc_array &out) {
  {
    File probe; // gzopen's errors are vague: check that the file opens first
    probe.f = std::fopen(path.c_str(), "rb");
    if (!probe.f)
      fail(CNNC_ERROR_IO, "cannot open '" + path + "': " + std::strerror(errno));
  }
  GzFile file;
  file.f = gzopen(path.c_str(), "rb");
  if (!file.f)
    fail(CNNC_ERROR_IO, "cannot open '" + path + "'");
  unsigned char magic[4];
  if (gzread(file.f, magic, 4) != 4 || magic[0] != 0 || magic[1] != 0)
    fail(CNNC_ERROR_FORMAT, path + ": not an IDX file (bad magic)");
  if (magic[2] != 0x08)
    fail(CNNC_ERROR_FORMAT, path + ": IDX element type 0x" +
                                std::string(1, "0123456789abcdef"[magic[2] >> 4]) +
                                std::string(1, "0123456789abcdef"[magic[2] & 15]) +
                                " is not supported (only unsigned bytes, 0x08)");
  int rank = magic[3];
  if (rank < 1 || rank > CNNC_ARRAY_MAX_RANK)
    fail(CNNC_ERROR_FORMAT, path + ": IDX rank " + std::to_string(rank) + " is not supported");
  std::vector<int64_t> shape;
  for (int i = 0; i < rank; ++i) {
    unsigned char b[4];
    if (gzread(file.f, b, 4) != 4)
      fail(CNNC_ERROR_FORMAT, path + ": truncated IDX header");
    shape.push_back((int64_t(b[0]) << 24) | (b[1] << 16) | (b[2] << 8) | b[3]);
  }
  // Read the data before allocating for it, so that a header claiming more
  // than the file holds costs no more memory than the file's data.
  ArraySize size = arraySize(shape, 1, path);
  int64_t headerBytes = 4 + 4 * int64_t(rank);
  std::vector<unsigned char> bytes;
  int64_t done = 0;
  try {
    while (done < size.count) {
      // Chunks grow with what was read (64 KiB, then doubling up to 16 MiB),
      // so a short file costs little whatever its header claims.
      int64_t chunk = std::min(
          {size.count - done, std::max<int64_t>(done, int64_t(1) << 16), int64_t(1) << 24});
      bytes.resize(size_t(done + chunk));
      int got = gzread(file.f, bytes.data() + done, unsigned(chunk));
      if (got <= 0)
        break;
      done += got;
    }
  } catch (const std::bad_alloc &) {
    fail(CNNC_ERROR_OUT_OF_MEMORY, path + ": cannot allocate " + std::to_string(done) +
                                       " bytes to read its data (shape " + shapeString(shape) +
                                       ")");
  }
  if (done != size.count)
    fail(CNNC_ERROR_FORMAT, path + ": truncated IDX data: shape " + shapeString(shape) + " needs " +
                                std::to_string(size.count) + " bytes after the " +
                                std::to_string(headerBytes) + "-byte header, found " +
                                std::to_string(done));
  cnnc_array a{};
  allocateArray(a, shape, size.count, path);
  for (int64_t i = 0; i < a.count; ++i)
    a.data[i] = float(bytes[size_t(i)]);
  out = a;
}

} // namespace

extern "C" void cnnc_array_free(cnnc_array *array) {
  if (!array)
    return;
  std::free(array->data);
  *array = cnnc_array{};
}

extern "C" cnnc_status cnnc_npy_load(const char *path, cnnc_array *out_array) {
  return guard([&] {
    if (!path || !out_array)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_npy_load: null path or out_array");
    *out_array = cnnc_array{};
    cnnc_dtype dtype;
    npyLoad(path, *out_array, /*anyType=*/false, dtype);
  });
}

extern "C" cnnc_status cnnc_npy_load_numeric(const char *path, cnnc_array *out_array,
                                             cnnc_dtype *out_dtype) {
  return guard([&] {
    if (!path || !out_array || !out_dtype)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_npy_load_numeric: null argument");
    *out_array = cnnc_array{};
    npyLoad(path, *out_array, /*anyType=*/true, *out_dtype);
  });
}

extern "C" cnnc_status cnnc_npy_save(const char *path, const float *data, int32_t rank,
                                     const int64_t *shape) {
  return guard([&] {
    if (!path)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_npy_save: null path");
    npySave(path, data, rank, shape);
  });
}

extern "C" cnnc_status cnnc_idx_load(const char *path, cnnc_array *out_array) {
  return guard([&] {
    if (!path || !out_array)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_idx_load: null path or out_array");
    *out_array = cnnc_array{};
    idxLoad(path, *out_array);
  });
}
