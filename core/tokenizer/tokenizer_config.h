// tokenizer_config.json as Hugging Face transformers reads and writes it: the special tokens (bos, eos, pad,
// unk, additional), the chat template, model_max_length and added_tokens_decoder. Every other key is kept as
// read and written back unchanged.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/bpe_model.h"
#include "tokenizer/tokenizer.h"

namespace minimind {

struct TokenizerConfig {
  std::optional<std::string> bos_token;  // a token given as {"content": ...} reads as its content
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;
  std::optional<std::string> unk_token;
  std::vector<std::string> additional_special_tokens;
  std::optional<std::string> chat_template;  // only a single template string (a list of named ones stays in
                                             // other_fields)
  std::optional<int64_t> model_max_length;   // an integer; the 1e30 "no limit" float stays in other_fields
  std::map<int32_t, AddedToken> added_tokens_decoder;      // id -> token
  nlohmann::json other_fields = nlohmann::json::object();  // every other key, as read
};

// Throws TokenizerError naming the file and the field for malformed JSON or a field of the wrong type.
TokenizerConfig parse_tokenizer_config(std::string_view json_text, const std::string& source_name);
TokenizerConfig load_tokenizer_config(const std::filesystem::path& path);

// Keys sorted, 2-space indentation, as transformers' save_pretrained writes it.
std::string tokenizer_config_to_json(const TokenizerConfig& config);
void save_tokenizer_config(const std::filesystem::path& path, const TokenizerConfig& config);  // atomic

// The configuration MiniMind uses for a tokenizer with its special tokens: bos <|im_start|>, eos <|im_end|>,
// pad and unk <|endoftext|>, the chat template of chat_format.h and the tokenizer's added tokens.
TokenizerConfig make_chat_tokenizer_config(const Tokenizer& tokenizer, int64_t model_max_length = 32768);

}  // namespace minimind
