// The recursive character splitter. References: chunks produced by LangChain's RecursiveCharacterTextSplitter
// (langchain-text-splitters 1.1.3, tests/fixtures/text_splitter/, made by
// experiments/reference/make_text_splitter_fixture.py), examples worked by hand from its algorithm, and
// invariants (size, order, coverage, overlap) over generated texts whose pieces can be told apart.
#include "data/text_splitter.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "text/utf8.h"

namespace minimind {
namespace {

using Chunks = std::vector<std::string>;

TEST(TextSplitter, SpacesWithoutOverlap) {
  // Pieces "abc", " def", " ghi", " jkl" (the separator leads the piece after it); 3 + 4 fits in 10, 3 + 4 +
  // 4 does not, so the window empties and starts again at " ghi".
  EXPECT_EQ(TextSplitter(10, 0).split("abc def ghi jkl"), (Chunks{"abc def", "ghi jkl"}));
}

TEST(TextSplitter, SpacesWithOverlap) {
  // Overlap 4: after emitting "abc def" the window drops "abc" (7 > 4) and keeps " def" (4 <= 4).
  EXPECT_EQ(TextSplitter(10, 4).split("abc def ghi jkl"), (Chunks{"abc def", "def ghi", "ghi jkl"}));
}

TEST(TextSplitter, ChineseFullStopThenCharacters) {
  // "。" splits into "一二三" (3 < 5) and "。四五六七八九十" (8 >= 5), which has no "，" or " " and so is cut
  // between characters: sizes are code points (a chunk of 5 here is 15 bytes).
  EXPECT_EQ(TextSplitter(5, 0).split("一二三。四五六七八九十"), (Chunks{"一二三", "。四五六七", "八九十"}));
}

TEST(TextSplitter, ParagraphsFirstAndStripped) {
  EXPECT_EQ(TextSplitter(20, 0).split("para one.\n\npara two is here.\n\nthree"),
            (Chunks{"para one.", "para two is here.", "three"}));
}

TEST(TextSplitter, ShortTextIsOneChunkAndBlankTextNone) {
  EXPECT_EQ(TextSplitter(100, 10).split("  短文本。\n"), (Chunks{"短文本。"}));
  EXPECT_TRUE(TextSplitter(100, 10).split("").empty());
  EXPECT_TRUE(TextSplitter(100, 10).split(" \n\n \u3000\t").empty());
}

TEST(TextSplitter, UnsplittableWithoutTheEmptySeparator) {
  // With separators that cannot cut "xxxxxxxx", the piece is kept whole although it is longer than
  // chunk_size.
  const TextSplitter splitter(4, 0, {"\n", " "});
  EXPECT_EQ(splitter.split("ab xxxxxxxx cd"), (Chunks{"ab", " xxxxxxxx", "cd"}));
}

TEST(TextSplitter, MatchesLangChainFixture) {
  const std::string path = std::string(MINIMIND_FIXTURES_DIR) + "/text_splitter/langchain_recursive.json";
  std::ifstream file(path);
  ASSERT_TRUE(file) << "missing fixture " << path;
  const nlohmann::json fixture = nlohmann::json::parse(file);
  const auto separators = fixture.at("separators").get<std::vector<std::string>>();
  ASSERT_EQ(separators, TextSplitter::default_separators());
  ASSERT_GE(fixture.at("cases").size(), 200u);
  for (const nlohmann::json& test_case : fixture.at("cases")) {
    const TextSplitter splitter(test_case.at("chunk_size").get<int64_t>(),
                                test_case.at("chunk_overlap").get<int64_t>(), separators);
    const auto expected = test_case.at("chunks").get<Chunks>();
    EXPECT_EQ(splitter.split(test_case.at("text").get<std::string>()), expected)
        << "case " << test_case.at("name").get<std::string>() << ", chunk_size " << splitter.chunk_size()
        << ", overlap " << splitter.chunk_overlap();
  }
}

// A text of numbered tokens "字wK" joined by random separators: every chunk is then a run of whole tokens
// (a token with its separator is at most 7 characters, below every chunk size used), which tells exactly
// where each chunk lies.
struct NumberedText {
  std::string text;
  std::vector<size_t> token_begin, token_end;  // byte ranges of token k
};

NumberedText numbered_text(int tokens, std::mt19937& random) {
  static const std::vector<std::string> separators = {" ", " ", " ", "，", "。", "\n", "\n\n"};
  NumberedText result;
  for (int k = 0; k < tokens; ++k) {
    if (k > 0) result.text += separators[random() % separators.size()];
    result.token_begin.push_back(result.text.size());
    result.text += "字w" + std::to_string(k);
    result.token_end.push_back(result.text.size());
  }
  return result;
}

// The token numbers a chunk holds, in order.
std::vector<int> tokens_in(const std::string& chunk) {
  std::vector<int> tokens;
  for (size_t i = 0; i < chunk.size(); ++i) {
    if (chunk[i] != 'w') continue;
    size_t end = i + 1;
    while (end < chunk.size() && std::isdigit(static_cast<unsigned char>(chunk[end]))) ++end;
    tokens.push_back(std::stoi(chunk.substr(i + 1, end - i - 1)));
    i = end - 1;
  }
  return tokens;
}

TEST(TextSplitter, InvariantsSizeOrderCoverageOverlap) {
  std::mt19937 random(7);
  for (int trial = 0; trial < 60; ++trial) {
    const NumberedText numbered = numbered_text(1 + static_cast<int>(random() % 120), random);
    const int64_t chunk_size = 16 + static_cast<int64_t>(random() % 60);
    const int64_t overlap = trial % 3 == 0 ? 0 : static_cast<int64_t>(random() % (chunk_size + 1));
    const Chunks chunks = TextSplitter(chunk_size, overlap).split(numbered.text);
    SCOPED_TRACE("trial " + std::to_string(trial) + ", chunk_size " + std::to_string(chunk_size) +
                 ", overlap " + std::to_string(overlap));
    ASSERT_FALSE(chunks.empty());
    int previous_first = -1, previous_last = -1;
    for (const std::string& chunk : chunks) {
      EXPECT_LE(utf8::count_characters(chunk), chunk_size) << chunk;
      EXPECT_NE(numbered.text.find(chunk), std::string::npos) << "not a piece of the text: " << chunk;
      const std::vector<int> tokens = tokens_in(chunk);
      ASSERT_FALSE(tokens.empty()) << chunk;
      for (size_t i = 1; i < tokens.size(); ++i) ASSERT_EQ(tokens[i], tokens[i - 1] + 1) << chunk;
      const int first = tokens.front(), last = tokens.back();
      if (previous_last < 0) {
        EXPECT_EQ(first, 0);  // coverage from the start
      } else {
        // Progress. Two chunks can start at the same token: when a window that starts with a whitespace-only
        // piece ("\n" cut from "\n\n") is emitted and only that piece leaves it, stripping makes both start
        // alike (LangChain does the same); the later one then ends further on.
        EXPECT_GE(first, previous_first);
        EXPECT_GE(last, previous_last);
        EXPECT_TRUE(first > previous_first || last > previous_last);
        EXPECT_LE(first, previous_last + 1);  // no token left out
        if (overlap == 0) {
          EXPECT_EQ(first, previous_last + 1);
        }
        if (first <= previous_last) {
          // The text both chunks hold, from token `first` to the end of token `previous_last`.
          const std::string shared = numbered.text.substr(
              numbered.token_begin[first], numbered.token_end[previous_last] - numbered.token_begin[first]);
          EXPECT_LE(utf8::count_characters(shared), overlap) << "shared: " << shared;
        }
      }
      previous_first = first;
      previous_last = last;
    }
    EXPECT_EQ(previous_last, static_cast<int>(numbered.token_begin.size()) - 1);  // coverage to the end
  }
}

TEST(TextSplitter, NeverCutsInsideACharacter) {
  // Four-byte characters with no separator but the empty one: chunks of 3 characters (12 bytes), all valid.
  std::string text;
  for (int i = 0; i < 10; ++i) text += "😀𝄞";
  const Chunks chunks = TextSplitter(3, 0).split(text);
  std::string joined;
  for (const std::string& chunk : chunks) {
    EXPECT_TRUE(utf8::is_valid(chunk));
    EXPECT_LE(utf8::count_characters(chunk), 3);
    joined += chunk;
  }
  EXPECT_EQ(joined, text);
  EXPECT_EQ(chunks.size(), 7u);
}

TEST(TextSplitter, InvalidUtf8BytesCountAsCharacters) {
  const std::string text =
      "ab\xFF"
      "cd\xE4\xB8"
      "e";  // a stray byte and a cut-off character
  const Chunks chunks = TextSplitter(2, 0).split(text);
  std::string joined;
  for (const std::string& chunk : chunks) {
    EXPECT_LE(utf8::count_characters(chunk), 2);
    joined += chunk;
  }
  EXPECT_EQ(joined, text);
}

TEST(TextSplitter, RejectsBadArguments) {
  EXPECT_THROW(TextSplitter(0, 0), std::invalid_argument);
  EXPECT_THROW(TextSplitter(10, -1), std::invalid_argument);
  EXPECT_THROW(TextSplitter(10, 11), std::invalid_argument);
  EXPECT_THROW(TextSplitter(10, 2, {}), std::invalid_argument);
  EXPECT_NO_THROW(TextSplitter(10, 10));
}

}  // namespace
}  // namespace minimind
