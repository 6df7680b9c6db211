// The ByteLevel pre-tokenizer's split: the GPT-2 regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// with Unicode letter, number and space classes, as Hugging Face tokenizers runs it (through Oniguruma),
// here compiled with PCRE2 (UTF + UCP, JIT when available). The pieces cover the text exactly, in order.
//
// Invalid UTF-8 (which Hugging Face cannot receive: its input is a Rust or Python string) is defined here:
// the text is cut into runs of valid UTF-8 and runs of invalid bytes (each invalid sequence as Rust's
// from_utf8_lossy delimits it: a truncated character or a single stray byte). Each valid run is split by the
// regex as if it were a text of its own; each run of invalid bytes is one piece. So "ab\xFFcd" gives "ab",
// "\xFF", "cd", and every byte of the input lies in exactly one piece.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace minimind {

class ByteLevelPreTokenizer {
 public:
  ByteLevelPreTokenizer();  // compiles the regex; throws std::runtime_error if PCRE2 refuses it
  ~ByteLevelPreTokenizer();
  ByteLevelPreTokenizer(ByteLevelPreTokenizer&&) noexcept;
  ByteLevelPreTokenizer& operator=(ByteLevelPreTokenizer&&) noexcept;

  // Walks the pieces of one text, one at a time, without collecting them: a cursor per text and per thread
  // (the pre-tokenizer itself may be shared by many threads). The text must outlive the cursor.
  class Cursor {
   public:
    Cursor(const ByteLevelPreTokenizer& pretokenizer, std::string_view text);
    ~Cursor();
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;
    // The next piece (a view into the text), or false at the end.
    bool next(std::string_view& piece);
    // Starts over on another text, keeping the match buffer.
    void reset(std::string_view text);

   private:
    const ByteLevelPreTokenizer& pretokenizer_;
    std::string_view text_;
    std::size_t offset_ = 0;     // where the next piece starts
    std::size_t run_begin_ = 0;  // the valid UTF-8 run being split: [run_begin_, run_end_)
    std::size_t run_end_ = 0;
    bool run_has_newer_characters_ = false;  // needs the classes with the letters PCRE2 does not know yet
    void* match_data_ = nullptr;             // pcre2_match_data, created on first use
  };

  // All the pieces of `text`, appended to `pieces` (views into `text`).
  void split(std::string_view text, std::vector<std::string_view>& pieces) const;
  std::vector<std::string_view> split(std::string_view text) const;

  bool uses_jit() const;

  // The character classes behind added tokens' single_word, lstrip and rstrip, as Hugging Face tests them
  // with the Rust regex crate's \w and \s: a word character (letters, marks, decimal digits, letter numbers,
  // connector punctuation, the joiners; close to Rust's class, which also holds a few alphabetic symbols)
  // and Unicode White_Space.
  bool is_word_character(char32_t code_point) const;
  static bool is_white_space(char32_t code_point);

 private:
  struct Regex;
  std::unique_ptr<Regex> regex_;
};

}  // namespace minimind
