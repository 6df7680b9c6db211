// Token shards: tokenized documents in a small binary file, written once in a stream and read back through a
// memory map without copying. Format version 1, all integers little-endian:
//
//   offset  size  field
//        0     8  magic "MMSHARD1"
//        8     4  version (1)
//       12     4  token_bytes: 2 (uint16 ids) when vocab_size <= 65536, else 4 (uint32 ids)
//       16     4  flags: bit 0 = a loss mask is present (SFT); other bits are 0
//       20     4  vocab_size (1 .. 2^31); every id is < vocab_size
//       24     8  token_count
//       32     8  document_count
//       40     8  file_bytes: the size of the whole file
//       48     4  payload_crc32c: CRC-32C of bytes [64, file_bytes)
//       52     8  reserved, 0
//       60     4  header_crc32c: CRC-32C of bytes [0, 60)
//       64        tokens: token_count ids of token_bytes each, all documents back to back
//                 loss mask (flag bit 0 only): token_count bytes, 1 = the token is scored as a target, else 0
//                 zero padding to a multiple of 8 bytes
//                 document offsets: document_count + 1 uint64 token indices; offsets[0] = 0, non-decreasing,
//                 offsets[document_count] = token_count; document i is tokens [offsets[i], offsets[i + 1])
//
// Every section lies at its natural alignment. Opening checks the header (magic, version, checksum, fields),
// that the sizes it implies equal the file's size, and the document offsets, before any token is read; with
// payload verification (the default) it also checks the payload checksum, that every id is below vocab_size
// and every mask byte is 0 or 1. A damaged file is a TokenShardError naming the file and the field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include "io/atomic_file.h"
#include "io/memory_map.h"

namespace minimind {

class TokenShardError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr char kTokenShardMagic[8] = {'M', 'M', 'S', 'H', 'A', 'R', 'D', '1'};
inline constexpr uint32_t kTokenShardVersion = 1;
inline constexpr size_t kTokenShardHeaderBytes = 64;
inline constexpr uint32_t kTokenShardMaxVocab = uint32_t{1} << 31;  // ids are int32 in the lab

// The width of a stored id for a vocabulary: 2 bytes up to 65536 entries, else 4.
inline int token_bytes_for_vocab(uint32_t vocab_size) {
  return vocab_size <= 65536 ? 2 : 4;
}

// A read-only view of stored ids (uint16 or uint32), read as int32.
class TokenSpan {
 public:
  TokenSpan() = default;
  TokenSpan(const std::byte* data, size_t size, int token_bytes)
      : data_(data), size_(size), bytes_(token_bytes) {}

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int token_bytes() const { return bytes_; }
  const std::byte* data() const { return data_; }  // the stored ids, size() * token_bytes() bytes
  int32_t operator[](size_t index) const {
    if (bytes_ == 2) {
      uint16_t id;
      std::memcpy(&id, data_ + index * 2, 2);
      return id;
    }
    uint32_t id;
    std::memcpy(&id, data_ + index * 4, 4);
    return static_cast<int32_t>(id);
  }
  TokenSpan subspan(size_t offset, size_t count) const;  // throws std::out_of_range past the end
  // Widens size() ids into out[0, size()); out must hold at least size() values.
  void copy_to(std::span<int32_t> out) const;
  std::vector<int32_t> to_vector() const;

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  int bytes_ = 2;
};

struct TokenShardContent {
  uint32_t vocab_size = 0;
  bool loss_mask = false;  // SFT: every document carries a per-token loss mask
};

// Writes a shard document by document. Tokens stream to a temporary file beside the target (and the loss mask
// to a second, already unlinked one); finish() writes the header last, flushes to disk and renames the file
// over the target. A writer destroyed without finish() removes its temporary file: no file that looks
// complete is ever left behind, and the target keeps its previous contents.
class TokenShardWriter {
 public:
  TokenShardWriter(std::filesystem::path path, TokenShardContent content);
  ~TokenShardWriter();
  TokenShardWriter(const TokenShardWriter&) = delete;
  TokenShardWriter& operator=(const TokenShardWriter&) = delete;

  // Appends one document. Refused with std::invalid_argument (and nothing written) for: no ids, an id outside
  // [0, vocab_size), a loss mask on a shard without one or its absence on a shard with one, a mask whose
  // length differs from the ids', a mask value other than 0 or 1. I/O failures throw std::runtime_error.
  void add_document(std::span<const int32_t> ids, std::span<const uint8_t> loss_mask = {});
  // Completes the file at the target path; the writer accepts nothing afterwards (std::logic_error).
  void finish();

  const std::filesystem::path& path() const { return path_; }
  const TokenShardContent& content() const { return content_; }
  uint64_t token_count() const { return token_count_; }
  uint64_t document_count() const { return offsets_.size() - 1; }
  bool finished() const { return state_ == State::finished; }

 private:
  enum class State { open, finished, failed };
  void flush_tokens();
  void flush_mask();
  void check_open(const char* call) const;

  std::filesystem::path path_;
  TokenShardContent content_;
  int token_bytes_;
  std::optional<AtomicFile> file_;  // created once the arguments are checked
  int mask_fd_ = -1;
  State state_ = State::open;
  uint64_t token_count_ = 0;
  uint32_t payload_crc_ = 0;  // running CRC of the tokens written so far
  std::vector<std::byte> token_buffer_;
  std::vector<uint8_t> mask_buffer_;
  std::vector<uint64_t> offsets_{0};
};

struct TokenShardOpenOptions {
  // Check the payload checksum, the ids and the mask bytes (one pass over the file). Without it only the
  // header, the sizes and the document offsets are checked, which is enough for memory safety.
  bool verify_payload = true;
  MemoryMap::Access access = MemoryMap::Access::normal;  // the read-ahead hint after opening
};

class TokenShard {
 public:
  // Throws TokenShardError naming the path and the field for a damaged file, std::system_error when the
  // file cannot be read.
  static TokenShard open(const std::filesystem::path& path, TokenShardOpenOptions options = {});

  const std::filesystem::path& path() const { return map_.path(); }
  uint32_t vocab_size() const { return vocab_size_; }
  int token_bytes() const { return token_bytes_; }
  bool has_loss_mask() const { return has_mask_flag_; }
  uint64_t token_count() const { return token_count_; }
  uint64_t document_count() const { return offsets_.size() - 1; }

  TokenSpan tokens() const { return tokens_; }
  std::span<const uint8_t> loss_mask() const { return loss_mask_; }  // empty without a mask
  std::span<const uint64_t> document_offsets() const { return offsets_; }
  // Document `index`'s ids and mask (empty without a mask); std::out_of_range past the last document.
  TokenSpan document(uint64_t index) const;
  std::span<const uint8_t> loss_mask(uint64_t index) const;
  uint64_t document_size(uint64_t index) const;

 private:
  TokenShard() = default;
  void check_index(uint64_t index) const;

  MemoryMap map_;
  uint32_t vocab_size_ = 0;
  int token_bytes_ = 2;
  bool has_mask_flag_ = false;
  uint64_t token_count_ = 0;
  TokenSpan tokens_;
  std::span<const uint8_t> loss_mask_;
  std::span<const uint64_t> offsets_;
};

}  // namespace minimind
