//===- json_test.cpp - The runtime's reading of JSON documents ------------===//
//
// Tests runtime/src/json.h, the runtime's one entry into nlohmann-json:
// a syntax error or a number overflow becomes RuntimeError(CNNC_ERROR_FORMAT)
// naming the document and the byte offset (never an nlohmann exception);
// a NUL byte is an error, not the end of the text; members keep file order;
// jsonInteger's rule for integers; hostile nesting is an error or a value,
// never a crash.
//
//===----------------------------------------------------------------------===//
#include "error.h"
#include "json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace cnnc::rt;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

namespace {

/// The message of the RuntimeError that parsing `text` throws, or "" if it parses.
std::string errorOf(const std::string &text) {
  try {
    parseJson(text, "metadata in 'm.so'");
  } catch (const RuntimeError &e) {
    EXPECT_EQ(e.status, CNNC_ERROR_FORMAT) << e.what();
    return e.what();
  }
  return "";
}

TEST(Json, SyntaxErrorsNameTheDocumentAndTheByte) {
  std::string trailingComma = errorOf("{\"a\": 1,}");
  EXPECT_THAT(trailingComma, StartsWith("malformed metadata in 'm.so': "));
  EXPECT_THAT(trailingComma, HasSubstr("expected string literal at byte 8"));
  // Only the runtime's wording: no nlohmann tag or line/column prefix.
  EXPECT_THAT(trailingComma, Not(HasSubstr("json.exception")));
  EXPECT_THAT(trailingComma, Not(HasSubstr("line 1")));
  EXPECT_THAT(errorOf("{} {}"), HasSubstr("expected end of input at byte 3"));
  EXPECT_THAT(errorOf(""), HasSubstr("unexpected end of input"));
  EXPECT_THAT(errorOf("tru"), HasSubstr("invalid literal"));
  EXPECT_THAT(errorOf("NaN"), HasSubstr("invalid literal"));
  EXPECT_THAT(errorOf("\"\\ud800\""), HasSubstr("surrogate"));
  EXPECT_THAT(errorOf("\"a\nb\""), HasSubstr("control character"));
  EXPECT_THAT(errorOf("{\"a\" // comment\n: 1}"), HasSubstr("invalid literal"));
}

TEST(Json, NulByteIsAnErrorNotTheEnd) {
  EXPECT_EQ(errorOf(std::string("{}\0{\"x\"", 7)),
            "malformed metadata in 'm.so': NUL character at byte 2");
}

TEST(Json, NumberOverflowIsAFormatError) {
  EXPECT_EQ(errorOf("[1e500]"), "malformed metadata in 'm.so': number overflow parsing '1e500'");
}

TEST(Json, ObjectsKeepFileOrder) {
  Json v = parseJson(R"({"z": 1, "a": [1, {"b": []}], "m": {}})", "test");
  std::vector<std::string> keys;
  for (const auto &member : v.items())
    keys.push_back(member.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"z", "a", "m"}));
  ASSERT_NE(findMember(v, "a"), nullptr);
  EXPECT_EQ(findMember(v, "a")->size(), 2u);
  EXPECT_EQ(findMember(v, "missing"), nullptr);
  EXPECT_EQ(findMember(*findMember(v, "a"), "b"), nullptr); // not an object
}

TEST(Json, Integers) {
  auto integerOf = [](const char *text) { return jsonInteger(parseJson(text, "test")); };
  EXPECT_EQ(integerOf("-12"), -12);
  EXPECT_EQ(integerOf("0"), 0);
  EXPECT_EQ(integerOf("9007199254740993"), 9007199254740993LL); // not exact as a double
  EXPECT_EQ(integerOf("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(integerOf("1e3"), 1000);
  EXPECT_EQ(integerOf("2.0"), 2);
  EXPECT_EQ(integerOf("2.5"), std::nullopt);
  EXPECT_EQ(integerOf("9223372036854775808"), std::nullopt); // past int64
  EXPECT_EQ(integerOf("99999999999999999999"), std::nullopt);
  EXPECT_EQ(integerOf("1e20"), std::nullopt);
  EXPECT_EQ(integerOf("\"3\""), std::nullopt);
  EXPECT_EQ(integerOf("true"), std::nullopt);
}

TEST(Json, DeepNestingIsAnErrorOrAValueNotACrash) {
  EXPECT_THAT(errorOf(std::string(100000, '[')), HasSubstr("unexpected end of input"));
  Json deep = parseJson(std::string(100000, '[') + std::string(100000, ']'), "test");
  EXPECT_TRUE(deep.is_array());
}

} // namespace
