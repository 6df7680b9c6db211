// A byte-level BPE tokenizer that encodes and decodes exactly as Hugging Face tokenizers does for a
// tokenizer.json with a ByteLevel pre-tokenizer (GPT-2 regex, Unicode classes) and decoder and a BPE model:
// added tokens are matched first and never split; the rest is split by the regex, mapped byte-to-unicode and
// merged by rank.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/bpe_model.h"

namespace minimind {

class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Tokenizer {
 public:
  explicit Tokenizer(BpeModel model);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // tokenizer.json in the Hugging Face format; errors name the file and the field.
  static Tokenizer load(const std::filesystem::path& path);
  static Tokenizer from_json(std::string_view json_text, const std::string& source_name);
  std::string to_json() const;
  void save(const std::filesystem::path& path) const;  // atomic

  std::vector<int32_t> encode(std::string_view text) const;
  void encode_append(std::string_view text, std::vector<int32_t>& ids) const;
  // As encode_append, and for each id appended the end of the span of `text` it stands for (byte offset;
  // an added token's span includes the white space its lstrip / rstrip took).
  void encode_append(std::string_view text, std::vector<int32_t>& ids,
                     std::vector<std::size_t>& token_ends) const;
  // The exact bytes (which may be invalid UTF-8 when ids split a character).
  std::string decode_bytes(std::span<const int32_t> ids, bool skip_special_tokens = false) const;
  // As Hugging Face decodes: invalid UTF-8 replaced by U+FFFD.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;
  // The bytes one id decodes to ("" for an unknown id), for streaming output and byte offsets.
  std::string_view token_bytes(int32_t id) const;

  int32_t vocab_size() const;  // the largest id + 1
  std::optional<int32_t> token_to_id(std::string_view token) const;  // a vocab token or an added token
  std::string id_to_token(int32_t id) const;                          // "" for an unknown id
  bool is_special(int32_t id) const;
  const BpeModel& model() const;

 private:
  Tokenizer(BpeModel model, const std::string& source_name);  // errors name `source_name`

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace minimind
