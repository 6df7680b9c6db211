// UTF-8 validation and character stepping. validate() runs a table-driven DFA with a fast path over ASCII
// runs (corpora are mostly ASCII or three-byte CJK, and every byte read or encoded is validated); the rest
// decodes one sequence at a time by the lead byte's rule.
#include "text/utf8.h"

#include <cstring>

namespace minimind::utf8 {
namespace {

// How many bytes a sequence led by `lead` has and the range its second byte must fall in (the later ones are
// plain continuation bytes); length 0 for a byte that cannot start a character.
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

bool is_continuation(uint8_t byte) {
  return (byte & 0xC0) == 0x80;
}

// The length of the well-formed sequence at p (1 to 4), or 0 when there is none. When the bytes present are a
// well-formed start that the end of the buffer cuts off, `truncated` is set (and 0 returned).
size_t sequence_at(const unsigned char* p, size_t remaining, bool& truncated) {
  truncated = false;
  const LeadRule rule = lead_rule(p[0]);
  if (rule.length <= 1) return rule.length;
  for (size_t i = 1; i < rule.length; ++i) {
    if (i == remaining) {
      truncated = true;
      return 0;
    }
    const unsigned char low = i == 1 ? rule.second_min : 0x80;
    const unsigned char high = i == 1 ? rule.second_max : 0xBF;
    if (p[i] < low || p[i] > high) return 0;
  }
  return rule.length;
}

// validate() runs a shift-based DFA over the bytes: each state is a bit offset into a 64-bit row per byte
// value, and the row holds, at that offset, the offset of the next state. One load and one shift per byte,
// no branches on the byte values -- several times faster than decoding sequence by sequence on CJK text.
namespace dfa {
constexpr int kAccept = 0, kError = 6, kTail1 = 12, kTail2 = 18, kTail3 = 24, kAfterE0 = 30, kAfterED = 36,
              kAfterF0 = 42, kAfterF4 = 48;

constexpr int next_state(int state, int byte) {
  const bool continuation = byte >= 0x80 && byte <= 0xBF;
  switch (state) {
    case kAccept:
      if (byte < 0x80) return kAccept;
      if (byte >= 0xC2 && byte <= 0xDF) return kTail1;
      if (byte == 0xE0) return kAfterE0;
      if (byte == 0xED) return kAfterED;
      if (byte >= 0xE1 && byte <= 0xEF) return kTail2;
      if (byte == 0xF0) return kAfterF0;
      if (byte >= 0xF1 && byte <= 0xF3) return kTail3;
      if (byte == 0xF4) return kAfterF4;
      return kError;
    case kTail1:
      return continuation ? kAccept : kError;
    case kTail2:
      return continuation ? kTail1 : kError;
    case kTail3:
      return continuation ? kTail2 : kError;
    case kAfterE0:
      return byte >= 0xA0 && byte <= 0xBF ? kTail1 : kError;
    case kAfterED:
      return byte >= 0x80 && byte <= 0x9F ? kTail1 : kError;
    case kAfterF0:
      return byte >= 0x90 && byte <= 0xBF ? kTail2 : kError;
    case kAfterF4:
      return byte >= 0x80 && byte <= 0x8F ? kTail2 : kError;
    default:
      return kError;
  }
}

struct Rows {
  uint64_t row[256] = {};
  constexpr Rows() {
    for (int byte = 0; byte < 256; ++byte) {
      for (int state = 0; state <= kAfterF4; state += 6) {
        row[byte] |= static_cast<uint64_t>(next_state(state, byte)) << state;
      }
    }
  }
};
constexpr Rows kRows;
}  // namespace dfa

// Sequence by sequence: slower, but it tells where the bad sequence begins. validate() uses it only once the
// DFA has found that something is wrong. `from` must be a character boundary of the (valid) bytes before it.
Validation locate_invalid(std::string_view bytes, size_t from) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t position = from;
  while (position < bytes.size()) {
    bool truncated = false;
    const size_t length = sequence_at(data + position, bytes.size() - position, truncated);
    if (length == 0) return {position, truncated};
    position += length;
  }
  return {bytes.size(), false};
}

// The start of the character holding byte `position` of well-formed bytes: back over continuation bytes.
size_t character_start(const unsigned char* data, size_t position) {
  while (position > 0 && is_continuation(data[position])) --position;
  return position;
}

// A character boundary at or before `position`, given the DFA state there (the bytes before are well-formed):
// `position` itself between characters, else the lead byte of the character still open.
size_t sequence_boundary(const unsigned char* data, size_t position, uint64_t state) {
  return state == dfa::kAccept ? position : character_start(data, position - 1);
}

}  // namespace

Validation validate(std::string_view bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t size = bytes.size();
  uint64_t state = dfa::kAccept;
  size_t position = 0;
  // Sixteen bytes at a time: skipped when they are ASCII between characters, else run through the DFA with no
  // branch per byte (the error state is absorbing, so one check per block finds it).
  while (position + 16 <= size) {
    uint64_t words[2];
    std::memcpy(words, data + position, sizeof words);
    if (state == dfa::kAccept && ((words[0] | words[1]) & 0x8080808080808080ULL) == 0) {
      position += 16;
      continue;
    }
    const size_t boundary = sequence_boundary(data, position, state);
    for (size_t i = 0; i < 16; ++i) state = (dfa::kRows.row[data[position + i]] >> state) & 63;
    if (state == dfa::kError) return locate_invalid(bytes, boundary);
    position += 16;
  }
  const size_t boundary = sequence_boundary(data, position, state);
  for (; position < size; ++position) state = (dfa::kRows.row[data[position]] >> state) & 63;
  if (state == dfa::kAccept) return {size, false};
  if (state == dfa::kError) return locate_invalid(bytes, boundary);
  // Well-formed so far, cut off inside the last character.
  return {character_start(data, size - 1), true};
}

size_t invalid_sequence_length(std::string_view bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const LeadRule rule = lead_rule(data[0]);
  if (rule.length < 2) return 1;
  size_t length = 1;
  if (length < bytes.size() && data[1] >= rule.second_min && data[1] <= rule.second_max) {
    ++length;
    while (length < rule.length && length < bytes.size() && is_continuation(data[length])) ++length;
  }
  return length;
}

size_t character_length(std::string_view bytes, size_t position) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  bool truncated = false;
  const size_t length = sequence_at(data + position, bytes.size() - position, truncated);
  return length == 0 ? 1 : length;
}

int64_t count_characters(std::string_view bytes) {
  int64_t characters = 0;
  size_t position = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  while (position < bytes.size()) {
    if (data[position] < 0x80) {
      ++position;
    } else {
      position += character_length(bytes, position);
    }
    ++characters;
  }
  return characters;
}

int32_t decode_at(std::string_view bytes, size_t position) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + position;
  bool truncated = false;
  switch (sequence_at(p, bytes.size() - position, truncated)) {
    case 1:
      return p[0];
    case 2:
      return ((p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3:
      return ((p[0] & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    case 4:
      return ((p[0] & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    default:
      return -1;
  }
}

std::optional<char32_t> first_code_point(std::string_view bytes) {
  if (bytes.empty()) return std::nullopt;
  const int32_t code_point = decode_at(bytes, 0);
  if (code_point < 0) return std::nullopt;
  return static_cast<char32_t>(code_point);
}

void append(char32_t code_point, std::string& out) {
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

std::string replace_invalid(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  while (!bytes.empty()) {
    const size_t valid = validate(bytes).valid_bytes;
    out.append(bytes.substr(0, valid));
    bytes.remove_prefix(valid);
    if (bytes.empty()) break;
    out.append("\xEF\xBF\xBD");  // U+FFFD
    bytes.remove_prefix(invalid_sequence_length(bytes));
  }
  return out;
}

}  // namespace minimind::utf8
