// UTF-8 as the data readers and the text splitter need it: validation that tells an invalid byte from a
// sequence cut off by the end of a buffer, and stepping over characters (code points) without ever landing
// inside one. Well-formed means RFC 3629: shortest form, no surrogates, nothing above U+10FFFF.
#pragma once

#include <cstddef>
#include <cstdint>
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

// The length of the well-formed character that starts at `position`, or 1 when the byte there does not start
// one: invalid bytes count as one character each, so any byte string can be stepped through.
size_t character_length(std::string_view bytes, size_t position);

// Characters in `bytes`, counted the way character_length steps.
int64_t count_characters(std::string_view bytes);

// The code point of the well-formed character at `position` (see character_length), or -1 for an invalid
// byte.
int32_t decode_at(std::string_view bytes, size_t position);

}  // namespace minimind::utf8
