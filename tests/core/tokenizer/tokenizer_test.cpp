// The tokenizer against Hugging Face tokenizers. References: the ids, decodings and pre-tokenizer classes
// that tokenizers 0.23 produced for the MiniMind tokenizer (tests/fixtures/tokenizer/minimind_encodings.json,
// made by experiments/tokenizer/make_tokenizer_fixtures.py; these tests skip without the shared
// tokenizer.json), the reference tokenizer.json itself (written back byte for byte), and a tiny hand-made BPE
// whose encodings are worked out by hand. Encodings must match exactly; there is no tolerance.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "support/scratch_directory.h"
#include "text/utf8.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer_test_support.h"

namespace minimind {
namespace {

using tokenizer_test::fixture;
using tokenizer_test::reference_tokenizer;
using tokenizer_test::tiny_tokenizer;
using tokenizer_test::tiny_tokenizer_json;
using Ids = std::vector<int32_t>;

std::string printable(const std::string& text) {
  nlohmann::json value = text;
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ---- the tiny hand-made tokenizer -------------------------------------------------------------------------

TEST(TokenizerTiny, MergesByRankAsWorkedOutByHand) {
  const Tokenizer tokenizer = tiny_tokenizer();
  EXPECT_EQ(tokenizer.encode("hello"), (Ids{259}));
  EXPECT_EQ(tokenizer.encode("hello hello"), (Ids{259, 263}));  // "hello", "Ġhello"
  // " hello": Ġh (rank 0), then ll (1) before Ġhe (3), then Ġhell (5), Ġhello (7).
  EXPECT_EQ(tokenizer.encode("hell"), (Ids{258}));
  EXPECT_EQ(tokenizer.encode("llhe"), (Ids{256, 257}));
  EXPECT_EQ(tokenizer.encode("aaa"), (Ids{264, 'a'}));  // the leftmost of equal-rank pairs merges first
  EXPECT_EQ(tokenizer.encode("aaaa"), (Ids{264, 264}));
  EXPECT_EQ(tokenizer.encode("h\xC3\xA9llo"), (Ids{'h', 0xC3, 0xA9, 256, 'o'}));  // "héllo": é is two bytes
  EXPECT_EQ(tokenizer.encode(" "), (Ids{' '}));
  EXPECT_EQ(tokenizer.encode(""), Ids{});
  // "helloo" is one piece: hello + o. "hello," is two pieces.
  EXPECT_EQ(tokenizer.encode("helloo"), (Ids{259, 'o'}));
  EXPECT_EQ(tokenizer.encode("hello,"), (Ids{259, ','}));
  EXPECT_EQ(tokenizer.vocab_size(), 266);
}

TEST(TokenizerTiny, AddedTokenIsMatchedFirstAndNeverSplit) {
  const Tokenizer tokenizer = tiny_tokenizer();
  EXPECT_EQ(tokenizer.encode("hello<|end|>hello"), (Ids{259, 265, 259}));
  EXPECT_EQ(tokenizer.encode("<|end|><|end|>"), (Ids{265, 265}));
  EXPECT_EQ(tokenizer.encode(" <|end|> "), (Ids{' ', 265, ' '}));
  EXPECT_EQ(tokenizer.encode("<|end"), (Ids{'<', '|', 'e', 'n', 'd'}));
  EXPECT_TRUE(tokenizer.is_special(265));
  EXPECT_FALSE(tokenizer.is_special(259));
  EXPECT_EQ(tokenizer.token_to_id("<|end|>"), 265);
  EXPECT_EQ(tokenizer.token_to_id("Ġhello"), 263);
  EXPECT_EQ(tokenizer.token_to_id("nope"), std::nullopt);
  EXPECT_EQ(tokenizer.id_to_token(263), "Ġhello");
  EXPECT_EQ(tokenizer.id_to_token(999), "");
  EXPECT_EQ(tokenizer.decode(Ids{259, 265, 263}), "hello<|end|> hello");
  EXPECT_EQ(tokenizer.decode(Ids{259, 265, 263}, /*skip_special_tokens=*/true), "hello hello");
  EXPECT_EQ(tokenizer.token_bytes(263), " hello");
}

TEST(TokenizerTiny, BothMergeEncodingsReadTheSame) {
  const Tokenizer pairs = Tokenizer::from_json(tiny_tokenizer_json(false).dump(), "pairs.json");
  const Tokenizer strings = Tokenizer::from_json(tiny_tokenizer_json(true).dump(), "strings.json");
  EXPECT_EQ(pairs.model().merges, strings.model().merges);
  for (const char* text : {"hello hello", "aaaa", "hell o", "llhe he"}) {
    EXPECT_EQ(pairs.encode(text), strings.encode(text)) << text;
  }
  EXPECT_EQ(pairs.to_json(), strings.to_json());  // written back as pairs
}

TEST(TokenizerTiny, JsonRoundTripIsIdentical) {
  const Tokenizer tokenizer = tiny_tokenizer();
  EXPECT_EQ(tokenizer.to_json(), tiny_tokenizer_json().dump(2));
  ScratchDirectory directory;
  tokenizer.save(directory / "tokenizer.json");
  const Tokenizer loaded = Tokenizer::load(directory / "tokenizer.json");
  EXPECT_EQ(loaded.to_json(), tokenizer.to_json());
  EXPECT_EQ(loaded.encode("hello<|end|> hello aaa"), tokenizer.encode("hello<|end|> hello aaa"));
  EXPECT_EQ(directory.file_names(), std::vector<std::string>{"tokenizer.json"});  // no temporary left
}

TEST(TokenizerTiny, InvalidUtf8EncodesWithoutLossAndRoundTrips) {
  const Tokenizer tokenizer = tiny_tokenizer();
  // Each run of invalid bytes is one piece of byte tokens; the valid text around it is split as usual.
  EXPECT_EQ(tokenizer.encode("hello\xFFhello"), (Ids{259, 0xFF, 259}));
  EXPECT_EQ(tokenizer.encode("hello \xE4\xB8"), (Ids{259, ' ', 0xE4, 0xB8}));
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes(rng() % 40, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 4 == 0 ? 'l' : rng());
    const Ids ids = tokenizer.encode(bytes);
    EXPECT_EQ(tokenizer.decode_bytes(ids), bytes);
    EXPECT_EQ(tokenizer.decode(ids), utf8::replace_invalid(bytes));
  }
}

TEST(TokenizerTiny, TokenEndsCoverTheText) {
  const Tokenizer tokenizer = tiny_tokenizer();
  const std::string text = "hello<|end|> hello\xFF\xFE aaa";
  Ids ids;
  std::vector<std::size_t> ends;
  tokenizer.encode_append(text, ids, ends);
  EXPECT_EQ(ids, tokenizer.encode(text));
  EXPECT_EQ(ends, (std::vector<std::size_t>{5, 12, 18, 19, 20, 21, 23, 24}));
}

// BPE's definition, the reference for pieces of any length: merge the adjacent pair of lowest rank, the
// leftmost among equals, until no pair has a merge; bytes without a token are dropped first.
Ids merge_by_definition(const BpeModel& model, const std::string& piece) {
  std::map<std::pair<int32_t, int32_t>, std::pair<size_t, int32_t>> merges;  // -> (rank, merged id)
  for (size_t rank = 0; rank < model.merges.size(); ++rank) {
    const auto& [left, right] = model.merges[rank];
    merges[{model.vocab.at(left), model.vocab.at(right)}] = {rank, model.vocab.at(left + right)};
  }
  Ids symbols;
  for (const char c : piece)
    if (const auto found = model.vocab.find(std::string(1, c)); found != model.vocab.end())
      symbols.push_back(found->second);
  for (;;) {
    size_t best = symbols.size();
    std::pair<size_t, int32_t> best_merge{SIZE_MAX, 0};
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto found = merges.find({symbols[i], symbols[i + 1]});
      if (found != merges.end() && found->second.first < best_merge.first)
        best = i, best_merge = found->second;
    }
    if (best == symbols.size()) return symbols;
    symbols[best] = best_merge.second;
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
}

// Long pieces (over 48 bytes) take another path than short ones, with its own bookkeeping of where symbols
// start and which pair merges next; both must give BPE's definition. The model is random: tokens of a, b and
// c built from random pairs, the same token reachable from several pairs ("abc" from a + bc and ab + c), and
// ranks in random order rather than the order tokens were made; "d" has no token and is dropped.
TEST(TokenizerTiny, PiecesOfAnyLengthMergeAsTheDefinitionSays) {
  std::mt19937 rng(11);
  BpeModel model;
  std::vector<std::string> tokens = {"a", "b", "c"};
  for (const std::string& token : tokens)
    model.vocab.emplace(token, static_cast<int32_t>(model.vocab.size()));
  std::set<std::pair<std::string, std::string>> pairs;
  while (model.merges.size() < 60) {
    const std::string left = tokens[rng() % tokens.size()], right = tokens[rng() % tokens.size()];
    if (left.size() + right.size() > 6 || !pairs.insert({left, right}).second) continue;
    if (model.vocab.emplace(left + right, static_cast<int32_t>(model.vocab.size())).second)
      tokens.push_back(left + right);
    model.merges.insert(model.merges.begin() + static_cast<std::ptrdiff_t>(rng() % (model.merges.size() + 1)),
                        {left, right});
  }
  const Tokenizer tokenizer(model);
  std::vector<size_t> lengths = {1, 2, 47, 48, 49, 50, 63, 64, 65, 127, 128, 129, 20000};
  for (int i = 0; i < 40; ++i) lengths.push_back(49 + rng() % 3000);
  for (const size_t length : lengths) {
    std::string piece(length, 'a');
    for (char& c : piece) c = "abcabcabcd"[rng() % 10];
    EXPECT_EQ(tokenizer.encode(piece), merge_by_definition(model, piece)) << "length " << length;
  }
}

TEST(TokenizerTiny, UnknownIdsAreLeftOutWhenDecoding) {
  const Tokenizer tokenizer = tiny_tokenizer();
  EXPECT_EQ(tokenizer.decode(Ids{'a', -1, 5000, 'b'}), "ab");
  EXPECT_EQ(tokenizer.token_bytes(5000), "");
}

// Each damaged tokenizer.json is refused with a TokenizerError naming the file and the field at fault.
struct Damage {
  const char* name;
  std::function<void(nlohmann::ordered_json&)> edit;
  const char* expected;  // in the message, besides the file name
};

std::string load_error(const std::string& text) {
  try {
    Tokenizer::from_json(text, "damaged.json");
  } catch (const TokenizerError& error) {
    return error.what();
  }
  return "";
}

TEST(TokenizerTiny, MalformedFilesAreRefusedNamingTheField) {
  using J = nlohmann::ordered_json;
  const std::vector<Damage> damages = {
      {"no model", [](J& j) { j.erase("model"); }, "model: missing"},
      {"model not an object", [](J& j) { j["model"] = J::array(); },
       "model: expected an object, found a array"},
      {"other model", [](J& j) { j["model"]["type"] = "WordPiece"; },
       "model.type: \"WordPiece\" is not supported"},
      {"vocab not an object", [](J& j) { j["model"]["vocab"] = 3; }, "model.vocab: expected an object"},
      {"id as text", [](J& j) { j["model"]["vocab"]["aa"] = "264"; },
       "model.vocab[\"aa\"]: expected a non-negative integer id, found a string"},
      {"negative id", [](J& j) { j["model"]["vocab"]["aa"] = -3; },
       "model.vocab[\"aa\"]: expected a non-negative integer id, found a negative integer"},
      {"float id", [](J& j) { j["model"]["vocab"]["aa"] = 264.0; }, "found a floating-point number"},
      {"huge id", [](J& j) { j["model"]["vocab"]["aa"] = 4000000000u; },
       "model.vocab[\"aa\"]: the id 4000000000 is too large"},
      {"sparse ids", [](J& j) { j["model"]["vocab"]["aa"] = 90000000; },
       "ids: the largest id 90000000 is far beyond"},
      {"id collision", [](J& j) { j["model"]["vocab"]["aa"] = 263; }, "share the id 263"},
      {"merges not an array", [](J& j) { j["model"]["merges"] = "l l"; },
       "model.merges: expected an array, found a string"},
      {"merge without space", [](J& j) { j["model"]["merges"][0] = "ll"; },
       "model.merges[0]: \"ll\" is not two tokens"},
      {"merge with two spaces", [](J& j) { j["model"]["merges"][0] = "l l l"; },
       "model.merges[0]: \"l l l\" is not two tokens"},
      {"merge of three",
       [](J& j) {
         j["model"]["merges"][1] = {"h", "e", "x"};
       },
       "model.merges[1]: expected a pair"},
      {"merge of numbers",
       [](J& j) {
         j["model"]["merges"][1] = {1, 2};
       },
       "model.merges[1]: expected a pair"},
      {"merge as number", [](J& j) { j["model"]["merges"][2] = 7; },
       "model.merges[2]: expected \"left right\""},
      {"unknown merge token",
       [](J& j) {
         j["model"]["merges"][3] = {"hell", "zz"};
       },
       "model.merges[3]: token \"zz\" is not in model.vocab"},
      {"unknown merged token",
       [](J& j) {
         j["model"]["merges"][3] = {"hell", "a"};
       },
       "model.merges[3]: the merged token \"hella\" is not in model.vocab"},
      {"added id taken", [](J& j) { j["added_tokens"][0]["id"] = 263; },
       "added_tokens[0]: the id 263 of \"<|end|>\" already belongs to \"Ġhello\""},
      {"added id disagrees with vocab", [](J& j) { j["added_tokens"][0]["content"] = "aa"; },
       "added_tokens[0]: \"aa\" has id 265 but model.vocab gives it 264"},
      {"added twice",
       [](J& j) {
         j["added_tokens"].push_back(j["added_tokens"][0]);
         j["added_tokens"][1]["id"] = 266;
       },
       "added_tokens[1]: \"<|end|>\" is listed twice"},
      {"empty added", [](J& j) { j["added_tokens"][0]["content"] = ""; },
       "added_tokens[0]: the content is empty"},
      {"added without id", [](J& j) { j["added_tokens"][0].erase("id"); }, "added_tokens[0].id: missing"},
      {"added flag as text", [](J& j) { j["added_tokens"][0]["special"] = "yes"; },
       "added_tokens[0].special: expected true or false"},
      {"added tokens not an array", [](J& j) { j["added_tokens"] = J::object(); },
       "added_tokens: expected an array"},
      {"normalizer",
       [](J& j) {
         j["normalizer"] = {{"type", "NFC"}};
       },
       "normalizer: must be null"},
      {"post-processor",
       [](J& j) {
         j["post_processor"] = {{"type", "TemplateProcessing"}};
       },
       "post_processor: must be null"},
      {"truncation",
       [](J& j) {
         j["truncation"] = {{"max_length", 8}};
       },
       "truncation: must be null"},
      {"padding",
       [](J& j) {
         j["padding"] = {{"pad_id", 0}};
       },
       "padding: must be null"},
      {"no pre-tokenizer", [](J& j) { j["pre_tokenizer"] = nullptr; },
       "pre_tokenizer: missing; expected type ByteLevel"},
      {"other pre-tokenizer",
       [](J& j) {
         j["pre_tokenizer"] = {{"type", "Whitespace"}};
       },
       "pre_tokenizer.type: \"Whitespace\" is not supported"},
      {"no regex", [](J& j) { j["pre_tokenizer"]["use_regex"] = false; },
       "pre_tokenizer.use_regex: must be true"},
      {"prefix space as text", [](J& j) { j["pre_tokenizer"]["add_prefix_space"] = "no"; },
       "pre_tokenizer.add_prefix_space: expected true or false"},
      {"no decoder", [](J& j) { j.erase("decoder"); }, "decoder: missing; expected type ByteLevel"},
      {"other decoder",
       [](J& j) {
         j["decoder"] = {{"type", "WordPiece"}};
       },
       "decoder.type: \"WordPiece\" is not supported"},
      {"dropout", [](J& j) { j["model"]["dropout"] = 0.1; }, "model.dropout: must be null"},
      {"unk token", [](J& j) { j["model"]["unk_token"] = "<unk>"; }, "model.unk_token: must be null"},
      {"subword prefix", [](J& j) { j["model"]["continuing_subword_prefix"] = "##"; },
       "model.continuing_subword_prefix: must be null"},
      {"byte fallback", [](J& j) { j["model"]["byte_fallback"] = true; },
       "model.byte_fallback: must be false"},
      {"version as number", [](J& j) { j["version"] = 1; }, "version: expected a string"},
      {"empty vocabulary",
       [](J& j) {
         j["model"]["vocab"] = J::object();
         j["model"]["merges"] = J::array();
       },
       "model.vocab: empty"},
  };
  for (const Damage& damage : damages) {
    nlohmann::ordered_json json = tiny_tokenizer_json();
    damage.edit(json);
    const std::string message = load_error(json.dump());
    EXPECT_NE(message.find("damaged.json: "), std::string::npos) << damage.name << ": " << message;
    EXPECT_NE(message.find(damage.expected), std::string::npos) << damage.name << ": " << message;
  }
  const std::string text = tiny_tokenizer_json().dump();
  EXPECT_NE(load_error("").find("damaged.json: (document): not valid JSON"), std::string::npos);
  EXPECT_NE(load_error(text.substr(0, text.size() / 2)).find("not valid JSON"), std::string::npos);
  EXPECT_NE(load_error("[1, 2]").find("(document): expected an object, found a array"), std::string::npos);
  EXPECT_NE(load_error(std::string(100000, '[')).find("nested more than 32 deep"), std::string::npos);
  EXPECT_NE(load_error("{\"model\": {}, \"model\": {}}").find("the key \"model\" appears twice"),
            std::string::npos);
  EXPECT_NE(load_error("{\"version\": \"\xFF\"}").find("not valid JSON"), std::string::npos);
  try {
    Tokenizer::load("/nonexistent/tokenizer.json");
    ADD_FAILURE() << "loaded a missing file";
  } catch (const TokenizerError& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/tokenizer.json: cannot open"), std::string::npos);
  }
}

TEST(TokenizerTiny, ConstructorChecksTheModel) {
  BpeModel model;
  model.vocab = {{"a", 0}, {"b", 1}};
  model.merges = {{"a", "b"}};
  try {
    Tokenizer tokenizer(model);
    ADD_FAILURE() << "accepted a merge into a missing token";
  } catch (const TokenizerError& error) {
    EXPECT_STREQ(error.what(), "BPE model: model.merges[0]: the merged token \"ab\" is not in model.vocab");
  }
  model.vocab["ab"] = 2;
  EXPECT_EQ(Tokenizer(model).encode("abab"), (Ids{2, 2}));
  EXPECT_EQ(Tokenizer(model).encode("abc"), (Ids{2}));  // "c" has no token: dropped, as Hugging Face drops it
}

// ---- the MiniMind tokenizer against Hugging Face ----------------------------------------------------------

TEST(TokenizerMiniMind, EncodesEveryFixtureTextAsHuggingFace) {
  MINIMIND_REQUIRE_REFERENCE_TOKENIZER();
  const Tokenizer& tokenizer = *reference_tokenizer();
  EXPECT_EQ(tokenizer.vocab_size(), 6400);
  int mismatches = 0;
  for (const auto& entry : fixture()["encodings"]) {
    const std::string text = entry["text"];
    const Ids expected = entry["ids"];
    const Ids ids = tokenizer.encode(text);
    if (ids != expected && ++mismatches <= 5) ADD_FAILURE() << "encode(" << printable(text) << ")";
    EXPECT_EQ(tokenizer.decode(expected), entry["decoded"].get<std::string>()) << printable(text);
    EXPECT_EQ(tokenizer.decode_bytes(ids), text) << printable(text);
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(fixture()["encodings"].size(), 250u);
}

TEST(TokenizerMiniMind, DecodesAsHuggingFaceIncludingCutCharacters) {
  MINIMIND_REQUIRE_REFERENCE_TOKENIZER();
  const Tokenizer& tokenizer = *reference_tokenizer();
  for (const auto& entry : fixture()["decodings"]) {
    const Ids ids = entry["ids"];
    EXPECT_EQ(tokenizer.decode(ids, entry["skip_special_tokens"].get<bool>()),
              entry["text"].get<std::string>())
        << entry["ids"].dump();
  }
  const auto& single = fixture()["single_token_text"];
  ASSERT_EQ(single.size(), 6400u);
  for (int32_t id = 0; id < 6400; ++id) {
    EXPECT_EQ(tokenizer.decode(Ids{id}), single[id].get<std::string>()) << "id " << id;
  }
}

// The pre-tokenizer's classes (letter, number, space, other) for every code point, probed as the fixture
// script probed Hugging Face's: every code point of the Basic Multilingual Plane, and beyond it the first,
// middle and last code point of each run of one class.
TEST(TokenizerMiniMind, PreTokenizerClassesEveryCodePointAsHuggingFace) {
  const ByteLevelPreTokenizer pretokenizer;
  const auto classify = [&](char32_t code_point) {
    std::string c;
    utf8::append(code_point, c);
    const auto first = pretokenizer.split("a" + c + "1");
    if (first.size() == 2) return first[1] == "1" ? 'L' : 'N';
    return pretokenizer.split(c + "!").size() == 1 ? 'O' : 'S';
  };
  const auto& runs = fixture()["code_point_classes"];
  ASSERT_GT(runs.size(), 1000u);
  int mismatches = 0;
  const auto check = [&](char32_t code_point, char expected) {
    if ((code_point >= 0xD800 && code_point <= 0xDFFF) || code_point == U' ') return;
    if (classify(code_point) != expected && ++mismatches <= 10) {
      ADD_FAILURE() << std::hex << "U+" << uint32_t(code_point) << " should be " << expected;
    }
  };
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const char32_t begin = runs[i][0].get<uint32_t>();
    const char32_t end = i + 1 < runs.size() ? runs[i + 1][0].get<uint32_t>() : 0x110000;  // exclusive
    const char expected = runs[i][1].get<std::string>()[0];
    if (begin < 0x10000) {
      for (char32_t code_point = begin; code_point < std::min<char32_t>(end, 0x10000); ++code_point) {
        check(code_point, expected);
      }
    }
    for (const char32_t code_point : {begin, char32_t(begin + (end - begin) / 2), char32_t(end - 1)}) {
      if (code_point >= 0x10000) check(code_point, expected);
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(TokenizerMiniMind, VariantsEncodeAsHuggingFace) {
  MINIMIND_REQUIRE_REFERENCE_TOKENIZER();
  const auto reference =
      nlohmann::ordered_json::parse(read_file(tokenizer_test::reference_tokenizer_dir() / "tokenizer.json"));
  for (const auto& variant : fixture()["variants"]) {
    nlohmann::ordered_json json = reference;
    json["pre_tokenizer"]["add_prefix_space"] = variant["pre_tokenizer_add_prefix_space"];
    json["model"]["ignore_merges"] = variant["model_ignore_merges"];
    for (const auto& added : variant["extra_added_tokens"])
      json["added_tokens"].push_back(nlohmann::ordered_json::parse(added.dump()));
    const Tokenizer tokenizer = Tokenizer::from_json(json.dump(), variant["name"]);
    for (const auto& entry : variant["cases"]) {
      const std::string text = entry["text"];
      EXPECT_EQ(tokenizer.encode(text), entry["ids"].get<Ids>())
          << variant["name"] << ": " << printable(text);
      Ids ids;
      std::vector<std::size_t> ends;
      tokenizer.encode_append(text, ids, ends);
      ASSERT_EQ(ends.size(), ids.size());
      if (!ends.empty()) {
        EXPECT_EQ(ends.back(), text.size()) << variant["name"] << ": " << printable(text);
      }
      EXPECT_TRUE(std::is_sorted(ends.begin(), ends.end()));
    }
  }
}

TEST(TokenizerMiniMind, WritesTheReferenceFileBackByteForByte) {
  MINIMIND_REQUIRE_REFERENCE_TOKENIZER();
  const std::string original = read_file(tokenizer_test::reference_tokenizer_dir() / "tokenizer.json");
  EXPECT_EQ(reference_tokenizer()->to_json(), original);
}

TEST(TokenizerMiniMind, JsonRoundTripAndStringMergesEncodeAlike) {
  MINIMIND_REQUIRE_REFERENCE_TOKENIZER();
  const Tokenizer& tokenizer = *reference_tokenizer();
  ScratchDirectory directory;
  tokenizer.save(directory / "tokenizer.json");
  const Tokenizer reloaded = Tokenizer::load(directory / "tokenizer.json");
  auto json = nlohmann::ordered_json::parse(tokenizer.to_json());
  for (auto& merge : json["model"]["merges"])
    merge = merge[0].get<std::string>() + " " + merge[1].get<std::string>();
  const Tokenizer string_merges = Tokenizer::from_json(json.dump(), "string-merges.json");
  EXPECT_EQ(string_merges.to_json(), tokenizer.to_json());
  for (const auto& entry : fixture()["encodings"]) {
    const std::string text = entry["text"];
    EXPECT_EQ(reloaded.encode(text), entry["ids"].get<Ids>()) << printable(text);
    EXPECT_EQ(string_merges.encode(text), entry["ids"].get<Ids>()) << printable(text);
  }
}

TEST(TokenizerMiniMind, AddedTokensAreNeverSplit) {
  MINIMIND_REQUIRE_REFERENCE_TOKENIZER();
  const Tokenizer& tokenizer = *reference_tokenizer();
  EXPECT_EQ(tokenizer.token_to_id("<|endoftext|>"), 0);
  EXPECT_EQ(tokenizer.token_to_id("<|im_start|>"), 1);
  EXPECT_EQ(tokenizer.token_to_id("<|im_end|>"), 2);
  ASSERT_EQ(tokenizer.model().added_tokens.size(), 36u);
  std::string all;
  Ids all_ids;
  int special = 0;
  std::string all_unspecial;
  for (const AddedToken& added : tokenizer.model().added_tokens) {
    EXPECT_EQ(tokenizer.is_special(added.id), added.special) << added.content;
    special += added.special ? 1 : 0;
    if (!added.special) all_unspecial += added.content;
    for (const std::string& around : {std::string("x"), std::string(" "), std::string("中"), std::string("<"),
                                      std::string("|>"), std::string("\n")}) {
      const Ids ids = tokenizer.encode(around + added.content + around);
      EXPECT_EQ(std::count(ids.begin(), ids.end(), added.id), 1) << around + added.content + around;
      EXPECT_EQ(tokenizer.decode(ids, true), around + (added.special ? "" : added.content) + around);
    }
    all += added.content;
    all_ids.push_back(added.id);
  }
  EXPECT_EQ(tokenizer.encode(all), all_ids);
  EXPECT_EQ(tokenizer.decode(all_ids), all);
  EXPECT_EQ(tokenizer.decode(all_ids, true), all_unspecial);
  EXPECT_EQ(special, 21);  // <think>, <tool_call>, <|buffer1|> and the like are added but not special
}

TEST(TokenizerMiniMind, InvalidUtf8DoesNotCrashAndRoundTrips) {
  MINIMIND_REQUIRE_REFERENCE_TOKENIZER();
  const Tokenizer& tokenizer = *reference_tokenizer();
  std::mt19937 rng(11);
  const std::string seeds[] = {"中文", "😀",        "<|im_end|>",   " ",   "abc", "\xE4\xB8", "\xF0\x9F\x98",
                               "\xFF", "\xC0\x80", "\xED\xA0\x80", "\x80"};
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes;
    const int parts = static_cast<int>(rng() % 12);
    for (int i = 0; i < parts; ++i) {
      if (rng() % 3 == 0) {
        bytes.push_back(static_cast<char>(rng()));
      } else {
        bytes += seeds[rng() % std::size(seeds)];
      }
    }
    const Ids ids = tokenizer.encode(bytes);
    EXPECT_EQ(tokenizer.decode_bytes(ids), bytes) << printable(bytes);
    EXPECT_EQ(tokenizer.decode(ids), utf8::replace_invalid(bytes));
  }
  // Invalid bytes split the valid text around them, and each run of them is one piece.
  EXPECT_EQ(tokenizer.encode("hello\xFFworld"), [&] {
    Ids ids = tokenizer.encode("hello");
    ids.push_back(*tokenizer.token_to_id("ÿ"));
    const Ids world = tokenizer.encode("world");
    ids.insert(ids.end(), world.begin(), world.end());
    return ids;
  }());
}

TEST(TokenizerMiniMind, EncodesAlikeFromManyThreads) {
  MINIMIND_REQUIRE_REFERENCE_TOKENIZER();
  const Tokenizer& tokenizer = *reference_tokenizer();
  std::vector<std::string> texts;
  std::vector<Ids> expected;
  for (const auto& entry : fixture()["encodings"]) {
    texts.push_back(entry["text"]);
    expected.push_back(entry["ids"]);
  }
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (std::size_t i = t; i < texts.size() + t; ++i) {
          const std::size_t k = i % texts.size();
          if (tokenizer.encode(texts[k]) != expected[k]) ++failures[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace minimind
