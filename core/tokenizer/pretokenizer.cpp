// The GPT-2 split through PCRE2. Two details keep it identical to Hugging Face's Oniguruma regex:
// - \s is spelled out as Oniguruma's Unicode \s (tab to carriage return, U+0085 and the separators \p{Z});
//   PCRE2's own \s also holds U+180E, which Oniguruma does not count as space.
// - PCRE2 10.42 knows Unicode 14, while the Oniguruma inside tokenizers 0.23 knows Unicode 16: the letters
//   and digits assigned since then are added to \p{L} and \p{N} below. The ranges are where the classes
//   tokenizers gives every code point (code_point_classes in the tokenizer test fixture, probed by
//   experiments/tokenizer/make_tokenizer_fixtures.py) differ from PCRE2's; a test checks every code point of
//   the Basic Multilingual Plane and each class boundary beyond it. They stay right once PCRE2 knows them.
// Classes with those ranges cost PCRE2's JIT about half as much again per character, while the characters
// themselves are rare; so a run of text that holds none of them (a cheap byte scan tells) is split by the
// same pattern with PCRE2's own classes, which gives the same pieces there.
#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>

#include "text/utf8.h"

namespace minimind {
namespace {

struct CodePointRange {
  char32_t first;
  char32_t last;
};

constexpr CodePointRange kNewerLetters[] = {
    {0x1C89, 0x1C8A},   {0xA7CB, 0xA7CD},   {0xA7DA, 0xA7DC},   {0x105C0, 0x105F3}, {0x10D4A, 0x10D65},
    {0x10D6F, 0x10D85}, {0x10EC2, 0x10EC4}, {0x1123F, 0x11240}, {0x11380, 0x11389}, {0x1138B, 0x1138B},
    {0x1138E, 0x1138E}, {0x11390, 0x113B5}, {0x113B7, 0x113B7}, {0x113D1, 0x113D1}, {0x113D3, 0x113D3},
    {0x11BC0, 0x11BE0}, {0x11F02, 0x11F02}, {0x11F04, 0x11F10}, {0x11F12, 0x11F33}, {0x1342F, 0x1342F},
    {0x13441, 0x13446}, {0x13460, 0x143FA}, {0x16100, 0x1611D}, {0x16D40, 0x16D6C}, {0x18CFF, 0x18CFF},
    {0x1B132, 0x1B132}, {0x1B155, 0x1B155}, {0x1DF25, 0x1DF2A}, {0x1E030, 0x1E06D}, {0x1E4D0, 0x1E4EB},
    {0x1E5D0, 0x1E5ED}, {0x1E5F0, 0x1E5F0}, {0x2B739, 0x2B739}, {0x2EBF0, 0x2EE5D}, {0x31350, 0x323AF}};
constexpr CodePointRange kNewerNumbers[] = {
    {0x10D40, 0x10D49}, {0x116D0, 0x116E3}, {0x11BF0, 0x11BF9}, {0x11F50, 0x11F59}, {0x16130, 0x16139},
    {0x16D70, 0x16D79}, {0x1CCF0, 0x1CCF9}, {0x1D2C0, 0x1D2D3}, {0x1E4F0, 0x1E4F9}, {0x1E5F1, 0x1E5FA}};

// The ranges as the inside of a PCRE2 character class: \x{1C89}-\x{1C8A}...
std::string class_ranges(std::span<const CodePointRange> ranges) {
  std::string text;
  const auto hex = [](char32_t code_point) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "\\x{%X}", static_cast<unsigned>(code_point));
    return std::string(buffer);
  };
  for (const CodePointRange& range : ranges) {
    text += hex(range.first);
    if (range.last == range.first) continue;
    text += '-';
    text += hex(range.last);
  }
  return text;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ with Oniguruma's \s and, when
// `with_newer_characters`, the letters and digits PCRE2 does not know yet.
std::string gpt2_pattern(bool with_newer_characters) {
  const std::string space = R"(\t-\r\x{85}\p{Z})";
  std::string letter = R"(\p{L})";
  std::string number = R"(\p{N})";
  if (with_newer_characters) {
    letter += class_ranges(kNewerLetters);
    number += class_ranges(kNewerNumbers);
  }
  return "'s|'t|'re|'ve|'m|'ll|'d| ?[" + letter + "]+| ?[" + number + "]+| ?[^" + space + letter + number +
         "]+|[" + space + "]+(?![^" + space + "])|[" + space + "]+";
}

pcre2_code* compile(const std::string& pattern, uint32_t options) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK | options, &error_code,
                                   &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof message);
    throw std::runtime_error("pre-tokenizer regex: PCRE2 refused the pattern at offset " +
                             std::to_string(error_offset) + ": " + reinterpret_cast<const char*>(message));
  }
  return code;
}

// For each lead byte, the second bytes (by their low six bits) that begin the UTF-8 of some newer letter or
// digit: a text without such a pair holds none of them. (All of them are three or four bytes long.)
using NewerCharacterStarts = std::array<uint64_t, 256>;

NewerCharacterStarts newer_character_starts() {
  NewerCharacterStarts starts{};
  for (const std::span<const CodePointRange> ranges :
       {std::span<const CodePointRange>(kNewerLetters), std::span<const CodePointRange>(kNewerNumbers)}) {
    for (const CodePointRange& range : ranges) {
      for (char32_t code_point = range.first; code_point <= range.last; ++code_point) {
        std::string bytes;
        utf8::append(code_point, bytes);
        starts[static_cast<uint8_t>(bytes[0])] |= uint64_t{1} << (static_cast<uint8_t>(bytes[1]) & 0x3F);
      }
    }
  }
  return starts;
}

bool may_hold_newer_characters(std::string_view text, const NewerCharacterStarts& starts) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i + 1 < size) {
    if (i + 8 <= size) {  // no lead byte of three or four bytes among eight: skip them
      uint64_t word;
      std::memcpy(&word, bytes + i, sizeof word);
      // A byte >= 0xE0 has its top three bits set.
      if ((word & (word << 1) & (word << 2) & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    if ((starts[bytes[i]] >> (bytes[i + 1] & 0x3F)) & 1) return true;
    ++i;
  }
  return false;
}

struct Pattern {
  pcre2_code* code = nullptr;
  bool jit = false;

  explicit Pattern(const std::string& text) {
    // Anchored: every character starts some alternative, so each match begins where the previous one ended.
    code = compile(text, PCRE2_ANCHORED);
    jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  }
  ~Pattern() { pcre2_code_free(code); }
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;
};

}  // namespace

struct ByteLevelPreTokenizer::Regex {
  Pattern exact{gpt2_pattern(true)};      // the GPT-2 split with the newer letters and digits
  Pattern familiar{gpt2_pattern(false)};  // the same with PCRE2's classes, for text without them
  NewerCharacterStarts newer_starts = newer_character_starts();
  pcre2_code* word = nullptr;  // one word character
  ~Regex() { pcre2_code_free(word); }
};

ByteLevelPreTokenizer::ByteLevelPreTokenizer() : regex_(std::make_unique<Regex>()) {
  regex_->word = compile(R"([\p{L}\p{Nl}\p{Nd}\p{M}\p{Pc}\x{200C}\x{200D}])", PCRE2_ANCHORED);
}

ByteLevelPreTokenizer::~ByteLevelPreTokenizer() = default;
ByteLevelPreTokenizer::ByteLevelPreTokenizer(ByteLevelPreTokenizer&&) noexcept = default;
ByteLevelPreTokenizer& ByteLevelPreTokenizer::operator=(ByteLevelPreTokenizer&&) noexcept = default;

bool ByteLevelPreTokenizer::uses_jit() const {
  return regex_->exact.jit && regex_->familiar.jit;
}

bool ByteLevelPreTokenizer::is_word_character(char32_t code_point) const {
  if (code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return false;
  std::string bytes;
  utf8::append(code_point, bytes);
  pcre2_match_data* match = pcre2_match_data_create(1, nullptr);
  if (match == nullptr) throw std::bad_alloc();
  const int rc = pcre2_match(regex_->word, reinterpret_cast<PCRE2_SPTR>(bytes.data()), bytes.size(), 0,
                             PCRE2_NO_UTF_CHECK, match, nullptr);
  pcre2_match_data_free(match);
  return rc > 0;
}

bool ByteLevelPreTokenizer::is_white_space(char32_t c) {
  // Unicode's White_Space property (PropList.txt), which Rust's \s and char::is_whitespace follow.
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

ByteLevelPreTokenizer::Cursor::Cursor(const ByteLevelPreTokenizer& pretokenizer, std::string_view text)
    : pretokenizer_(pretokenizer), text_(text) {}

ByteLevelPreTokenizer::Cursor::~Cursor() {
  pcre2_match_data_free(static_cast<pcre2_match_data*>(match_data_));
}

void ByteLevelPreTokenizer::Cursor::reset(std::string_view text) {
  text_ = text;
  offset_ = run_begin_ = run_end_ = 0;
}

bool ByteLevelPreTokenizer::Cursor::next(std::string_view& piece) {
  if (offset_ == text_.size()) return false;
  if (offset_ == run_end_) {
    const std::size_t valid = utf8::validate(text_.substr(offset_)).valid_bytes;
    if (valid == 0) {  // a run of invalid bytes: one piece
      std::size_t end = offset_;
      do {
        end += utf8::invalid_sequence_length(text_.substr(end));
      } while (end < text_.size() && utf8::decode_at(text_, end) < 0);
      piece = text_.substr(offset_, end - offset_);
      offset_ = run_begin_ = run_end_ = end;
      return true;
    }
    run_begin_ = offset_;
    run_end_ = offset_ + valid;
    run_has_newer_characters_ =
        may_hold_newer_characters(text_.substr(run_begin_, valid), pretokenizer_.regex_->newer_starts);
  }
  if (match_data_ == nullptr) {
    match_data_ = pcre2_match_data_create(1, nullptr);
    if (match_data_ == nullptr) throw std::bad_alloc();
  }
  auto* match = static_cast<pcre2_match_data*>(match_data_);
  const Pattern& pattern =
      run_has_newer_characters_ ? pretokenizer_.regex_->exact : pretokenizer_.regex_->familiar;
  // The subject is the valid run alone, so that the lookahead of \s+(?!\S) ends where the run ends.
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text_.data() + run_begin_);
  const std::size_t length = run_end_ - run_begin_;
  const std::size_t start = offset_ - run_begin_;
  int rc = pattern.jit
               ? pcre2_jit_match(pattern.code, subject, length, start, 0, match, nullptr)
               : pcre2_match(pattern.code, subject, length, start, PCRE2_NO_UTF_CHECK, match, nullptr);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {  // the interpreter keeps its backtracking state on the heap
    rc = pcre2_match(pattern.code, subject, length, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match, nullptr);
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
  std::size_t end = start;
  if (rc > 0 && ovector[0] == start && ovector[1] > start) end = ovector[1];
  if (end == start) {
    // Unreachable for this pattern (it matches at every character); should a resource limit stop PCRE2, the
    // rest is still split, one character at a time, rather than lost.
    end = start + 1;
    while (end < length && (subject[end] & 0xC0) == 0x80) ++end;
  }
  piece = text_.substr(offset_, end - start);
  offset_ = run_begin_ + end;
  return true;
}

void ByteLevelPreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces) const {
  Cursor cursor(*this, text);
  std::string_view piece;
  while (cursor.next(piece)) pieces.push_back(piece);
}

std::vector<std::string_view> ByteLevelPreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  split(text, pieces);
  return pieces;
}

}  // namespace minimind
