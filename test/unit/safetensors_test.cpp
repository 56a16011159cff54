//===- safetensors_test.cpp - Parameters from and to safetensors ----------===//
//
// Tests cnnc_model_load_parameters / save_parameters on the test model with
// files built byte by byte: a round trip, extra and int64 tensors ignored,
// and each error (missing parameter, shape, dtype, truncation, bad header)
// with the message it must give. A failed load must change nothing. The
// writer (safetensors.h) escapes any name and metadata value, and refuses
// one that is not UTF-8.
//
//===----------------------------------------------------------------------===//
#include "cnnc/runtime.h"
#include "cnnc/runtime.hpp"
#include "error.h"
#include "safetensors.h"
#include "test_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace cnnc::test;
using ::testing::HasSubstr;

namespace {

std::string goodFile() {
  return makeSafetensors({{"fc.weight", "F32", "[3,4]", floatBytes(testWeight())},
                          {"fc.bias", "F32", "[3]", floatBytes(testBias())}});
}

/// Loads `bytes` as a safetensors file into a fresh test model; returns the
/// status and leaves the message in `message`.
cnnc_status loadBytes(const std::string &bytes, std::string &message) {
  TempDir dir;
  std::string path = dir.file("w.safetensors");
  writeFile(path, bytes);
  cnnc::Model m(CNNC_TEST_MODEL);
  cnnc_status s = cnnc_model_load_parameters(m.get(), path.c_str());
  message = cnnc_last_error();
  return s;
}

TEST(Safetensors, LoadsAndRuns) {
  TempDir dir;
  std::string path = dir.file("w.safetensors");
  writeFile(path, goodFile());
  cnnc::Model m(CNNC_TEST_MODEL);
  m.loadParameters(path);
  EXPECT_EQ(m.getParameter("fc.weight"), testWeight());
  EXPECT_EQ(m.getParameter("fc.bias"), testBias());
  std::vector<float> x = {1, 2, 3, 4};
  EXPECT_EQ(m.run(1, x), referenceForward(testWeight(), testBias(), x, 1));
}

TEST(Safetensors, RoundTrip) {
  TempDir dir;
  std::string path = dir.file("saved.safetensors");
  cnnc::Model a(CNNC_TEST_MODEL);
  a.setParameter("fc.weight", testWeight());
  a.setParameter("fc.bias", testBias());
  a.saveParameters(path);
  cnnc::Model b(CNNC_TEST_MODEL);
  b.loadParameters(path);
  EXPECT_EQ(b.getParameter("fc.weight"), testWeight());
  EXPECT_EQ(b.getParameter("fc.bias"), testBias());
  // The header is padded to 8 bytes and the file is exactly header + data.
  std::FILE *f = std::fopen(path.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  unsigned char len[8];
  ASSERT_EQ(std::fread(len, 1, 8, f), 8u);
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  std::fclose(f);
  EXPECT_EQ(len[0] % 8, 0);
  EXPECT_EQ(size, long(8 + len[0] + len[1] * 256 + 15 * 4));
}

TEST(Safetensors, SaveRequiresAllParameters) {
  TempDir dir;
  cnnc::Model m(CNNC_TEST_MODEL);
  m.setParameter("fc.weight", testWeight());
  EXPECT_EQ(cnnc_model_save_parameters(m.get(), dir.file("x.safetensors").c_str()),
            CNNC_ERROR_PARAMETER);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("'fc.bias' has not been set"));
}

TEST(Safetensors, ExtraTensorsAndInt64AreIgnored) {
  std::string i64(8, '\0');
  std::string bytes = makeSafetensors({{"bn.num_batches_tracked", "I64", "[]", i64},
                                       {"fc.weight", "F32", "[3,4]", floatBytes(testWeight())},
                                       {"unused.weight", "F32", "[2]", floatBytes({1, 2})},
                                       {"fc.bias", "F32", "[3]", floatBytes(testBias())},
                                       {"strange", "X17", "[1]", "abc"}});
  std::string msg;
  EXPECT_EQ(loadBytes(bytes, msg), CNNC_OK) << msg;
}

TEST(Safetensors, MissingParameter) {
  std::string msg;
  EXPECT_EQ(
      loadBytes(makeSafetensors({{"fc.weight", "F32", "[3,4]", floatBytes(testWeight())}}), msg),
      CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("missing parameter 'fc.bias'"));
}

TEST(Safetensors, ShapeMismatch) {
  std::string msg;
  EXPECT_EQ(loadBytes(makeSafetensors({{"fc.weight", "F32", "[4,3]", floatBytes(testWeight())},
                                       {"fc.bias", "F32", "[3]", floatBytes(testBias())}}),
                      msg),
            CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("fc.weight: expected [3,4], found [4,3]"));
}

TEST(Safetensors, WrongDtype) {
  std::string msg;
  EXPECT_EQ(loadBytes(makeSafetensors({{"fc.weight", "F64", "[3,4]", std::string(96, '\0')},
                                       {"fc.bias", "F32", "[3]", floatBytes(testBias())}}),
                      msg),
            CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("fc.weight: expected dtype F32, found F64"));
}

TEST(Safetensors, HeaderLengthPastEnd) {
  std::string msg;
  EXPECT_EQ(loadBytes(u64le(1000) + "{}", msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("truncated"));
  EXPECT_THAT(msg, HasSubstr("header length 1000 is past the end of the file (10 bytes)"));
}

TEST(Safetensors, ShorterThanLengthField) {
  std::string msg;
  EXPECT_EQ(loadBytes("abc", msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("less than the 8-byte header length"));
}

TEST(Safetensors, DataOffsetsPastEnd) {
  std::string good = goodFile();
  std::string truncated = good.substr(0, good.size() - 4); // drop the last float
  std::string msg;
  EXPECT_EQ(loadBytes(truncated, msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("truncated safetensors file"));
  EXPECT_THAT(msg, HasSubstr("tensor 'fc.bias' has data_offsets [48,60] past the end"));
}

TEST(Safetensors, GarbageHeader) {
  std::string msg;
  EXPECT_EQ(loadBytes(safetensors("{not json", ""), msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("malformed safetensors header"));
  EXPECT_EQ(loadBytes(safetensors("[1,2]", ""), msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("expected an object, found array"));
  EXPECT_EQ(loadBytes(safetensors("{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[3]}}", ""), msg),
            CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("no \"data_offsets\""));
}

TEST(Safetensors, DeeplyNestedHeaderIsAnError) {
  std::string msg;
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(loadBytes(safetensors(deep, ""), msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("expected an object, found array"));
  EXPECT_EQ(loadBytes(safetensors("{\"fc.bias\":" + deep + "}", ""), msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("tensor 'fc.bias' is not an object"));
  EXPECT_EQ(loadBytes(safetensors(std::string(100000, '{'), ""), msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("malformed safetensors header in '"));
}

TEST(Safetensors, SyntaxErrorNamesFileAndByte) {
  std::string msg;
  EXPECT_EQ(loadBytes(safetensors("{\"fc.bias\":{\"dtype\":\"F32\",}}", ""), msg),
            CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("malformed safetensors header in '/tmp/"));
  EXPECT_THAT(msg, HasSubstr("w.safetensors': syntax error"));
  EXPECT_THAT(msg, HasSubstr("at byte 26")); // the stray '}'
}

TEST(Safetensors, WriterEscapesNamesAndMetadata) {
  TempDir dir;
  std::string path = dir.file("odd.safetensors");
  std::string name = "odd \"name\"\\\n\t\x01\xc3\xa9";
  std::vector<float> values = {1.5f, -2.0f};
  cnnc::rt::writeSafetensors(path, {{"note", "a \"quoted\"\nvalue"}},
                             {{name, {2}, values.data(), 2}}, "weights");
  cnnc::rt::SafetensorsReader reader(path, "weights");
  EXPECT_EQ(reader.metadata.at("note"), "a \"quoted\"\nvalue");
  const cnnc::rt::SafetensorsEntry &entry = reader.require(name, {2}, "parameter");
  std::vector<float> back(2);
  ASSERT_TRUE(reader.read(entry, back.data()));
  EXPECT_EQ(back, values);
}

TEST(Safetensors, WriterRejectsANameThatIsNotUtf8) {
  TempDir dir;
  std::string path = dir.file("bad-name.safetensors");
  std::vector<float> values = {1.0f};
  try {
    cnnc::rt::writeSafetensors(path, {}, {{"bad\xff", {1}, values.data(), 1}}, "weights");
    ADD_FAILURE() << "no error";
  } catch (const cnnc::rt::RuntimeError &e) {
    EXPECT_EQ(e.status, CNNC_ERROR_INVALID_ARGUMENT);
    EXPECT_THAT(e.what(), HasSubstr("cannot write the header of weights '" + path + "': "));
    EXPECT_THAT(e.what(), HasSubstr("UTF-8"));
  }
  EXPECT_NE(access(path.c_str(), F_OK), 0); // nothing written
}

TEST(Safetensors, OffsetsDisagreeWithShape) {
  std::string msg;
  std::string header = "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,44]},"
                       "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[44,56]}}";
  EXPECT_EQ(loadBytes(safetensors(header, std::string(56, '\0')), msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("needs 48 bytes but data_offsets span 44"));
}

TEST(Safetensors, MissingFile) {
  cnnc::Model m(CNNC_TEST_MODEL);
  EXPECT_EQ(cnnc_model_load_parameters(m.get(), "/nonexistent/w.safetensors"), CNNC_ERROR_IO);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("cannot open weights '/nonexistent/w.safetensors'"));
}

TEST(Safetensors, FailedLoadChangesNothing) {
  TempDir dir;
  std::string good = dir.file("good.safetensors"), bad = dir.file("bad.safetensors");
  writeFile(good, goodFile());
  std::vector<float> otherWeight(12, 9.0f);
  writeFile(bad, makeSafetensors({{"fc.weight", "F32", "[3,4]", floatBytes(otherWeight)}}));
  cnnc::Model m(CNNC_TEST_MODEL);
  m.loadParameters(good);
  EXPECT_THROW(m.loadParameters(bad), cnnc::Error);
  EXPECT_EQ(m.getParameter("fc.weight"), testWeight());
}

} // namespace
