//===- json_test.cpp - The runtime's JSON parser --------------------------===//
//
// Edge cases of cnnc::rt::parseJson (runtime/src/json.h): literals, number
// forms and integer exactness, string escapes and surrogate pairs, member
// order, and the malformed inputs it must reject with a byte offset.
//
//===----------------------------------------------------------------------===//
#include "error.h"
#include "json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace cnnc::rt;
using ::testing::HasSubstr;

namespace {

std::string errorOf(const std::string &text) {
  try {
    parseJson(text, "test");
  } catch (const RuntimeError &e) {
    EXPECT_EQ(e.status, CNNC_ERROR_FORMAT);
    return e.what();
  }
  return "";
}

TEST(Json, Literals) {
  EXPECT_TRUE(parseJson("null").isNull());
  EXPECT_TRUE(parseJson(" true ").boolean);
  EXPECT_FALSE(parseJson("false").boolean);
  EXPECT_EQ(parseJson("\"\"").string, "");
}

TEST(Json, Numbers) {
  JsonValue v = parseJson("-12");
  EXPECT_TRUE(v.isInteger);
  EXPECT_EQ(v.integer, -12);
  v = parseJson("9007199254740993"); // not exact as a double
  EXPECT_TRUE(v.isInteger);
  EXPECT_EQ(v.integer, 9007199254740993LL);
  v = parseJson("2.5e-3");
  EXPECT_FALSE(v.isInteger);
  EXPECT_DOUBLE_EQ(v.number, 0.0025);
  v = parseJson("1e3");
  EXPECT_TRUE(v.isInteger);
  EXPECT_EQ(v.integer, 1000);
  v = parseJson("0");
  EXPECT_EQ(v.integer, 0);
  EXPECT_FALSE(parseJson("99999999999999999999").isInteger); // overflows int64
}

TEST(Json, StringEscapes) {
  EXPECT_EQ(parseJson(R"("a\"b\\c\/d\n\t")").string, "a\"b\\c/d\n\t");
  EXPECT_EQ(parseJson(R"("\u00e9")").string, "\xc3\xa9");
  EXPECT_EQ(parseJson(R"("\ud83d\ude00")").string, "\xf0\x9f\x98\x80");
}

TEST(Json, ObjectsKeepOrder) {
  JsonValue v = parseJson(R"({"z": 1, "a": [1, {"b": []}], "m": {}})");
  ASSERT_TRUE(v.isObject());
  ASSERT_EQ(v.object.size(), 3u);
  EXPECT_EQ(v.object[0].first, "z");
  EXPECT_EQ(v.object[1].first, "a");
  EXPECT_EQ(v.object[2].first, "m");
  ASSERT_NE(v.find("a"), nullptr);
  EXPECT_EQ(v.find("a")->array.size(), 2u);
  EXPECT_EQ(v.find("missing"), nullptr);
  EXPECT_EQ(parseJson("[]").array.size(), 0u);
}

TEST(Json, RejectsMalformed) {
  EXPECT_THAT(errorOf(""), HasSubstr("unexpected end of input"));
  EXPECT_THAT(errorOf("{\"a\": 1,}"), HasSubstr("expected a string key"));
  EXPECT_THAT(errorOf("[1, 2,]"), HasSubstr("unexpected character ']'"));
  EXPECT_THAT(errorOf("[1 2]"), HasSubstr("expected ',' or ']'"));
  EXPECT_THAT(errorOf("{\"a\" 1}"), HasSubstr("expected ':'"));
  EXPECT_THAT(errorOf("\"abc"), HasSubstr("unterminated string"));
  EXPECT_THAT(errorOf("\"a\nb\""), HasSubstr("control character"));
  EXPECT_THAT(errorOf("\"\\x\""), HasSubstr("invalid escape"));
  EXPECT_THAT(errorOf("\"\\ud800\""), HasSubstr("unpaired surrogate"));
  EXPECT_THAT(errorOf("01"), HasSubstr("trailing"));
  EXPECT_THAT(errorOf("1."), HasSubstr("invalid number"));
  EXPECT_THAT(errorOf("-"), HasSubstr("invalid number"));
  EXPECT_THAT(errorOf("NaN"), HasSubstr("unexpected character 'N'"));
  EXPECT_THAT(errorOf("tru"), HasSubstr("invalid literal"));
  EXPECT_THAT(errorOf("{} {}"), HasSubstr("trailing characters at byte 3"));
}

TEST(Json, DeepNestingIsAnErrorNotACrash) {
  std::string deep(100000, '[');
  EXPECT_THAT(errorOf(deep), HasSubstr("nesting deeper than 256"));
}

TEST(Json, Quote) {
  EXPECT_EQ(jsonQuote("a\"b\\\n\x01"), "\"a\\\"b\\\\\\n\\u0001\"");
  EXPECT_EQ(parseJson(jsonQuote("x\ty\"")).string, "x\ty\"");
}

} // namespace
