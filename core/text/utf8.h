// UTF-8 as the tokenizer and the data readers need it. Well-formed means RFC 3629 (the Unicode standard's
// table 3-7), which is also what Rust's str accepts: shortest form, no surrogates, nothing above U+10FFFF.
// An invalid sequence is a maximal subpart (the longest prefix of a well-formed character that is present,
// at least one byte), as Unicode recommends and Rust's String::from_utf8_lossy (Hugging Face's decoder)
// replaces with one U+FFFD each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace minimind::utf8 {

struct Validation {
  size_t valid_bytes = 0;       // length of the longest well-formed prefix (== size when all is well-formed)
  bool truncated_tail = false;  // the rest is the start of a well-formed sequence cut off by the end
};

Validation validate(std::string_view bytes);

inline bool is_valid(std::string_view bytes) {
  return validate(bytes).valid_bytes == bytes.size();
}

// The length of the invalid sequence (maximal subpart) at the start of `bytes`, which must be non-empty and
// must not start with a well-formed character.
size_t invalid_sequence_length(std::string_view bytes);

// The length of the well-formed character that starts at `position`, or 1 when the byte there does not start
// one: invalid bytes count as one character each, so any byte string can be stepped through.
size_t character_length(std::string_view bytes, size_t position);

// Characters in `bytes`, counted the way character_length steps.
int64_t count_characters(std::string_view bytes);

// The code point of the well-formed character at `position` (see character_length), or -1 for an invalid
// byte.
int32_t decode_at(std::string_view bytes, size_t position);

// The first character of `bytes`, or nullopt when `bytes` is empty or starts with an invalid sequence.
std::optional<char32_t> first_code_point(std::string_view bytes);

// The number of bytes of `code_point` in UTF-8.
inline size_t encoded_length(char32_t code_point) {
  return code_point < 0x80 ? 1 : code_point < 0x800 ? 2 : code_point < 0x10000 ? 3 : 4;
}

// Appends the UTF-8 encoding of `code_point` (which must be a scalar value: at most U+10FFFF, no surrogate).
void append(char32_t code_point, std::string& out);

// `bytes` with each invalid sequence replaced by U+FFFD.
std::string replace_invalid(std::string_view bytes);

}  // namespace minimind::utf8
