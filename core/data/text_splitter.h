// Splits a long text into chunks of at most chunk_size characters that overlap by up to chunk_overlap
// characters, preferring to cut at paragraphs, then lines, then Chinese full stops and commas, then spaces:
// LangChain's RecursiveCharacterTextSplitter as MiniMind's corpus preparation uses it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace minimind {

class TextSplitter {
 public:
  // "\n\n", "\n", "。", "，", " ", "": the last, empty separator splits between characters.
  static std::vector<std::string> default_separators();

  // Sizes count characters (Unicode code points), never bytes. Throws std::invalid_argument unless
  // chunk_size > 0, 0 <= chunk_overlap <= chunk_size and separators is not empty.
  TextSplitter(int64_t chunk_size, int64_t chunk_overlap,
               std::vector<std::string> separators = default_separators());

  // The chunks in text order, each stripped of surrounding whitespace; whitespace-only chunks are dropped.
  // A chunk exceeds chunk_size only when no separator can cut it (the empty separator always can). Invalid
  // UTF-8 bytes are kept and count as one character each; no chunk boundary falls inside a character.
  std::vector<std::string> split(std::string_view text) const;

  int64_t chunk_size() const { return chunk_size_; }
  int64_t chunk_overlap() const { return chunk_overlap_; }
  const std::vector<std::string>& separators() const { return separators_; }

 private:
  struct Piece {
    std::string_view text;
    int64_t characters = 0;
  };

  void split_recursive(std::string_view text, size_t first_separator, std::vector<std::string>& chunks) const;
  void merge_pieces(const std::vector<Piece>& pieces, std::vector<std::string>& chunks) const;

  int64_t chunk_size_;
  int64_t chunk_overlap_;
  std::vector<std::string> separators_;
};

}  // namespace minimind
