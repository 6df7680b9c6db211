// The data of a byte-level BPE model, as tokenizer.json's "model" holds it: tokens are strings in the
// byte-to-unicode alphabet (GPT-2's mapping), merges are pairs of tokens in rank order.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace minimind {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = true;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
};

struct BpeModel {
  std::unordered_map<std::string, int32_t> vocab;           // token (byte-level unicode, UTF-8) -> id
  std::vector<std::pair<std::string, std::string>> merges;  // rank order: merges[0] applies first
  std::vector<AddedToken> added_tokens;                     // matched in text before pre-tokenization
  // The two tokenizer.json options besides these that change the ids (the reader refuses the others):
  bool add_prefix_space = false;  // pre_tokenizer.add_prefix_space: " " before each segment not starting so
  bool ignore_merges = false;     // model.ignore_merges: a piece that is a whole vocab token is not merged
};

}  // namespace minimind
