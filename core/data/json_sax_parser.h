// A strict JSON parser (RFC 8259) for one JSONL line that reports what it reads as SAX events with the names
// and arguments nlohmann::json's SAX interface uses, so one handler serves both. It exists for speed:
// strings, which are nearly all of a corpus line, are scanned eight bytes at a time, and nothing is stored
// beyond what the handler keeps. Iterative (an explicit stack), so any nesting depth is safe.
//
// The input must already be valid UTF-8 (the JSONL reader checks every line first). Numbers are checked
// against the grammar but not converted: handlers get 0 as the value. Unlike nlohmann, a number too large for
// a double (1e400) is accepted, as Python's json module does.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "text/utf8.h"

namespace minimind {

namespace json_sax_detail {

inline bool is_json_whitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// True when any of the 8 bytes in `word` is '"', '\\' or a control character (< 0x20).
inline bool has_string_special(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  const uint64_t quote = word ^ (kOnes * '"');
  const uint64_t backslash = word ^ (kOnes * '\\');
  const uint64_t found =
      ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) | ((word - kOnes * 0x20) & ~word);
  return (found & kHighs) != 0;
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  // Returns false with `error` set for a syntax error, or with `error` empty when the handler stopped it.
  template <typename Handler>
  bool run(Handler& handler, std::string& error) {
    enum class Next { value, key, after_value };
    std::vector<char> open;  // '{' or '[' for each open container
    Next next = Next::value;
    skip_whitespace();
    for (;;) {
      if (next == Next::key) {
        skip_whitespace();
        if (at_end() || peek() != '"') return fail(error, "expected a string key");
        ++position_;
        if (!scan_string(error)) return false;
        if (!handler.key(string_)) return false;
        skip_whitespace();
        if (at_end() || peek() != ':') return fail(error, "expected ':'");
        ++position_;
        skip_whitespace();
        next = Next::value;
        continue;
      }
      if (next == Next::value) {
        if (at_end()) return fail(error, "expected a value");
        const char c = peek();
        if (c == '{' || c == '[') {
          ++position_;
          if (!(c == '{' ? handler.start_object(static_cast<std::size_t>(-1))
                         : handler.start_array(static_cast<std::size_t>(-1)))) {
            return false;
          }
          skip_whitespace();
          const char close = c == '{' ? '}' : ']';
          if (!at_end() && peek() == close) {
            ++position_;
            if (!(c == '{' ? handler.end_object() : handler.end_array())) return false;
            next = Next::after_value;
          } else {
            open.push_back(c);
            next = c == '{' ? Next::key : Next::value;
          }
          continue;
        }
        if (c == '"') {
          ++position_;
          if (!scan_string(error)) return false;
          if (!handler.string(string_)) return false;
        } else if (c == 't' || c == 'f' || c == 'n') {
          const std::string_view literal = c == 't' ? "true" : c == 'f' ? "false" : "null";
          if (text_.substr(position_, literal.size()) != literal) return fail(error, "invalid literal");
          position_ += literal.size();
          if (!(c == 'n' ? handler.null() : handler.boolean(c == 't'))) return false;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
          bool integer = true;
          if (!scan_number(integer, error)) return false;
          if (!(integer ? handler.number_integer(0) : handler.number_float(0.0, empty_))) return false;
        } else {
          return fail(error, "expected a value");
        }
        next = Next::after_value;
        continue;
      }
      // after a value
      skip_whitespace();
      if (open.empty()) {
        if (!at_end()) return fail(error, "unexpected text after the value");
        return true;
      }
      if (at_end()) return fail(error, open.back() == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
      const char c = peek();
      if (c == ',') {
        ++position_;
        skip_whitespace();
        next = open.back() == '{' ? Next::key : Next::value;
      } else if (c == (open.back() == '{' ? '}' : ']')) {
        ++position_;
        const bool object = open.back() == '{';
        open.pop_back();
        if (!(object ? handler.end_object() : handler.end_array())) return false;
      } else {
        return fail(error, open.back() == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
      }
    }
  }

 private:
  bool at_end() const { return position_ >= text_.size(); }
  char peek() const { return text_[position_]; }

  void skip_whitespace() {
    while (position_ < text_.size() && is_json_whitespace(text_[position_])) ++position_;
  }

  bool fail(std::string& error, std::string_view what) {
    error = "syntax error at byte " + std::to_string(position_) + ": " + std::string(what);
    return false;
  }

  // The string whose opening quote was just passed, unescaped into string_.
  bool scan_string(std::string& error) {
    string_.clear();
    const char* data = text_.data();
    const size_t size = text_.size();
    for (;;) {
      const size_t run_begin = position_;
      while (position_ + 8 <= size) {
        uint64_t word;
        std::memcpy(&word, data + position_, sizeof word);
        if (has_string_special(word)) break;
        position_ += 8;
      }
      while (position_ < size) {
        const unsigned char c = static_cast<unsigned char>(data[position_]);
        if (c == '"' || c == '\\' || c < 0x20) break;
        ++position_;
      }
      string_.append(data + run_begin, position_ - run_begin);
      if (position_ >= size) return fail(error, "unterminated string");
      const char c = data[position_];
      if (c == '"') {
        ++position_;
        return true;
      }
      if (c != '\\') return fail(error, "control character in a string");
      ++position_;
      if (position_ >= size) return fail(error, "unterminated string");
      switch (data[position_++]) {
        case '"':
          string_ += '"';
          break;
        case '\\':
          string_ += '\\';
          break;
        case '/':
          string_ += '/';
          break;
        case 'b':
          string_ += '\b';
          break;
        case 'f':
          string_ += '\f';
          break;
        case 'n':
          string_ += '\n';
          break;
        case 'r':
          string_ += '\r';
          break;
        case 't':
          string_ += '\t';
          break;
        case 'u': {
          uint32_t code_point = 0;
          if (!scan_hex4(code_point)) return fail(error, "invalid \\u escape");
          if (code_point >= 0xDC00 && code_point <= 0xDFFF) return fail(error, "lone low surrogate");
          if (code_point >= 0xD800 && code_point <= 0xDBFF) {
            uint32_t low = 0;
            if (position_ + 2 > size || data[position_] != '\\' || data[position_ + 1] != 'u') {
              return fail(error, "high surrogate without a low one");
            }
            position_ += 2;
            if (!scan_hex4(low)) return fail(error, "invalid \\u escape");
            if (low < 0xDC00 || low > 0xDFFF) return fail(error, "high surrogate without a low one");
            code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
          }
          utf8::append(code_point, string_);
          break;
        }
        default:
          --position_;
          return fail(error, "invalid escape");
      }
    }
  }

  bool scan_hex4(uint32_t& value) {
    if (position_ + 4 > text_.size()) return false;
    value = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = hex_value(text_[position_ + i]);
      if (digit < 0) return false;
      value = value * 16 + static_cast<uint32_t>(digit);
    }
    position_ += 4;
    return true;
  }

  // -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  bool scan_number(bool& integer, std::string& error) {
    const auto digits = [&] {
      const size_t begin = position_;
      while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') ++position_;
      return position_ - begin;
    };
    if (text_[position_] == '-') ++position_;
    if (at_end()) return fail(error, "invalid number");
    if (text_[position_] == '0') {
      ++position_;
    } else if (digits() == 0) {
      return fail(error, "invalid number");
    }
    if (!at_end() && text_[position_] == '.') {
      ++position_;
      integer = false;
      if (digits() == 0) return fail(error, "invalid number: no digit after '.'");
    }
    if (!at_end() && (text_[position_] == 'e' || text_[position_] == 'E')) {
      ++position_;
      integer = false;
      if (!at_end() && (text_[position_] == '+' || text_[position_] == '-')) ++position_;
      if (digits() == 0) return fail(error, "invalid number: no digit in the exponent");
    }
    return true;
  }

  std::string_view text_;
  size_t position_ = 0;
  std::string string_;
  const std::string empty_;
};

}  // namespace json_sax_detail

// Parses `text` as one JSON value, calling the handler's SAX methods (null, boolean, number_integer,
// number_float, string, start_object, key, end_object, start_array, end_array). Returns false when the text
// is not JSON (`error` says where and why) or when a handler method returned false (`error` left empty).
template <typename Handler>
bool parse_json_sax(std::string_view text, Handler& handler, std::string& error) {
  error.clear();
  json_sax_detail::Parser parser(text);
  return parser.run(handler, error);
}

}  // namespace minimind
