// GPT-2's bytes_to_unicode, computed at compile time into two tables: byte -> code point and the UTF-8 bytes
// of that code point (one or two bytes: every code point is below U+0144).
#include "tokenizer/byte_level.h"

#include <array>

namespace minimind {
namespace {

constexpr bool maps_to_itself(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

constexpr std::array<char32_t, 256> make_byte_to_unicode() {
  std::array<char32_t, 256> table{};
  char32_t next = 256;
  for (int byte = 0; byte < 256; ++byte) table[byte] = maps_to_itself(byte) ? char32_t(byte) : next++;
  return table;
}

constexpr std::array<char32_t, 256> kByteToUnicode = make_byte_to_unicode();

// Code points 0..U+0143 -> byte + 1 (0 for code points outside the alphabet).
constexpr std::array<uint16_t, 0x144> make_unicode_to_byte() {
  std::array<uint16_t, 0x144> table{};
  for (int byte = 0; byte < 256; ++byte) table[kByteToUnicode[byte]] = static_cast<uint16_t>(byte + 1);
  return table;
}

constexpr std::array<uint16_t, 0x144> kUnicodeToByte = make_unicode_to_byte();

static_assert(kByteToUnicode['A'] == U'A' && kByteToUnicode[' '] == U'\u0120' &&
              kByteToUnicode['\n'] == U'\u010A');
static_assert(kByteToUnicode[0xAD] == U'\u0143' && kByteToUnicode[0] == U'\u0100');

}  // namespace

char32_t byte_to_unicode(uint8_t byte) {
  return kByteToUnicode[byte];
}

std::optional<uint8_t> unicode_to_byte(char32_t code_point) {
  if (code_point >= kUnicodeToByte.size() || kUnicodeToByte[code_point] == 0) return std::nullopt;
  return static_cast<uint8_t>(kUnicodeToByte[code_point] - 1);
}

void append_byte_level(std::string_view bytes, std::string& out) {
  for (const char c : bytes) {
    const char32_t code_point = kByteToUnicode[static_cast<uint8_t>(c)];
    if (code_point < 0x80) {
      out.push_back(static_cast<char>(code_point));
    } else {  // every code point of the alphabet is below U+0800: two UTF-8 bytes
      out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
      out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    }
  }
}

bool append_bytes_of_byte_level(std::string_view token, std::string& out) {
  const std::size_t size_before = out.size();
  for (std::size_t i = 0; i < token.size();) {
    const auto lead = static_cast<uint8_t>(token[i]);
    char32_t code_point = 0;
    if (lead < 0x80) {
      code_point = lead;
      i += 1;
    } else if (lead >= 0xC2 && lead < 0xE0 && i + 1 < token.size() &&
               (uint8_t(token[i + 1]) & 0xC0) == 0x80) {
      code_point = (char32_t(lead & 0x1F) << 6) | (uint8_t(token[i + 1]) & 0x3F);
      i += 2;
    } else {  // a longer character (never in the alphabet), an overlong form or invalid UTF-8
      out.resize(size_before);
      return false;
    }
    const std::optional<uint8_t> byte = unicode_to_byte(code_point);
    if (!byte) {
      out.resize(size_before);
      return false;
    }
    out.push_back(static_cast<char>(*byte));
  }
  return true;
}

}  // namespace minimind
