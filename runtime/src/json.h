//===- json.h - A small JSON reader for model metadata ----------*- C++ -*-===//
//
// Parses RFC 8259 JSON into a tree of JsonValue: enough for the model
// metadata (docs/runtime-abi.md) and safetensors headers. Objects keep their
// members in file order (the metadata lists tensors in graph order). Numbers
// are kept as double and, when the literal is an integer that fits, as an
// exact int64. Nesting is limited to 256 levels so hostile input cannot
// exhaust the stack. Errors throw RuntimeError(CNNC_ERROR_FORMAT) with the
// byte offset of the problem.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_SRC_JSON_H
#define CNNC_RUNTIME_SRC_JSON_H

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cnnc::rt {

/// One JSON value; a tagged union kept simple rather than small.
struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  bool isInteger = false; ///< the literal was an integer that fits in int64
  int64_t integer = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::vector<std::pair<std::string, JsonValue>> object;

  bool isNull() const { return kind == Kind::Null; }
  bool isString() const { return kind == Kind::String; }
  bool isArray() const { return kind == Kind::Array; }
  bool isObject() const { return kind == Kind::Object; }
  bool isNumber() const { return kind == Kind::Number; }
  /// The member named `key` of an object, or null if absent / not an object.
  const JsonValue *find(std::string_view key) const;
};

/// Parses `text` as one JSON document (surrounding whitespace allowed).
/// `what` names the document in error messages ("metadata", "safetensors header").
JsonValue parseJson(std::string_view text, const std::string &what = "JSON");

/// Returns `s` as a quoted JSON string literal with escapes.
std::string jsonQuote(std::string_view s);

/// A readable name of a kind, for "expected X, found Y" messages.
const char *jsonKindName(JsonValue::Kind kind);

} // namespace cnnc::rt

#endif
