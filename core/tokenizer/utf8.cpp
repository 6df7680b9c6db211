// UTF-8 validation with an ASCII fast path (eight bytes at a time), the maximal-subpart rule for invalid
// sequences (Unicode's recommended practice, which Rust follows) and the lossy conversion built on both.
#include "tokenizer/utf8.h"

#include <cstdint>
#include <cstring>

namespace minimind {
namespace {

// The range the second byte of a sequence led by `lead` must fall in, and the sequence's length; length 0
// for a byte that cannot start a character.
struct LeadRule {
  uint8_t length;
  uint8_t second_min;
  uint8_t second_max;
};

LeadRule lead_rule(uint8_t lead) {
  if (lead < 0x80) return {1, 0, 0};
  if (lead >= 0xC2 && lead <= 0xDF) return {2, 0x80, 0xBF};
  if (lead == 0xE0) return {3, 0xA0, 0xBF};  // no overlong forms
  if (lead == 0xED) return {3, 0x80, 0x9F};  // no surrogates
  if (lead >= 0xE1 && lead <= 0xEF) return {3, 0x80, 0xBF};
  if (lead == 0xF0) return {4, 0x90, 0xBF};  // no overlong forms
  if (lead >= 0xF1 && lead <= 0xF3) return {4, 0x80, 0xBF};
  if (lead == 0xF4) return {4, 0x80, 0x8F};  // nothing above U+10FFFF
  return {0, 0, 0};
}

std::size_t utf8_length_from_lead(uint8_t lead) {
  return lead_rule(lead).length;
}

bool is_continuation(uint8_t byte) {
  return (byte & 0xC0) == 0x80;
}

}  // namespace

std::size_t valid_utf8_prefix_length(std::string_view bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const std::size_t size = bytes.size();
  std::size_t i = 0;
  while (i < size) {
    if (i + 8 <= size) {  // ASCII fast path
      uint64_t word;
      std::memcpy(&word, data + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const uint8_t lead = data[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    const LeadRule rule = lead_rule(lead);
    if (rule.length == 0 || i + rule.length > size) return i;
    if (data[i + 1] < rule.second_min || data[i + 1] > rule.second_max) return i;
    for (std::size_t k = 2; k < rule.length; ++k) {
      if (!is_continuation(data[i + k])) return i;
    }
    i += rule.length;
  }
  return size;
}

std::size_t invalid_utf8_sequence_length(std::string_view bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const LeadRule rule = lead_rule(data[0]);
  if (rule.length < 2) return 1;
  std::size_t length = 1;
  if (length < bytes.size() && data[1] >= rule.second_min && data[1] <= rule.second_max) {
    ++length;
    while (length < rule.length && length < bytes.size() && is_continuation(data[length])) ++length;
  }
  return length;
}

std::optional<char32_t> first_code_point(std::string_view bytes) {
  if (bytes.empty()) return std::nullopt;
  const std::size_t length = utf8_length_from_lead(static_cast<uint8_t>(bytes[0]));
  if (length == 0 || valid_utf8_prefix_length(bytes.substr(0, length)) != length) return std::nullopt;
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  if (length == 1) return char32_t(data[0]);
  char32_t code_point = data[0] & (0x7F >> length);
  for (std::size_t i = 1; i < length; ++i) code_point = (code_point << 6) | (data[i] & 0x3F);
  return code_point;
}

void append_utf8(char32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

std::string to_utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  while (!bytes.empty()) {
    const std::size_t valid = valid_utf8_prefix_length(bytes);
    out.append(bytes.substr(0, valid));
    bytes.remove_prefix(valid);
    if (bytes.empty()) break;
    out.append("\xEF\xBF\xBD");  // U+FFFD
    bytes.remove_prefix(invalid_utf8_sequence_length(bytes));
  }
  return out;
}

}  // namespace minimind
