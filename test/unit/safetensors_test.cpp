//===- safetensors_test.cpp - Parameters from and to safetensors ----------===//
//
// Tests cnnc_model_load_parameters / save_parameters on the test model with
// files built byte by byte: a round trip, extra and int64 tensors ignored,
// and each error (missing parameter, shape, dtype, truncation, bad header)
// with the message it must give: a missing parameter with the file's
// nearest names and the prefix to strip, a file of another format (torch.save,
// pickle, NumPy, ONNX, HDF5, gzip, empty) by name. Loading with a prefix to
// strip (cnnc_model_load_parameters_prefixed). A failed load must change
// nothing. The writer (safetensors.h) escapes any name and metadata value,
// and refuses one that is not UTF-8.
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

/// Loads `bytes`, written as file `name` in a temporary directory, as a
/// safetensors file into a fresh test model, stripping `prefix`; returns the
/// status and leaves the message, the directory replaced by DIR, in `message`.
cnnc_status loadBytesAs(const std::string &name, const std::string &bytes, std::string &message,
                        const char *prefix = nullptr) {
  TempDir dir;
  std::string path = dir.file(name);
  writeFile(path, bytes);
  cnnc::Model m(CNNC_TEST_MODEL);
  cnnc_status s = cnnc_model_load_parameters_prefixed(m.get(), path.c_str(), prefix);
  message = cnnc_last_error();
  for (size_t at; (at = message.find(dir.path())) != std::string::npos;)
    message.replace(at, dir.path().size(), "DIR");
  return s;
}

/// loadBytesAs for a file called w.safetensors.
cnnc_status loadBytes(const std::string &bytes, std::string &message,
                      const char *prefix = nullptr) {
  return loadBytesAs("w.safetensors", bytes, message, prefix);
}

/// The test model's parameters, each name with `prefix`.
std::string prefixedFile(const std::string &prefix) {
  return makeSafetensors({{prefix + "fc.weight", "F32", "[3,4]", floatBytes(testWeight())},
                          {prefix + "fc.bias", "F32", "[3]", floatBytes(testBias())}});
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

TEST(Safetensors, MissingParameterNamesTheNearestInTheFile) {
  std::string msg;
  EXPECT_EQ(loadBytes(makeSafetensors({{"fc.weight", "F32", "[3,4]", floatBytes(testWeight())},
                                       {"conv.weight", "F32", "[1]", floatBytes({1})},
                                       {"fc.bais", "F32", "[3]", floatBytes(testBias())},
                                       {"head.fc.bias", "F32", "[3]", floatBytes(testBias())},
                                       {"z", "F32", "[1]", floatBytes({1})}}),
                      msg),
            CNNC_ERROR_PARAMETER);
  // A shared dotted suffix first, then by edit distance; two more not shown.
  EXPECT_THAT(msg, HasSubstr("DIR/w.safetensors: missing parameter 'fc.bias' [3]; the file has "
                             "'head.fc.bias', 'fc.bais', 'fc.weight' and 2 more"));
}

TEST(Safetensors, MissingParameterInAnEmptyFile) {
  std::string msg;
  EXPECT_EQ(loadBytes(makeSafetensors({}), msg), CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("missing parameter 'fc.weight' [3,4] and 1 more; the file has no "
                             "tensors"));
}

TEST(Safetensors, PrefixedFileSuggestsStrippingThePrefix) {
  std::string msg;
  EXPECT_EQ(loadBytes(prefixedFile("module."), msg), CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("missing parameter 'fc.weight' [3,4] and 1 more; the file has "
                             "'module.fc.weight', 'module.fc.bias'; every parameter is in the "
                             "file under the prefix 'module.': load it with --strip-prefix "
                             "module. (Python: strip_prefix=\"module.\")"));
}

TEST(Safetensors, StripPrefixLoads) {
  // Tensors without the prefix are ignored, even one named like a parameter.
  std::string bytes =
      makeSafetensors({{"model.fc.weight", "F32", "[3,4]", floatBytes(testWeight())},
                       {"fc.weight", "F32", "[1]", floatBytes({7})},
                       {"model.fc.bias", "F32", "[3]", floatBytes(testBias())}});
  TempDir dir;
  std::string path = dir.file("w.safetensors");
  writeFile(path, bytes);
  cnnc::Model m(CNNC_TEST_MODEL);
  m.loadParameters(path, "model.");
  EXPECT_EQ(m.getParameter("fc.weight"), testWeight());
  EXPECT_EQ(m.getParameter("fc.bias"), testBias());
  // Mismatches name the file's tensor.
  std::string msg;
  EXPECT_EQ(loadBytes(makeSafetensors({{"m.fc.weight", "F32", "[4,3]", floatBytes(testWeight())},
                                       {"m.fc.bias", "F32", "[3]", floatBytes(testBias())}}),
                      msg, "m."),
            CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("m.fc.weight: expected [3,4], found [4,3]"));
  // An empty prefix is a plain load.
  EXPECT_EQ(loadBytes(goodFile(), msg, ""), CNNC_OK) << msg;
}

TEST(Safetensors, StripPrefixOnAFileWithoutIt) {
  std::string msg;
  EXPECT_EQ(loadBytes(goodFile(), msg, "module."), CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("missing parameter 'fc.weight' [3,4] (looked up as "
                             "'module.fc.weight') and 1 more; the file has 'fc.weight', "
                             "'fc.bias'; every parameter is in the file without the prefix "
                             "'module.': load it without stripping a prefix"));
  EXPECT_EQ(loadBytes(makeSafetensors({{"fc.weight", "F32", "[3,4]", floatBytes(testWeight())}}),
                      msg, "net."),
            CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("; no tensor name in the file starts with 'net.'"));
  // The wrong prefix: the right one is suggested.
  EXPECT_EQ(loadBytes(prefixedFile("module."), msg, "model."), CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("under the prefix 'module.': load it with --strip-prefix module."));
}

TEST(Safetensors, FileWithoutThePrefixOfTheModelsNames) {
  // The test model's names are fc.*; a file of the layer alone lacks "fc.".
  std::string msg;
  EXPECT_EQ(loadBytes(makeSafetensors({{"weight", "F32", "[3,4]", floatBytes(testWeight())},
                                       {"bias", "F32", "[3]", floatBytes(testBias())}}),
                      msg),
            CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("; every parameter is in the file without the prefix 'fc.' the "
                             "model's names have (e.g. 'weight' for 'fc.weight')"));
}

/// A zip archive's first local file header, for an entry called `name`.
std::string zipHeader(const std::string &name) {
  std::string h = "PK\x03\x04";
  h += std::string(22, '\0');
  h += char(name.size());
  h += std::string(3, '\0');
  return h + name;
}

TEST(Safetensors, OtherFormatsAreNamed) {
  struct Case {
    const char *file;
    std::string bytes, expect;
  };
  std::string convert = "convert it with `python3 -m cnnc.convert DIR/";
  std::vector<Case> cases = {
      {"w.pt", zipHeader("w/data.pkl") + std::string(64, 'Z'),
       "'DIR/w.pt' is a PyTorch checkpoint (torch.save zip archive), not safetensors: " + convert +
           "w.pt DIR/w.safetensors` (the cnnc Python package)"},
      {"w.safetensors", zipHeader("w/data.pkl"),
       convert + "w.safetensors DIR/w.converted.safetensors`"},
      {"j.pt", zipHeader("j/data/0") + std::string(40, 'x') + "PK\x01\x02j/constants.pkl",
       "'DIR/j.pt' is a TorchScript module (torch.jit.save zip archive), not safetensors: " +
           convert + "j.pt DIR/j.safetensors`"},
      {"a.npz", zipHeader("conv.weight.npy"),
       "'DIR/a.npz' is a NumPy .npz archive, not safetensors: " + convert + "a.npz"},
      {"x.zip", zipHeader("readme.txt"),
       "'DIR/x.zip' is a zip archive, not safetensors: cnnc reads parameters from safetensors"},
      {"old.pth", std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e", 15),
       "'DIR/old.pth' is a PyTorch checkpoint (legacy torch.save format), not safetensors: " +
           convert + "old.pth DIR/old.safetensors`"},
      {"p.pkl", std::string("\x80\x04\x95\x10\0\0\0\0\0\0\0}", 12),
       "'DIR/p.pkl' is a Python pickle, not safetensors: if it holds a dict of arrays, " + convert +
           "p.pkl DIR/p.safetensors`"},
      {"a.npy", std::string("\x93NUMPY\x01\x00v\x00{'descr': '<f4'}", 26),
       "'DIR/a.npy' is a NumPy .npy array, not safetensors: parameters are read by name"},
      {"m.onnx", std::string("\x08\x07\x12\x07pytorch\x1a\x03", 13),
       "'DIR/m.onnx' is an ONNX model, not safetensors: compile it with cnnc (`cnnc "
       "DIR/m.onnx`), which embeds its initializers in model.so"},
      {"w.h5", std::string("\x89HDF\r\n\x1a\n\0\0\0\0", 12), "is an HDF5 file"},
      {"w.safetensors.gz", std::string("\x1f\x8b\x08\0\0\0\0\0\0\x03", 10),
       "'DIR/w.safetensors.gz' is gzip-compressed, not safetensors: decompress it first"},
      {"empty.safetensors", "",
       "'DIR/empty.safetensors' is empty (0 bytes), not a safetensors "
       "file"},
  };
  for (const Case &c : cases) {
    std::string msg;
    EXPECT_EQ(loadBytesAs(c.file, c.bytes, msg), CNNC_ERROR_FORMAT) << c.file;
    EXPECT_THAT(msg, HasSubstr(c.expect)) << c.file;
  }
}

TEST(Safetensors, CnnrunRunNamesTheFormatAndRefusesAWrongLayout) {
  TempDir dir;
  std::string weights = dir.file("w.safetensors"), pt = dir.file("w.pt"), x = dir.file("x.npy"),
              y = dir.file("y.npy");
  writeFile(weights, goodFile());
  writeFile(pt, zipHeader("w/data.pkl") + std::string(64, 'Z'));
  std::vector<float> values(8, 1.0f);
  cnnc::Array::saveNpy(x, values.data(), {4, 2}); // 2 items of [4] in the wrong layout
  std::string cnnrun = std::string(CNNC_CNNRUN) + " run " + CNNC_TEST_MODEL, out, err;
  EXPECT_EQ(
      runCommand(cnnrun + " --weights " + weights + " --input " + x + " --output " + y, out, &err),
      1);
  EXPECT_THAT(err, HasSubstr(x + ": shape [4,2] does not match input 'input' [-1,4]"));
  EXPECT_EQ(runCommand(cnnrun + " --weights " + pt + " --input " + x + " --output " + y, out, &err),
            1);
  EXPECT_THAT(err, HasSubstr("'" + pt + "' is a PyTorch checkpoint (torch.save zip archive)"));
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
  EXPECT_THAT(msg, HasSubstr("malformed safetensors header in 'DIR/w.safetensors': syntax error"));
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
