// GPT-2's byte-to-unicode mapping as Hugging Face's ByteLevel pre-tokenizer and decoder use it: every byte
// gets a printable code point (the printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100..U+0143 in byte order), so that any byte string becomes a string of printable characters and back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace minimind {

// The code point that stands for `byte` in byte-level tokens.
char32_t byte_to_unicode(uint8_t byte);

// The byte a code point stands for, or nullopt for a code point outside the 256-character alphabet.
std::optional<uint8_t> unicode_to_byte(char32_t code_point);

// Appends the byte-level form of `bytes` (each byte as the UTF-8 encoding of its code point) to `out`.
void append_byte_level(std::string_view bytes, std::string& out);

// Appends the bytes that the byte-level token `token` stands for to `out` and returns true; returns false and
// leaves `out` as it was when `token` is not valid UTF-8 or holds a character outside the alphabet.
bool append_bytes_of_byte_level(std::string_view token, std::string& out);

}  // namespace minimind
