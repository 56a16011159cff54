//===- arrays_test.cpp - .npy and IDX readers -----------------------------===//
//
// Tests cnnc_npy_load / cnnc_npy_save (round trip, version 2 headers, and
// the errors for a wrong dtype, Fortran order, bad magic, truncation and
// sizes that overflow, each naming the sizes needed and found; the writer
// replaces files atomically and refuses write-protected ones) and
// cnnc_idx_load on plain and gzipped files.
//
//===----------------------------------------------------------------------===//
#include "cnnc/runtime.h"
#include "cnnc/runtime.hpp"
#include "test_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <fstream>

using namespace cnnc::test;
using ::testing::HasSubstr;

namespace {

/// A v1 .npy file with the given header dict and data bytes.
std::string npyBytes(const std::string &dict, const std::string &data, int version = 1) {
  std::string header = dict;
  size_t pre = version == 1 ? 10 : 12;
  while ((pre + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(version);
  out += '\0';
  out += char(header.size() & 0xFF);
  out += char((header.size() >> 8) & 0xFF);
  if (version != 1)
    out += std::string(2, '\0');
  return out + header + data;
}

std::string npyError(const std::string &bytes, bool numeric = false) {
  TempDir dir;
  std::string path = dir.file("a.npy");
  writeFile(path, bytes);
  cnnc_array a{};
  cnnc_dtype dtype;
  EXPECT_NE(numeric ? cnnc_npy_load_numeric(path.c_str(), &a, &dtype)
                    : cnnc_npy_load(path.c_str(), &a),
            CNNC_OK);
  EXPECT_EQ(a.data, nullptr);
  return cnnc_last_error();
}

TEST(Npy, RoundTrip) {
  TempDir dir;
  std::string path = dir.file("x.npy");
  std::vector<float> data = {1, 2, 3, 4, 5, 6};
  cnnc::Array::saveNpy(path, data.data(), {2, 1, 3});
  cnnc::Array a = cnnc::Array::loadNpy(path);
  EXPECT_EQ(a.shape(), (std::vector<int64_t>{2, 1, 3}));
  ASSERT_EQ(a.count(), 6);
  EXPECT_EQ(std::vector<float>(a.data(), a.data() + 6), data);
}

TEST(Npy, OneDimensionalAndScalar) {
  TempDir dir;
  std::string p1 = dir.file("v.npy"), p0 = dir.file("s.npy");
  float v[] = {7, 8};
  cnnc::Array::saveNpy(p1, v, {2});
  EXPECT_EQ(cnnc::Array::loadNpy(p1).shape(), (std::vector<int64_t>{2}));
  cnnc::Array::saveNpy(p0, v, {});
  cnnc::Array s = cnnc::Array::loadNpy(p0);
  EXPECT_EQ(s.shape().size(), 0u);
  EXPECT_EQ(s.count(), 1);
  EXPECT_EQ(s.data()[0], 7.0f);
}

TEST(Npy, ReadsVersion2AndDoubleQuotes) {
  TempDir dir;
  std::string path = dir.file("v2.npy");
  writeFile(path, npyBytes("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1, 2)}",
                           floatBytes({1.5f, -2.5f}), 2));
  cnnc::Array a = cnnc::Array::loadNpy(path);
  EXPECT_EQ(a.shape(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(a.data()[1], -2.5f);
}

TEST(Npy, WrongDtype) {
  EXPECT_THAT(npyError(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                std::string(16, '\0'))),
              HasSubstr("expected dtype float32 ('<f4'), found '<f8'"));
  EXPECT_THAT(npyError(npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                                std::string(8, '\0'))),
              HasSubstr("found '>f4'"));
}

TEST(Npy, FortranOrder) {
  EXPECT_THAT(npyError(npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                                std::string(16, '\0'))),
              HasSubstr("Fortran-order arrays are not supported"));
}

TEST(Npy, Truncated) {
  // The sizes needed and found, checked against the file before allocating.
  EXPECT_THAT(npyError(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                                std::string(12, '\0'))),
              HasSubstr("a.npy: truncated .npy data: shape [4] of '<f4' needs 16 bytes after "
                        "the 128-byte header, the file has 12"));
  EXPECT_THAT(
      npyError(npyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", "", 1),
               /*numeric=*/true),
      HasSubstr("shape [2,3] of '|u1' needs 6 bytes after the 128-byte header, the file "
                "has 0"));
  // A shape whose size overflows, or that claims far more than the file holds.
  EXPECT_THAT(npyError(npyBytes("{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (4611686018427387904, 4), }",
                                "")),
              HasSubstr("a.npy: shape [4611686018427387904,4] has more elements than fit in 64 "
                        "bits"));
  EXPECT_THAT(npyError(npyBytes("{'descr': '<f8', 'fortran_order': False, "
                                "'shape': (2305843009213693952,), }",
                                ""),
                       /*numeric=*/true),
              HasSubstr("needs more than 2^63 bytes"));
  EXPECT_THAT(npyError(npyBytes("{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (1000000000000,), }",
                                "abcd")),
              HasSubstr("needs 4000000000000 bytes after the 128-byte header, the file has 4"));
  EXPECT_THAT(npyError("\x93NUMPY\x01"), HasSubstr("bad magic"));
}

TEST(Npy, BadMagicAndHeader) {
  EXPECT_THAT(npyError("PK\x03\x04 this is a zip file"), HasSubstr("not a NumPy .npy file"));
  EXPECT_THAT(npyError(npyBytes("{'descr': '<f4', 'shape': (4,)}", "")),
              HasSubstr("missing 'descr', 'fortran_order' or 'shape'"));
  EXPECT_THAT(npyError(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,)}", "")),
              HasSubstr("malformed .npy header"));
}

TEST(Npy, SaveIsAtomicAndRefusesWriteProtectedFiles) {
  TempDir dir;
  std::string path = dir.file("out.npy");
  float v[2] = {1, 2};
  int64_t shape[1] = {2};
  ASSERT_EQ(cnnc_npy_save(path.c_str(), v, 1, shape), CNNC_OK);
  // A temporary file of a writer that no longer runs is removed by the next write.
  std::string stale = path + ".tmp-999999999";
  writeFile(stale, "partial");
  // That of a live process (pid 1 always runs) may be being written: it stays.
  std::string live = path + ".tmp-1";
  writeFile(live, "in progress");
  ASSERT_EQ(cnnc_npy_save(path.c_str(), v, 1, shape), CNNC_OK);
  EXPECT_FALSE(std::ifstream(stale).good());
  EXPECT_TRUE(std::ifstream(live).good());
  EXPECT_FALSE(std::ifstream(path + ".tmp-" + std::to_string(getpid())).good());
  // A write-protected file stays as it is (for root too).
  ASSERT_EQ(chmod(path.c_str(), 0444), 0);
  float w[2] = {3, 4};
  EXPECT_EQ(cnnc_npy_save(path.c_str(), w, 1, shape), CNNC_ERROR_IO);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("cannot replace .npy file '" + path +
                                           "': the file is write-protected (mode 0444)"));
  cnnc::Array a = cnnc::Array::loadNpy(path);
  EXPECT_EQ(a.data()[1], 2.0f);
  EXPECT_EQ(cnnc_npy_save(dir.file("none/x.npy").c_str(), w, 1, shape), CNNC_ERROR_IO);
  EXPECT_THAT(cnnc_last_error(),
              HasSubstr("cannot write .npy file '" + dir.file("none/x.npy") + "': cannot create '" +
                        dir.file("none/x.npy") + ".tmp-"));
}

TEST(Npy, MissingFile) {
  cnnc_array a{};
  EXPECT_EQ(cnnc_npy_load("/nonexistent/x.npy", &a), CNNC_ERROR_IO);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("No such file"));
}

std::string idxBytes(const std::vector<uint32_t> &dims, const std::string &data) {
  std::string s = {'\0', '\0', '\x08', char(dims.size())};
  for (uint32_t d : dims) {
    s += char(d >> 24);
    s += char(d >> 16);
    s += char(d >> 8);
    s += char(d);
  }
  return s + data;
}

TEST(Idx, ReadsPlainAndGzipped) {
  TempDir dir;
  std::string plain = dir.file("images-idx3-ubyte"), gz = dir.file("images-idx3-ubyte.gz");
  std::string pixels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, '\xff'};
  std::string bytes = idxBytes({3, 2, 2}, pixels);
  writeFile(plain, bytes);
  gzFile f = gzopen(gz.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
  for (const std::string &path : {plain, gz}) {
    cnnc::Array a = cnnc::Array::loadIdx(path);
    EXPECT_EQ(a.shape(), (std::vector<int64_t>{3, 2, 2}));
    ASSERT_EQ(a.count(), 12);
    EXPECT_EQ(a.data()[3], 3.0f);
    EXPECT_EQ(a.data()[11], 255.0f);
  }
}

TEST(Idx, Errors) {
  TempDir dir;
  std::string path = dir.file("bad-idx");
  cnnc_array a{};
  writeFile(path, idxBytes({10}, "short"));
  EXPECT_EQ(cnnc_idx_load(path.c_str(), &a), CNNC_ERROR_FORMAT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("bad-idx: truncated IDX data: shape [10] needs 10 "
                                           "bytes after the 8-byte header, found 5"));
  // A header claiming 2^30 images of 28x28 is refused from the data there is,
  // without allocating for what it claims.
  writeFile(path, idxBytes({1u << 30, 28, 28}, std::string(100, '\0')));
  EXPECT_EQ(cnnc_idx_load(path.c_str(), &a), CNNC_ERROR_FORMAT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("bad-idx: truncated IDX data: shape [1073741824,28,28] "
                                           "needs 841813590016 bytes after the 16-byte header, "
                                           "found 100"));
  EXPECT_EQ(a.data, nullptr);
  // Sizes that overflow 64 bits.
  writeFile(path, idxBytes({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, ""));
  EXPECT_EQ(cnnc_idx_load(path.c_str(), &a), CNNC_ERROR_FORMAT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("bad-idx: shape [4294967295,4294967295,4294967295] has "
                                           "more elements than fit in 64 bits"));
  writeFile(path, std::string("\0\0\x0d\x01\0\0\0\x01xxxx", 12));
  EXPECT_EQ(cnnc_idx_load(path.c_str(), &a), CNNC_ERROR_FORMAT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("IDX element type 0x0d is not supported"));
  writeFile(path, "hello world");
  EXPECT_EQ(cnnc_idx_load(path.c_str(), &a), CNNC_ERROR_FORMAT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("not an IDX file"));
  EXPECT_EQ(cnnc_idx_load("/nonexistent/idx", &a), CNNC_ERROR_IO);
}

} // namespace
