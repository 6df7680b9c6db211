// The GPT-2 split through PCRE2. Two details keep it identical to Hugging Face's Oniguruma regex:
// - \s is spelled out as Oniguruma's Unicode \s (tab to carriage return, U+0085 and the separators \p{Z});
//   PCRE2's own \s also holds U+180E, which Oniguruma does not count as space.
// - PCRE2 10.42 knows Unicode 14, while the Oniguruma inside tokenizers 0.23 knows Unicode 16: the letters
//   and digits assigned since then are added to \p{L} and \p{N} below. The ranges are where the classes
//   tokenizers gives every code point (code_point_classes in the tokenizer test fixture, probed by
//   experiments/tokenizer/make_tokenizer_fixtures.py) differ from PCRE2's; a test checks every code point of
//   the Basic Multilingual Plane and each class boundary beyond it. They stay right once PCRE2 knows them.
#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "text/utf8.h"

namespace minimind {
namespace {

constexpr const char* kSpace = R"(\t-\r\x{85}\p{Z})";
constexpr const char* kNewerLetters =
    R"(\x{1C89}-\x{1C8A}\x{A7CB}-\x{A7CD}\x{A7DA}-\x{A7DC}\x{105C0}-\x{105F3}\x{10D4A}-\x{10D65})"
    R"(\x{10D6F}-\x{10D85}\x{10EC2}-\x{10EC4}\x{1123F}-\x{11240}\x{11380}-\x{11389}\x{1138B}\x{1138E})"
    R"(\x{11390}-\x{113B5}\x{113B7}\x{113D1}\x{113D3}\x{11BC0}-\x{11BE0}\x{11F02}\x{11F04}-\x{11F10})"
    R"(\x{11F12}-\x{11F33}\x{1342F}\x{13441}-\x{13446}\x{13460}-\x{143FA}\x{16100}-\x{1611D})"
    R"(\x{16D40}-\x{16D6C}\x{18CFF}\x{1B132}\x{1B155}\x{1DF25}-\x{1DF2A}\x{1E030}-\x{1E06D})"
    R"(\x{1E4D0}-\x{1E4EB}\x{1E5D0}-\x{1E5ED}\x{1E5F0}\x{2B739}\x{2EBF0}-\x{2EE5D}\x{31350}-\x{323AF})";
constexpr const char* kNewerNumbers =
    R"(\x{10D40}-\x{10D49}\x{116D0}-\x{116E3}\x{11BF0}-\x{11BF9}\x{11F50}-\x{11F59}\x{16130}-\x{16139})"
    R"(\x{16D70}-\x{16D79}\x{1CCF0}-\x{1CCF9}\x{1D2C0}-\x{1D2D3}\x{1E4F0}-\x{1E4F9}\x{1E5F1}-\x{1E5FA})";

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ with the classes above.
std::string gpt2_pattern() {
  const std::string space = kSpace;
  const std::string letter = std::string(R"(\p{L})") + kNewerLetters;
  const std::string number = std::string(R"(\p{N})") + kNewerNumbers;
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

}  // namespace

struct ByteLevelPreTokenizer::Regex {
  pcre2_code* code = nullptr;  // the GPT-2 split
  bool jit = false;
  pcre2_code* word = nullptr;  // one word character
  ~Regex() {
    pcre2_code_free(code);
    pcre2_code_free(word);
  }
};

ByteLevelPreTokenizer::ByteLevelPreTokenizer() : regex_(std::make_unique<Regex>()) {
  // Anchored: every character starts some alternative, so each match begins where the previous one ended.
  regex_->code = compile(gpt2_pattern(), PCRE2_ANCHORED);
  regex_->jit = pcre2_jit_compile(regex_->code, PCRE2_JIT_COMPLETE) == 0;
  regex_->word = compile(R"([\p{L}\p{Nl}\p{Nd}\p{M}\p{Pc}\x{200C}\x{200D}])", PCRE2_ANCHORED);
}

ByteLevelPreTokenizer::~ByteLevelPreTokenizer() = default;
ByteLevelPreTokenizer::ByteLevelPreTokenizer(ByteLevelPreTokenizer&&) noexcept = default;
ByteLevelPreTokenizer& ByteLevelPreTokenizer::operator=(ByteLevelPreTokenizer&&) noexcept = default;

bool ByteLevelPreTokenizer::uses_jit() const {
  return regex_->jit;
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
  }
  if (match_data_ == nullptr) {
    match_data_ = pcre2_match_data_create(1, nullptr);
    if (match_data_ == nullptr) throw std::bad_alloc();
  }
  auto* match = static_cast<pcre2_match_data*>(match_data_);
  const Regex& regex = *pretokenizer_.regex_;
  // The subject is the valid run alone, so that the lookahead of \s+(?!\S) ends where the run ends.
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text_.data() + run_begin_);
  const std::size_t length = run_end_ - run_begin_;
  const std::size_t start = offset_ - run_begin_;
  int rc = regex.jit ? pcre2_jit_match(regex.code, subject, length, start, 0, match, nullptr)
                     : pcre2_match(regex.code, subject, length, start, PCRE2_NO_UTF_CHECK, match, nullptr);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {  // the interpreter keeps its backtracking state on the heap
    rc = pcre2_match(regex.code, subject, length, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match, nullptr);
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
