// The two pieces of Hugging Face's ByteLevel pre-tokenizer that the BPE trainer needs: the GPT-2 split regex
// (Unicode letter and number classes, through PCRE2) and GPT-2's byte-to-unicode mapping, which turns every
// byte into one printable character so that tokens are plain strings.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace minimind::trainer_detail {

// GPT-2's bytes_to_unicode: the printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to the code point of the
// same value; the other 68 bytes map, in increasing order, to U+0100, U+0101, ...
const std::array<char32_t, 256>& byte_to_codepoint();

// The UTF-8 encoding of byte_to_codepoint()[byte] (one or two bytes of UTF-8).
const std::array<std::string, 256>& byte_to_utf8();

// Every byte of `bytes` replaced by the UTF-8 of its character: the form tokens take in tokenizer.json.
std::string byte_level_encode(std::string_view bytes);

void append_utf8(char32_t codepoint, std::string& out);

// Splits text into pre-tokens exactly as Hugging Face's ByteLevel pre-tokenizer (use_regex = true,
// add_prefix_space = false) does, before the byte mapping:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Matches and the text between matches (which exists only for invalid UTF-8) are each one piece, in order,
// so the pieces concatenate back to the text. Holds PCRE2 match state: one instance per thread.
class Gpt2PreTokenizer {
 public:
  Gpt2PreTokenizer();
  ~Gpt2PreTokenizer();
  Gpt2PreTokenizer(Gpt2PreTokenizer&&) noexcept;
  Gpt2PreTokenizer& operator=(Gpt2PreTokenizer&&) noexcept;

  void split(std::string_view text, const std::function<void(std::string_view piece)>& on_piece);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace minimind::trainer_detail
