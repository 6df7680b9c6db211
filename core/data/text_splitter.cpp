// The recursive character splitter, following LangChain's RecursiveCharacterTextSplitter (langchain-text-
// splitters 1.1: character.py _split_text and _split_text_with_regex, base.py _merge_splits) with the
// defaults MiniMind's preparation leaves in place. The details followed, so that both give the same chunks:
// - Lengths are Python's len(): code points. keep_separator is True ("start"): a separator stays at the front
//   of the piece that follows it, and pieces are merged back with nothing between them.
// - The separator for a text is the first of the remaining ones that occurs in it; the empty separator stops
//   the search and splits between characters. When none occurs, the last separator of the whole list is used
//   and nothing is left to recurse with. Separators are literal strings, never regular expressions.
// - A piece is small when its length is < chunk_size (strictly). Runs of small pieces are merged; a larger
//   piece is split again with the separators after the one chosen, or kept whole, unstripped, when none are
//   left.
// - Merging (_merge_splits): pieces join a window while it fits in chunk_size; when the next one does not
// fit,
//   the window is emitted and pieces leave its front while it is longer than chunk_overlap or the next piece
//   still does not fit.
// - strip_whitespace is True: each merged chunk is stripped of Python's str.isspace() characters and dropped
//   when nothing is left.
#include "data/text_splitter.h"

#include <stdexcept>
#include <utility>

#include "text/utf8.h"

namespace minimind {
namespace {

// Python's str.isspace(): the code points str.strip() removes.
bool is_python_whitespace(int32_t code_point) {
  if (code_point >= 0x09 && code_point <= 0x0D) return true;
  if (code_point >= 0x1C && code_point <= 0x20) return true;
  if (code_point < 0x85) return false;
  if (code_point == 0x85 || code_point == 0xA0 || code_point == 0x1680) return true;
  if (code_point >= 0x2000 && code_point <= 0x200A) return true;
  return code_point == 0x2028 || code_point == 0x2029 || code_point == 0x202F || code_point == 0x205F ||
         code_point == 0x3000;
}

std::string_view strip_whitespace(std::string_view text) {
  size_t begin = text.size();
  size_t end = 0;
  for (size_t position = 0; position < text.size();) {
    const size_t length = utf8::character_length(text, position);
    if (!is_python_whitespace(utf8::decode_at(text, position))) {
      if (begin == text.size()) begin = position;
      end = position + length;
    }
    position += length;
  }
  return begin < end ? text.substr(begin, end - begin) : std::string_view();
}

}  // namespace

std::vector<std::string> TextSplitter::default_separators() {
  return {"\n\n", "\n", "。", "，", " ", ""};
}

TextSplitter::TextSplitter(int64_t chunk_size, int64_t chunk_overlap, std::vector<std::string> separators)
    : chunk_size_(chunk_size), chunk_overlap_(chunk_overlap), separators_(std::move(separators)) {
  if (chunk_size_ <= 0) {
    throw std::invalid_argument("TextSplitter: chunk_size must be > 0, got " + std::to_string(chunk_size_));
  }
  if (chunk_overlap_ < 0 || chunk_overlap_ > chunk_size_) {
    throw std::invalid_argument("TextSplitter: chunk_overlap must lie in [0, chunk_size = " +
                                std::to_string(chunk_size_) + "], got " + std::to_string(chunk_overlap_));
  }
  if (separators_.empty()) throw std::invalid_argument("TextSplitter: the separator list is empty");
}

std::vector<std::string> TextSplitter::split(std::string_view text) const {
  std::vector<std::string> chunks;
  split_recursive(text, 0, chunks);
  return chunks;
}

void TextSplitter::split_recursive(std::string_view text, size_t first_separator,
                                   std::vector<std::string>& chunks) const {
  // Choose the separator; `next_separator` is where the recursion continues (separators_.size(): nowhere).
  std::string_view separator = separators_.back();
  size_t next_separator = separators_.size();
  for (size_t i = first_separator; i < separators_.size(); ++i) {
    if (separators_[i].empty()) {
      separator = {};
      break;
    }
    if (text.find(separators_[i]) != std::string_view::npos) {
      separator = separators_[i];
      next_separator = i + 1;
      break;
    }
  }

  // Cut before every occurrence of the separator (it begins the piece after it); drop empty pieces.
  std::vector<Piece> pieces;
  auto add_piece = [&](size_t begin, size_t end) {
    if (end > begin) {
      const std::string_view piece = text.substr(begin, end - begin);
      pieces.push_back({piece, utf8::count_characters(piece)});
    }
  };
  if (separator.empty()) {
    for (size_t position = 0; position < text.size();) {
      const size_t length = utf8::character_length(text, position);
      pieces.push_back({text.substr(position, length), 1});
      position += length;
    }
  } else {
    size_t piece_begin = 0;
    for (size_t found = text.find(separator); found != std::string_view::npos;
         found = text.find(separator, found + separator.size())) {
      add_piece(piece_begin, found);
      piece_begin = found;
    }
    add_piece(piece_begin, text.size());
  }

  std::vector<Piece> small_pieces;
  for (const Piece& piece : pieces) {
    if (piece.characters < chunk_size_) {
      small_pieces.push_back(piece);
      continue;
    }
    if (!small_pieces.empty()) {
      merge_pieces(small_pieces, chunks);
      small_pieces.clear();
    }
    if (next_separator == separators_.size()) {
      chunks.emplace_back(piece.text);
    } else {
      split_recursive(piece.text, next_separator, chunks);
    }
  }
  if (!small_pieces.empty()) merge_pieces(small_pieces, chunks);
}

void TextSplitter::merge_pieces(const std::vector<Piece>& pieces, std::vector<std::string>& chunks) const {
  // The window is pieces[window_begin, i), `total` characters long.
  size_t window_begin = 0;
  int64_t total = 0;
  auto emit_window = [&](size_t window_end) {
    std::string joined;
    for (size_t j = window_begin; j < window_end; ++j) joined += pieces[j].text;
    const std::string_view stripped = strip_whitespace(joined);
    if (!stripped.empty()) chunks.emplace_back(stripped);
  };
  for (size_t i = 0; i < pieces.size(); ++i) {
    const int64_t length = pieces[i].characters;
    if (total + length > chunk_size_ && window_begin < i) {
      emit_window(i);
      while (total > chunk_overlap_ || (total + length > chunk_size_ && total > 0)) {
        total -= pieces[window_begin].characters;
        ++window_begin;
      }
    }
    total += length;
  }
  if (window_begin < pieces.size()) emit_window(pieces.size());
}

}  // namespace minimind
