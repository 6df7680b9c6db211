// UTF-8 validity as Rust's str and String::from_utf8_lossy define it (which Hugging Face's decoder uses):
// no surrogates, no overlong forms, nothing above U+10FFFF; an invalid sequence is the longest prefix of a
// valid character that is present (at least one byte), and the lossy form replaces each with one U+FFFD.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace minimind {

// The length of the longest prefix of `bytes` that is valid UTF-8.
std::size_t valid_utf8_prefix_length(std::string_view bytes);

// The length of the invalid sequence at the start of `bytes`, which must be non-empty and must not start with
// a valid character.
std::size_t invalid_utf8_sequence_length(std::string_view bytes);

inline bool is_valid_utf8(std::string_view bytes) {
  return valid_utf8_prefix_length(bytes) == bytes.size();
}

// The first character of `bytes`, or nullopt when `bytes` is empty or starts with an invalid sequence.
std::optional<char32_t> first_code_point(std::string_view bytes);

// The number of bytes of `code_point` in UTF-8.
inline std::size_t utf8_length(char32_t code_point) {
  return code_point < 0x80 ? 1 : code_point < 0x800 ? 2 : code_point < 0x10000 ? 3 : 4;
}

// Appends the UTF-8 encoding of `code_point` (which must be a scalar value: at most U+10FFFF, no surrogate).
void append_utf8(char32_t code_point, std::string& out);

// `bytes` with each invalid sequence replaced by U+FFFD.
std::string to_utf8_lossy(std::string_view bytes);

}  // namespace minimind
