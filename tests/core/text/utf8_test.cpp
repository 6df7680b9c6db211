// UTF-8 validation, stepping and lossy replacement. References: the well-formed byte sequences of the Unicode
// standard (table 3-7) and its examples of ill-formed ones (overlong forms, surrogates, values above
// U+10FFFF, stray continuation bytes), written out byte by byte; over random byte strings, a validator
// written here from the definition by code point ranges (shortest form, no surrogates, at most U+10FFFF);
// and Rust's String::from_utf8_lossy replacement rule (one U+FFFD per maximal invalid subsequence, as the
// Unicode standard recommends).
#include "text/utf8.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

namespace minimind {
namespace {

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(utf8::is_valid(""));
  EXPECT_TRUE(utf8::is_valid("plain ASCII, longer than eight bytes"));
  EXPECT_TRUE(utf8::is_valid("\xC2\x80 \xDF\xBF"));                       // U+0080, U+07FF
  EXPECT_TRUE(utf8::is_valid("\xE0\xA0\x80 \xED\x9F\xBF \xEF\xBF\xBF"));  // U+0800, U+D7FF, U+FFFF
  EXPECT_TRUE(utf8::is_valid("\xF0\x90\x80\x80 \xF4\x8F\xBF\xBF"));       // U+10000, U+10FFFF
  EXPECT_TRUE(utf8::is_valid("中文 😀"));
}

TEST(Utf8, FindsTheFirstIllFormedByte) {
  const auto invalid_at = [](const std::string& bytes) {
    const utf8::Validation validation = utf8::validate(bytes);
    EXPECT_FALSE(validation.truncated_tail) << bytes;
    return validation.valid_bytes;
  };
  EXPECT_EQ(invalid_at("abc\x80"), 3u);           // a stray continuation byte
  EXPECT_EQ(invalid_at("a\xC0\x80"), 1u);         // overlong NUL
  EXPECT_EQ(invalid_at("\xC1\xBF"), 0u);          // overlong
  EXPECT_EQ(invalid_at("ab\xE0\x9F\xBF"), 2u);    // overlong three-byte form
  EXPECT_EQ(invalid_at("\xED\xA0\x80"), 0u);      // surrogate U+D800
  EXPECT_EQ(invalid_at("\xF0\x8F\xBF\xBF"), 0u);  // overlong four-byte form
  EXPECT_EQ(invalid_at("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(invalid_at("\xF5\x80\x80\x80"), 0u);  // no such lead byte
  EXPECT_EQ(invalid_at("\xFF"), 0u);
  EXPECT_EQ(invalid_at("12345678\xE4\xB8"
                       "x"),
            8u);  // cut short inside the text
  EXPECT_EQ(invalid_at("中\xE4\xB8\xAD\xAD"), 6u);
}

TEST(Utf8, TellsATruncatedTailFromAnInvalidByte) {
  const utf8::Validation three = utf8::validate("ab\xE4\xB8");
  EXPECT_EQ(three.valid_bytes, 2u);
  EXPECT_TRUE(three.truncated_tail);
  const utf8::Validation four = utf8::validate("\xF0\x9F\x98");
  EXPECT_EQ(four.valid_bytes, 0u);
  EXPECT_TRUE(four.truncated_tail);
  EXPECT_FALSE(utf8::validate("\xED\xA0").truncated_tail);  // a surrogate start is not well-formed
}

TEST(Utf8, StepsAndDecodesCharacters) {
  const std::string text = "a\xC3\xA9中😀\xFF";
  EXPECT_EQ(utf8::count_characters(text), 5);
  EXPECT_EQ(utf8::character_length(text, 0), 1u);
  EXPECT_EQ(utf8::character_length(text, 1), 2u);
  EXPECT_EQ(utf8::character_length(text, 3), 3u);
  EXPECT_EQ(utf8::character_length(text, 6), 4u);
  EXPECT_EQ(utf8::character_length(text, 10), 1u);
  EXPECT_EQ(utf8::decode_at(text, 1), 0xE9);
  EXPECT_EQ(utf8::decode_at(text, 3), 0x4E2D);
  EXPECT_EQ(utf8::decode_at(text, 6), 0x1F600);
  EXPECT_EQ(utf8::decode_at(text, 10), -1);
}

TEST(Utf8, ValidPrefixAndLossyReplacementAsRust) {
  EXPECT_EQ(utf8::validate("abc\xE4\xB8\xAD").valid_bytes, 6u);
  EXPECT_EQ(utf8::validate("abcdefghij\xFF").valid_bytes, 10u);
  EXPECT_EQ(utf8::validate("\xED\xA0\x80").valid_bytes, 0u);      // a surrogate
  EXPECT_EQ(utf8::validate("\xF4\x90\x80\x80").valid_bytes, 0u);  // above U+10FFFF
  EXPECT_EQ(utf8::validate("\xE0\x80\xAF").valid_bytes, 0u);      // overlong
  EXPECT_EQ(utf8::validate("\xF0\x9F\x98\x80").valid_bytes, 4u);
  // One U+FFFD per maximal subpart: "\xF0\x9F\x98" is one, "\xED" (its successor cannot follow) is one,
  // each stray continuation byte is one.
  EXPECT_EQ(utf8::replace_invalid("a\xF0\x9F\x98"
                                  "b"),
            "a\uFFFD"
            "b");
  EXPECT_EQ(utf8::replace_invalid("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(utf8::replace_invalid("\x80\x80"), "\uFFFD\uFFFD");
  EXPECT_EQ(utf8::replace_invalid("\xE4\xB8\xE4\xB8\xAD"), "\uFFFD中");
  EXPECT_EQ(utf8::replace_invalid("\xC0\x80"), "\uFFFD\uFFFD");
  EXPECT_EQ(utf8::replace_invalid("\xF4\x8F\xBF"), "\uFFFD");
  EXPECT_EQ(utf8::replace_invalid("ok"), "ok");
  EXPECT_EQ(utf8::first_code_point("中x"), U'中');
  EXPECT_EQ(utf8::first_code_point("\xE4\xB8"), std::nullopt);
  EXPECT_EQ(utf8::first_code_point(""), std::nullopt);
  std::string encoded;
  utf8::append(U'\U0001F600', encoded);
  EXPECT_EQ(encoded, "\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8::encoded_length(U'\U0001F600'), 4u);
  EXPECT_EQ(utf8::encoded_length(U'中'), 3u);
}

// From the definition: decode the sequence a lead byte announces, then refuse overlong forms, surrogates and
// values above U+10FFFF. A sequence cut off by the end is "truncated" when some continuation makes it valid.
utf8::Validation reference_validate(const std::string& text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t minimum = 0;
    if (lead >= 0xC0 && lead <= 0xDF)
      length = 2, minimum = 0x80;
    else if (lead >= 0xE0 && lead <= 0xEF)
      length = 3, minimum = 0x800;
    else if (lead >= 0xF0 && lead <= 0xF7)
      length = 4, minimum = 0x10000;
    else
      return {i, false};
    // The sequence, completed with the smallest continuation that could be valid where bytes are missing.
    std::vector<unsigned char> sequence = {lead};
    bool truncated = false;
    for (size_t k = 1; k < length; ++k) {
      if (i + k >= text.size()) {
        truncated = true;
        sequence.push_back(k == 1 && lead == 0xE0 ? 0xA0 : k == 1 && lead == 0xF0 ? 0x90 : 0x80);
      } else {
        if ((byte(i + k) & 0xC0) != 0x80) return {i, false};
        sequence.push_back(byte(i + k));
      }
    }
    uint32_t code_point = lead & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) code_point = (code_point << 6) | (sequence[k] & 0x3F);
    const bool valid =
        code_point >= minimum && code_point <= 0x10FFFF && !(code_point >= 0xD800 && code_point <= 0xDFFF);
    if (!valid) return {i, false};
    if (truncated) return {i, true};
    i += length;
  }
  return {text.size(), false};
}

TEST(Utf8, AgreesWithTheDefinitionOnRandomBytes) {
  // Well-formed characters of every length mixed with stray bytes, in strings long enough to cross the
  // validator's 16-byte blocks at every offset.
  const std::vector<std::string> pieces = {"a", "abcdefgh",     "\xC3\xA9",        "中",
                                           "😀", "\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF"};
  std::mt19937 random(11);
  for (int trial = 0; trial < 20000; ++trial) {
    std::string text;
    const int count = static_cast<int>(random() % 24);
    for (int k = 0; k < count; ++k) {
      if (random() % 8 == 0) {
        text += static_cast<char>(random() % 256);
      } else {
        text += pieces[random() % pieces.size()];
      }
    }
    if (random() % 4 == 0 && !text.empty()) text.pop_back();  // often cuts a character short
    const utf8::Validation expected = reference_validate(text);
    const utf8::Validation found = utf8::validate(text);
    ASSERT_EQ(found.valid_bytes, expected.valid_bytes) << "trial " << trial;
    ASSERT_EQ(found.truncated_tail, expected.truncated_tail) << "trial " << trial;
  }
}

}  // namespace
}  // namespace minimind
