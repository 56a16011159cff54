//===- arrays_test.cpp - .npy and IDX readers -----------------------------===//
//
// Tests cnnc_npy_load / cnnc_npy_save (round trip, version 2 headers, and
// the errors for a wrong dtype, Fortran order, bad magic and truncation) and
// cnnc_idx_load on plain and gzipped files.
//
//===----------------------------------------------------------------------===//
#include "cnnc/runtime.h"
#include "cnnc/runtime.hpp"
#include "test_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

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

std::string npyError(const std::string &bytes) {
  TempDir dir;
  std::string path = dir.file("a.npy");
  writeFile(path, bytes);
  cnnc_array a{};
  EXPECT_NE(cnnc_npy_load(path.c_str(), &a), CNNC_OK);
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
  EXPECT_THAT(npyError(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                                std::string(12, '\0'))),
              HasSubstr("truncated .npy data"));
  EXPECT_THAT(npyError("\x93NUMPY\x01"), HasSubstr("bad magic"));
}

TEST(Npy, BadMagicAndHeader) {
  EXPECT_THAT(npyError("PK\x03\x04 this is a zip file"), HasSubstr("not a NumPy .npy file"));
  EXPECT_THAT(npyError(npyBytes("{'descr': '<f4', 'shape': (4,)}", "")),
              HasSubstr("missing 'descr', 'fortran_order' or 'shape'"));
  EXPECT_THAT(npyError(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,)}", "")),
              HasSubstr("malformed .npy header"));
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
  EXPECT_THAT(cnnc_last_error(), HasSubstr("truncated IDX data"));
  writeFile(path, std::string("\0\0\x0d\x01\0\0\0\x01xxxx", 12));
  EXPECT_EQ(cnnc_idx_load(path.c_str(), &a), CNNC_ERROR_FORMAT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("IDX element type 0x0d is not supported"));
  writeFile(path, "hello world");
  EXPECT_EQ(cnnc_idx_load(path.c_str(), &a), CNNC_ERROR_FORMAT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("not an IDX file"));
  EXPECT_EQ(cnnc_idx_load("/nonexistent/idx", &a), CNNC_ERROR_IO);
}

} // namespace
