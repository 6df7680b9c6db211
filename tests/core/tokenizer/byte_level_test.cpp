// GPT-2's byte-to-unicode mapping and the GPT-2 split. References: values of GPT-2's bytes_to_unicode (Ġ for
// the space, Ċ for newline, the printable Latin-1 bytes unchanged), and the splits of Hugging Face's own
// ByteLevel tests and of its ByteLevel pre-tokenizer as printed by the tokenizers library.
#include "tokenizer/byte_level.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tokenizer/pretokenizer.h"

namespace minimind {
namespace {

TEST(ByteLevel, MapsEveryByteToItsGpt2CodePointAndBack) {
  EXPECT_EQ(byte_to_unicode(' '), U'\u0120');   // Ġ
  EXPECT_EQ(byte_to_unicode('\n'), U'\u010A');  // Ċ
  EXPECT_EQ(byte_to_unicode('\t'), U'\u0109');  // ĉ
  EXPECT_EQ(byte_to_unicode(0), U'\u0100');
  EXPECT_EQ(byte_to_unicode(0x7F), U'\u0121');
  EXPECT_EQ(byte_to_unicode(0xA0), U'\u0142');  // the no-break space
  EXPECT_EQ(byte_to_unicode(0xAD), U'\u0143');  // the soft hyphen, the last one moved
  EXPECT_EQ(byte_to_unicode(0xAE), U'\u00AE');
  EXPECT_EQ(byte_to_unicode('A'), U'A');
  EXPECT_EQ(byte_to_unicode(0xE4), U'\u00E4');
  std::set<char32_t> seen;
  for (int byte = 0; byte < 256; ++byte) {
    const char32_t code_point = byte_to_unicode(static_cast<uint8_t>(byte));
    seen.insert(code_point);
    EXPECT_EQ(unicode_to_byte(code_point), byte);
  }
  EXPECT_EQ(seen.size(), 256u);
  std::string mapped;
  append_byte_level("\xe4\xbd\xa0", mapped);  // 你
  EXPECT_EQ(mapped, "ä½ł");
  EXPECT_EQ(unicode_to_byte(U' '), std::nullopt);
  EXPECT_EQ(unicode_to_byte(U'\u0144'), std::nullopt);
  EXPECT_EQ(unicode_to_byte(U'中'), std::nullopt);
}

TEST(ByteLevel, StringsBothWays) {
  std::string mapped;
  append_byte_level("Hi there\n\xE4\xB8\xAD", mapped);
  EXPECT_EQ(mapped, "HiĠthereĊä¸Ń");
  std::string bytes;
  EXPECT_TRUE(append_bytes_of_byte_level(mapped, bytes));
  EXPECT_EQ(bytes, "Hi there\n\xE4\xB8\xAD");
  bytes = "keep";
  EXPECT_FALSE(append_bytes_of_byte_level("a b", bytes));  // a space is not in the alphabet
  EXPECT_FALSE(append_bytes_of_byte_level("中", bytes));
  EXPECT_FALSE(append_bytes_of_byte_level("\xC0\xA1", bytes));  // overlong '!'
  EXPECT_FALSE(append_bytes_of_byte_level("\xC4", bytes));      // truncated
  EXPECT_EQ(bytes, "keep");
}

TEST(PreTokenizer, SplitsAsHuggingFaceByteLevel) {
  const ByteLevelPreTokenizer pretokenizer;
  using Pieces = std::vector<std::string_view>;
  EXPECT_EQ(pretokenizer.split("Hello my friend, how is your day going?"),
            (Pieces{"Hello", " my", " friend", ",", " how", " is", " your", " day", " going", "?"}));
  EXPECT_EQ(pretokenizer.split("Hello there\nHello there"),
            (Pieces{"Hello", " there", "\n", "Hello", " there"}));
  EXPECT_EQ(pretokenizer.split("Hello there       dear"), (Pieces{"Hello", " there", "      ", " dear"}));
  EXPECT_EQ(pretokenizer.split("i\xE2\xAD\xA2j"), (Pieces{"i", "\xE2\xAD\xA2", "j"}));
  EXPECT_EQ(pretokenizer.split("I'm they're it's 'LL"),
            (Pieces{"I", "'m", " they", "'re", " it", "'s", " '", "LL"}));
  EXPECT_EQ(pretokenizer.split("abc123 456!!  \n\n x"), (Pieces{"abc", "123", " 456", "!!", "  \n\n", " x"}));
  EXPECT_EQ(pretokenizer.split("  "), (Pieces{"  "}));
  EXPECT_EQ(pretokenizer.split(""), Pieces{});
  // U+180E is no space to Oniguruma (it is to PCRE2's own \s); U+3000 and U+0085 are.
  EXPECT_EQ(pretokenizer.split("a\xE1\xA0\x8E!"), (Pieces{"a", "\xE1\xA0\x8E!"}));
  EXPECT_EQ(pretokenizer.split("a\xC2\x85!"), (Pieces{"a", "\xC2\x85", "!"}));
  // (only an ASCII space joins the word after it)
  EXPECT_EQ(pretokenizer.split("a\xE3\x80\x80\xE3\x80\x80"
                               "b"),
            (Pieces{"a", "\xE3\x80\x80", "\xE3\x80\x80", "b"}));
  // Invalid bytes: a piece of their own between pieces of the valid text.
  EXPECT_EQ(pretokenizer.split("ab\xFF\xFE"
                               "cd \x80"),
            (Pieces{"ab", "\xFF\xFE", "cd", " ", "\x80"}));
  EXPECT_TRUE(pretokenizer.uses_jit());

  // As Hugging Face's ByteLevel pre-tokenizer prints them: split, then each byte mapped.
  const auto byte_level_pieces = [&pretokenizer](std::string_view text) {
    std::vector<std::string> pieces;
    for (const std::string_view piece : pretokenizer.split(text)) {
      pieces.emplace_back();
      append_byte_level(piece, pieces.back());
    }
    return pieces;
  };
  using Tokens = std::vector<std::string>;
  EXPECT_EQ(byte_level_pieces("Hello world's  end\n"), (Tokens{"Hello", "Ġworld", "'s", "Ġ", "Ġend", "Ċ"}));
  EXPECT_EQ(byte_level_pieces("I'VE 12ab 你好，世界!! \t\n x"),
            (Tokens{"I", "'", "VE", "Ġ12", "ab", "Ġä½łå¥½", "ï¼Į", "ä¸ĸçķĮ", "!!", "ĠĉĊ", "Ġx"}));
  EXPECT_EQ(byte_level_pieces("a\u0085\u0085b"), (Tokens{"a", "Âħ", "Âħ", "b"}));  // U+0085 is a space
}

TEST(PreTokenizer, LongRunsDoNotExhaustTheMatcher) {
  const ByteLevelPreTokenizer pretokenizer;
  for (const std::string& text :
       {std::string(1 << 20, ' ') + "x", std::string(1 << 20, 'a'), std::string(1 << 19, '\n') + " "}) {
    const auto pieces = pretokenizer.split(text);
    std::size_t total = 0;
    for (const auto piece : pieces) total += piece.size();
    EXPECT_EQ(total, text.size());
    EXPECT_LE(pieces.size(), 2u);
  }
}

TEST(PreTokenizer, CharacterClassesForAddedTokenFlags) {
  const ByteLevelPreTokenizer pretokenizer;
  EXPECT_TRUE(pretokenizer.is_word_character(U'a'));
  EXPECT_TRUE(pretokenizer.is_word_character(U'中'));
  EXPECT_TRUE(pretokenizer.is_word_character(U'7'));
  EXPECT_TRUE(pretokenizer.is_word_character(U'_'));
  EXPECT_TRUE(pretokenizer.is_word_character(U'\u0330'));  // a combining mark
  EXPECT_FALSE(pretokenizer.is_word_character(U'-'));
  EXPECT_FALSE(pretokenizer.is_word_character(U' '));
  EXPECT_TRUE(ByteLevelPreTokenizer::is_white_space(U'\u2000'));
  EXPECT_TRUE(ByteLevelPreTokenizer::is_white_space(U'\t'));
  EXPECT_FALSE(ByteLevelPreTokenizer::is_white_space(U'\u180E'));
  EXPECT_FALSE(ByteLevelPreTokenizer::is_white_space(U'\u200B'));
}

}  // namespace
}  // namespace minimind
