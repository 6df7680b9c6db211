// tokenizer_config.json reading and writing. The modelled fields are checked for type; anything else passes
// through untouched, so that a file written by transformers keeps its other settings when the lab rewrites
// it.
#include "tokenizer/tokenizer_config.h"

#include <charconv>
#include <fstream>
#include <sstream>

#include "io/atomic_file.h"
#include "io/strict_json.h"
#include "tokenizer/chat_format.h"

namespace minimind {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& field, const std::string& what) {
  throw TokenizerError(source + ": " + field + ": " + what);
}

// A special token: a string, or an AddedToken object whose "content" is the token; null reads as absent.
std::optional<std::string> read_token(const json& value, const std::string& source,
                                      const std::string& field) {
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object()) {
    const auto content = value.find("content");
    if (content == value.end() || !content->is_string())
      fail(source, field, "an object without a string \"content\"");
    return content->get<std::string>();
  }
  fail(source, field,
       std::string("expected a string, an object with \"content\" or null, found ") + value.type_name());
}

bool read_flag(const json& entry, const char* key, bool absent_value, const std::string& source,
               const std::string& field) {
  const auto found = entry.find(key);
  if (found == entry.end()) return absent_value;
  if (!found->is_boolean()) fail(source, field + "." + key, "expected true or false");
  return found->get<bool>();
}

}  // namespace

TokenizerConfig parse_tokenizer_config(std::string_view json_text, const std::string& source_name) {
  json root;
  try {
    root = parse_json_document(json_text, source_name);
  } catch (const JsonDocumentError& error) {
    throw TokenizerError(error.what());
  }
  if (!root.is_object())
    fail(source_name, "(document)", std::string("expected an object, found ") + root.type_name());

  TokenizerConfig config;
  for (auto& [key, value] : root.items()) {
    if (key == "bos_token") {
      config.bos_token = read_token(value, source_name, key);
    } else if (key == "eos_token") {
      config.eos_token = read_token(value, source_name, key);
    } else if (key == "pad_token") {
      config.pad_token = read_token(value, source_name, key);
    } else if (key == "unk_token") {
      config.unk_token = read_token(value, source_name, key);
    } else if (key == "additional_special_tokens") {
      if (value.is_null()) continue;
      if (!value.is_array())
        fail(source_name, key, std::string("expected an array, found ") + value.type_name());
      for (std::size_t i = 0; i < value.size(); ++i) {
        const auto token = read_token(value[i], source_name, key + "[" + std::to_string(i) + "]");
        if (!token) fail(source_name, key + "[" + std::to_string(i) + "]", "null is not a token");
        config.additional_special_tokens.push_back(*token);
      }
    } else if (key == "chat_template" && (value.is_string() || value.is_null())) {
      if (value.is_string()) config.chat_template = value.get<std::string>();
    } else if (key == "model_max_length" && (value.is_number_integer() || value.is_null())) {
      if (value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(INT64_MAX)) {
        config.other_fields[key] = value;  // too large to hold: kept as it was
      } else if (!value.is_null()) {
        config.model_max_length = value.get<int64_t>();
      }
    } else if (key == "added_tokens_decoder") {
      if (!value.is_object())
        fail(source_name, key, std::string("expected an object, found ") + value.type_name());
      for (const auto& [id_text, entry] : value.items()) {
        const std::string field = key + "[\"" + id_text + "\"]";
        int64_t id = -1;
        const auto [end, error] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
        if (error != std::errc() || end != id_text.data() + id_text.size() || id < 0 || id > INT32_MAX) {
          fail(source_name, field, "the key is not a token id");
        }
        if (!entry.is_object())
          fail(source_name, field, std::string("expected an object, found ") + entry.type_name());
        const auto content = entry.find("content");
        if (content == entry.end() || !content->is_string())
          fail(source_name, field + ".content", "missing or not a string");
        AddedToken token;
        token.id = static_cast<int32_t>(id);
        token.content = content->get<std::string>();
        token.single_word = read_flag(entry, "single_word", false, source_name, field);
        token.lstrip = read_flag(entry, "lstrip", false, source_name, field);
        token.rstrip = read_flag(entry, "rstrip", false, source_name, field);
        token.normalized = read_flag(entry, "normalized", true, source_name, field);
        token.special = read_flag(entry, "special", false, source_name, field);
        config.added_tokens_decoder[token.id] = std::move(token);
      }
    } else {
      config.other_fields[key] = value;
    }
  }
  return config;
}

TokenizerConfig load_tokenizer_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TokenizerError(path.string() + ": cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_tokenizer_config(text.str(), path.string());
}

std::string tokenizer_config_to_json(const TokenizerConfig& config) {
  json root = config.other_fields.is_object() ? config.other_fields : json::object();
  const auto put_token = [&](const char* key, const std::optional<std::string>& token) {
    if (token) root[key] = *token;
  };
  put_token("bos_token", config.bos_token);
  put_token("eos_token", config.eos_token);
  put_token("pad_token", config.pad_token);
  put_token("unk_token", config.unk_token);
  if (!config.additional_special_tokens.empty())
    root["additional_special_tokens"] = config.additional_special_tokens;
  if (config.chat_template) root["chat_template"] = *config.chat_template;
  if (config.model_max_length) root["model_max_length"] = *config.model_max_length;
  if (!config.added_tokens_decoder.empty()) {
    json decoder = json::object();
    for (const auto& [id, token] : config.added_tokens_decoder) {
      decoder[std::to_string(id)] = json{{"content", token.content},         {"lstrip", token.lstrip},
                                         {"normalized", token.normalized},   {"rstrip", token.rstrip},
                                         {"single_word", token.single_word}, {"special", token.special}};
    }
    root["added_tokens_decoder"] = std::move(decoder);
  }
  return root.dump(2) + "\n";
}

void save_tokenizer_config(const std::filesystem::path& path, const TokenizerConfig& config) {
  const std::string text = tokenizer_config_to_json(config);
  write_file_atomically(path, std::span<const char>(text.data(), text.size()));
}

TokenizerConfig make_chat_tokenizer_config(const Tokenizer& tokenizer, int64_t model_max_length) {
  TokenizerConfig config;
  config.bos_token = "<|im_start|>";
  config.eos_token = "<|im_end|>";
  config.pad_token = "<|endoftext|>";
  config.unk_token = "<|endoftext|>";
  config.chat_template = std::string(kChatTemplate);
  config.model_max_length = model_max_length;
  for (const AddedToken& token : tokenizer.model().added_tokens) {
    config.added_tokens_decoder[token.id] = token;
    if (token.special && token.content != "<|endoftext|>")
      config.additional_special_tokens.push_back(token.content);
  }
  config.other_fields = nlohmann::json{{"add_bos_token", false},
                                       {"add_eos_token", false},
                                       {"add_prefix_space", tokenizer.model().add_prefix_space},
                                       {"clean_up_tokenization_spaces", false},
                                       {"legacy", true},
                                       {"spaces_between_special_tokens", false},
                                       {"tokenizer_class", "PreTrainedTokenizerFast"}};
  return config;
}

}  // namespace minimind
