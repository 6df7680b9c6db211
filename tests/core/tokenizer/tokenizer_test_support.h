// Shared by the tokenizer tests: the MiniMind reference tokenizer (shared, never copied into the repository;
// tests skip without it), its Hugging Face fixture, and a tiny tokenizer.json written by hand.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "support/file_contents.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

namespace minimind::tokenizer_test {

// MINIMIND_SHARED_REFERENCE_DIR in the environment overrides the build's default (for worktrees that are not
// next to the shared directory).
inline std::filesystem::path reference_tokenizer_dir() {
  const char* from_environment = std::getenv("MINIMIND_SHARED_REFERENCE_DIR");
  const std::filesystem::path root = from_environment ? from_environment : MINIMIND_SHARED_REFERENCE_DIR;
  return root / "minimind-tokenizer";
}

// The reference tokenizer, loaded once; nullptr when the shared directory is absent.
inline const Tokenizer* reference_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer = []() -> std::unique_ptr<Tokenizer> {
    const auto path = reference_tokenizer_dir() / "tokenizer.json";
    if (!std::filesystem::exists(path)) return nullptr;
    return std::make_unique<Tokenizer>(Tokenizer::load(path));
  }();
  return tokenizer.get();
}

#define MINIMIND_REQUIRE_REFERENCE_TOKENIZER()                                             \
  if (::minimind::tokenizer_test::reference_tokenizer() == nullptr)                        \
  GTEST_SKIP() << "the MiniMind reference tokenizer is absent: "                           \
               << ::minimind::tokenizer_test::reference_tokenizer_dir() / "tokenizer.json" \
               << " (set MINIMIND_SHARED_REFERENCE_DIR to the shared reference directory)"

// tests/fixtures/tokenizer/minimind_encodings.json, parsed once.
inline const nlohmann::json& fixture() {
  static const nlohmann::json parsed = nlohmann::json::parse(
      read_file(std::filesystem::path(MINIMIND_FIXTURES_DIR) / "tokenizer" / "minimind_encodings.json"));
  return parsed;
}

// A tiny byte-level BPE written by hand: ids 0..255 are the bytes (id = byte value), then
//   256 ll, 257 he, 258 hell, 259 hello, 260 Ġh, 261 Ġhe, 262 Ġhell, 263 Ġhello, 264 aa
// with the merges, by rank: Ġ h, l l, h e, Ġh e, he ll, Ġhe ll, hell o, Ġhell o, a a; and the special added
// token <|end|> = 265.
inline nlohmann::ordered_json tiny_tokenizer_json(bool merges_as_strings = false) {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (int byte = 0; byte < 256; ++byte) {
    std::string symbol;
    append_byte_level(std::string(1, static_cast<char>(byte)), symbol);
    vocab[symbol] = byte;
  }
  const char* merged[] = {"ll", "he", "hell", "hello", "Ġh", "Ġhe", "Ġhell", "Ġhello", "aa"};
  for (int i = 0; i < 9; ++i) vocab[merged[i]] = 256 + i;
  const std::pair<const char*, const char*> pairs[] = {{"Ġ", "h"},    {"l", "l"},     {"h", "e"},
                                                       {"Ġh", "e"},   {"he", "ll"},   {"Ġhe", "ll"},
                                                       {"hell", "o"}, {"Ġhell", "o"}, {"a", "a"}};
  nlohmann::ordered_json merges = nlohmann::ordered_json::array();
  for (const auto& [left, right] : pairs) {
    if (merges_as_strings) {
      merges.push_back(std::string(left) + " " + right);
    } else {
      merges.push_back({left, right});
    }
  }
  return nlohmann::ordered_json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       {{{"id", 265},
         {"content", "<|end|>"},
         {"single_word", false},
         {"lstrip", false},
         {"rstrip", false},
         {"normalized", false},
         {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor", nullptr},
      {"decoder",
       {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}}};
}

inline Tokenizer tiny_tokenizer() {
  return Tokenizer::from_json(tiny_tokenizer_json().dump(), "tiny.json");
}

}  // namespace minimind::tokenizer_test
