//===- json.h - JSON documents of the runtime, read with nlohmann-json -*- C++ -*-===//
//
// The runtime reads two JSON documents: a model.so's metadata
// (docs/runtime-abi.md) and a safetensors header. Both are parsed by
// nlohmann-json into an ordered_json, which keeps object members in file
// order. parseJson turns every error of the library into the runtime's own
// RuntimeError(CNNC_ERROR_FORMAT), naming the document and the byte offset,
// and dumpJson does the same for writing, so no nlohmann exception ever
// reaches the C API. jsonInteger applies the
// runtime's one rule for integers (exact int64, also from 1e3 or 2.0).
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_SRC_JSON_H
#define CNNC_RUNTIME_SRC_JSON_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cnnc::rt {

/// A parsed JSON value; objects keep their members in file order.
using Json = nlohmann::ordered_json;

/// Parses `text` as one JSON document (surrounding whitespace allowed).
/// `what` names the document in errors ("metadata in 'm.so'"): a syntax
/// error throws RuntimeError(CNNC_ERROR_FORMAT) "malformed WHAT: PROBLEM at
/// byte N", N the 0-based offset where parsing stopped.
Json parseJson(std::string_view text, const std::string &what);

/// `value` as compact JSON text. A string that is not valid UTF-8 throws
/// RuntimeError(CNNC_ERROR_INVALID_ARGUMENT) "cannot write WHAT: PROBLEM".
std::string dumpJson(const Json &value, const std::string &what);

/// The member named `key` of `object`, or null if absent or not an object.
const Json *findMember(const Json &object, std::string_view key);

/// `value` as an exact int64: an integer literal that fits, or a number
/// written with a fraction or exponent whose value is an integer of
/// magnitude below 9e15, exact in a double (1e3, 2.0). Anything else (2.5,
/// 1e20, 2^63, a string) is nullopt.
std::optional<int64_t> jsonInteger(const Json &value);

} // namespace cnnc::rt

#endif
