//===- json.cpp - JSON documents of the runtime, read with nlohmann-json --===//
//
// The runtime's one entry into nlohmann-json: parse without comments (and
// reject a NUL byte, which the library would take for the end), catch
// the library's exceptions (syntax errors, number overflow) and rethrow them
// as RuntimeError with the document named, strip the library's
// "[json.exception...] parse error at line L, column C: " prefix, and keep
// its description of the problem.
//
//===----------------------------------------------------------------------===//
#include "json.h"

#include "error.h"

#include <cmath>
#include <limits>

namespace cnnc::rt {

namespace {

/// The library's message without its "[json.exception.NAME.ID] " tag and,
/// for a parse error, its "parse error at line L, column C: " position.
std::string problemOf(const nlohmann::json::exception &e) {
  std::string message = e.what();
  if (message.rfind("[json.exception.", 0) == 0)
    if (size_t tagEnd = message.find("] "); tagEnd != std::string::npos)
      message.erase(0, tagEnd + 2);
  if (message.rfind("parse error", 0) == 0)
    if (size_t colon = message.find(": "); colon != std::string::npos)
      message.erase(0, colon + 2);
  return message;
}

} // namespace

Json parseJson(std::string_view text, const std::string &what) {
  // nlohmann-json takes a NUL byte for the end of the input and would accept
  // whatever follows it.
  if (size_t nul = text.find('\0'); nul != std::string_view::npos)
    fail(CNNC_ERROR_FORMAT, "malformed " + what + ": NUL character at byte " + std::to_string(nul));
  try {
    return Json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/true,
                       /*ignore_comments=*/false);
  } catch (const nlohmann::json::parse_error &e) {
    // e.byte counts the characters read, the offending one included.
    size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    fail(CNNC_ERROR_FORMAT,
         "malformed " + what + ": " + problemOf(e) + " at byte " + std::to_string(offset));
  } catch (const nlohmann::json::exception &e) {
    fail(CNNC_ERROR_FORMAT, "malformed " + what + ": " + problemOf(e));
  }
}

std::string dumpJson(const Json &value, const std::string &what) {
  try {
    return value.dump();
  } catch (const nlohmann::json::exception &e) {
    fail(CNNC_ERROR_INVALID_ARGUMENT, "cannot write " + what + ": " + problemOf(e));
  }
}

const Json *findMember(const Json &object, std::string_view key) {
  if (!object.is_object())
    return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<int64_t> jsonInteger(const Json &value) {
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return int64_t(u);
  }
  if (value.is_number_integer())
    return value.get<int64_t>();
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
      return int64_t(d);
  }
  return std::nullopt;
}

} // namespace cnnc::rt
