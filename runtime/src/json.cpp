//===- json.cpp - A small JSON reader for model metadata ------------------===//
//
// A recursive-descent parser over a string_view. It accepts exactly RFC 8259
// JSON: no comments, no trailing commas, no NaN, no leading zeros; strings
// must be valid escapes (\uXXXX with surrogate pairs is decoded to UTF-8) and
// contain no raw control characters.
//
//===----------------------------------------------------------------------===//
#include "json.h"

#include "error.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace cnnc::rt {

const JsonValue *JsonValue::find(std::string_view key) const {
  if (kind != Kind::Object)
    return nullptr;
  for (const auto &member : object)
    if (member.first == key)
      return &member.second;
  return nullptr;
}

const char *jsonKindName(JsonValue::Kind kind) {
  switch (kind) {
  case JsonValue::Kind::Null:
    return "null";
  case JsonValue::Kind::Bool:
    return "boolean";
  case JsonValue::Kind::Number:
    return "number";
  case JsonValue::Kind::String:
    return "string";
  case JsonValue::Kind::Array:
    return "array";
  case JsonValue::Kind::Object:
    return "object";
  }
  return "?";
}

namespace {

constexpr int kMaxDepth = 256;

class Parser {
public:
  Parser(std::string_view text, const std::string &what) : text(text), what(what) {}

  JsonValue parseDocument() {
    skipSpace();
    JsonValue v = parseValue(0);
    skipSpace();
    if (pos != text.size())
      error("unexpected trailing characters");
    return v;
  }

private:
  std::string_view text;
  const std::string &what;
  size_t pos = 0;

  [[noreturn]] void error(const std::string &msg) {
    fail(CNNC_ERROR_FORMAT, "malformed " + what + ": " + msg + " at byte " + std::to_string(pos));
  }

  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return atEnd() ? '\0' : text[pos]; }

  void skipSpace() {
    while (!atEnd() &&
           (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }

  void expectWord(std::string_view word) {
    if (text.substr(pos, word.size()) != word)
      error("invalid literal");
    pos += word.size();
  }

  JsonValue parseValue(int depth) {
    if (depth > kMaxDepth)
      error("nesting deeper than " + std::to_string(kMaxDepth));
    if (atEnd())
      error("unexpected end of input");
    JsonValue v;
    char c = peek();
    switch (c) {
    case '{':
      return parseObject(depth);
    case '[':
      return parseArray(depth);
    case '"':
      v.kind = JsonValue::Kind::String;
      v.string = parseString();
      return v;
    case 't':
      expectWord("true");
      v.kind = JsonValue::Kind::Bool;
      v.boolean = true;
      return v;
    case 'f':
      expectWord("false");
      v.kind = JsonValue::Kind::Bool;
      return v;
    case 'n':
      expectWord("null");
      return v;
    default:
      if (c == '-' || (c >= '0' && c <= '9'))
        return parseNumber();
      error(std::string("unexpected character '") + c + "'");
    }
  }

  JsonValue parseObject(int depth) {
    JsonValue v;
    v.kind = JsonValue::Kind::Object;
    ++pos; // '{'
    skipSpace();
    if (peek() == '}') {
      ++pos;
      return v;
    }
    while (true) {
      skipSpace();
      if (peek() != '"')
        error("expected a string key");
      std::string key = parseString();
      skipSpace();
      if (peek() != ':')
        error("expected ':'");
      ++pos;
      skipSpace();
      JsonValue member = parseValue(depth + 1);
      v.object.emplace_back(std::move(key), std::move(member));
      skipSpace();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == '}') {
        ++pos;
        return v;
      }
      error("expected ',' or '}'");
    }
  }

  JsonValue parseArray(int depth) {
    JsonValue v;
    v.kind = JsonValue::Kind::Array;
    ++pos; // '['
    skipSpace();
    if (peek() == ']') {
      ++pos;
      return v;
    }
    while (true) {
      skipSpace();
      v.array.push_back(parseValue(depth + 1));
      skipSpace();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == ']') {
        ++pos;
        return v;
      }
      error("expected ',' or ']'");
    }
  }

  unsigned parseHex4() {
    if (pos + 4 > text.size())
      error("truncated \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text[pos++];
      code <<= 4;
      if (c >= '0' && c <= '9')
        code |= c - '0';
      else if (c >= 'a' && c <= 'f')
        code |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        code |= c - 'A' + 10;
      else
        error("invalid \\u escape");
    }
    return code;
  }

  static void appendUtf8(std::string &out, unsigned cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  std::string parseString() {
    ++pos; // opening quote
    std::string out;
    while (true) {
      if (atEnd())
        error("unterminated string");
      char c = text[pos++];
      if (c == '"')
        return out;
      if (static_cast<unsigned char>(c) < 0x20)
        error("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (atEnd())
        error("unterminated string");
      char e = text[pos++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        unsigned cp = parseHex4();
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (text.substr(pos, 2) != "\\u")
            error("unpaired surrogate in \\u escape");
          pos += 2;
          unsigned low = parseHex4();
          if (low < 0xDC00 || low > 0xDFFF)
            error("unpaired surrogate in \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          error("unpaired surrogate in \\u escape");
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        error(std::string("invalid escape '\\") + e + "'");
      }
    }
  }

  JsonValue parseNumber() {
    size_t start = pos;
    bool integral = true;
    if (peek() == '-')
      ++pos;
    if (peek() == '0') {
      ++pos;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9')
        ++pos;
    } else {
      error("invalid number");
    }
    if (peek() == '.') {
      integral = false;
      ++pos;
      if (!(peek() >= '0' && peek() <= '9'))
        error("invalid number");
      while (peek() >= '0' && peek() <= '9')
        ++pos;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos;
      if (peek() == '+' || peek() == '-')
        ++pos;
      if (!(peek() >= '0' && peek() <= '9'))
        error("invalid number");
      while (peek() >= '0' && peek() <= '9')
        ++pos;
    }
    std::string literal(text.substr(start, pos - start));
    JsonValue v;
    v.kind = JsonValue::Kind::Number;
    v.number = std::strtod(literal.c_str(), nullptr);
    if (integral) {
      errno = 0;
      long long i = std::strtoll(literal.c_str(), nullptr, 10);
      if (errno == 0) {
        v.isInteger = true;
        v.integer = i;
      }
    } else if (std::isfinite(v.number) && v.number == std::floor(v.number) &&
               std::fabs(v.number) < 9.0e15) {
      // 1e3 or 2.0 are integers too.
      v.isInteger = true;
      v.integer = static_cast<int64_t>(v.number);
    }
    return v;
  }
};

} // namespace

JsonValue parseJson(std::string_view text, const std::string &what) {
  return Parser(text, what).parseDocument();
}

std::string jsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        static const char hex[] = "0123456789abcdef";
        out += "\\u00";
        out += hex[(c >> 4) & 0xF];
        out += hex[c & 0xF];
      } else {
        out += c;
      }
    }
  }
  return out + "\"";
}

} // namespace cnnc::rt
