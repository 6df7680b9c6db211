// Token shard writing (streamed to a temporary file, header last, then renamed) and reading (memory-mapped,
// every size checked against the file before it is used). The layout is documented in token_shard.h.
#include "data/token_shard.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <string>
#include <system_error>

#include "io/crc32c.h"

namespace minimind {

static_assert(std::endian::native == std::endian::little, "token shards are read and written little-endian");

namespace {

constexpr size_t kBufferBytes = size_t{1} << 20;
constexpr uint32_t kFlagLossMask = 1u;

// Header field offsets (see token_shard.h).
constexpr size_t kVersionAt = 8, kTokenBytesAt = 12, kFlagsAt = 16, kVocabAt = 20, kTokenCountAt = 24,
                 kDocumentCountAt = 32, kFileBytesAt = 40, kPayloadCrcAt = 48, kReservedAt = 52,
                 kHeaderCrcAt = 60;

uint64_t align8(uint64_t value) {
  return (value + 7) & ~uint64_t{7};
}

template <typename T>
T load(const std::byte* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}
template <typename T>
void store(std::byte* at, T value) {
  std::memcpy(at, &value, sizeof value);
}

constexpr const char* kWriterName = "token shard writer";

[[noreturn]] void fail_io(const std::filesystem::path& path, const std::string& step, int error) {
  throw std::system_error(error, std::generic_category(),
                          std::string(kWriterName) + ": " + path.string() + ": " + step);
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

// The magic as printable text with escapes, for the error message.
std::string printable(const std::byte* bytes, size_t size) {
  std::string text;
  for (size_t i = 0; i < size; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '"') {
      text += static_cast<char>(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      text += escaped;
    }
  }
  return text;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// TokenSpan

TokenSpan TokenSpan::subspan(size_t offset, size_t count) const {
  if (offset > size_ || count > size_ - offset)
    throw std::out_of_range("TokenSpan::subspan: [" + std::to_string(offset) + ", +" + std::to_string(count) +
                            ") outside a span of " + std::to_string(size_) + " tokens");
  return TokenSpan(data_ + offset * static_cast<size_t>(bytes_), count, bytes_);
}

void TokenSpan::copy_to(std::span<int32_t> out) const {
  if (out.size() < size_)
    throw std::invalid_argument("TokenSpan::copy_to: the output holds " + std::to_string(out.size()) +
                                " ids, the span has " + std::to_string(size_));
  int32_t* destination = out.data();
  // The stored ids are aligned to their width (the file's sections are), so they are read in place.
  if (bytes_ == 2) {
    const auto* source = reinterpret_cast<const uint16_t*>(data_);
    for (size_t i = 0; i < size_; ++i) destination[i] = source[i];
  } else {
    const auto* source = reinterpret_cast<const uint32_t*>(data_);
    for (size_t i = 0; i < size_; ++i) destination[i] = static_cast<int32_t>(source[i]);
  }
}

std::vector<int32_t> TokenSpan::to_vector() const {
  std::vector<int32_t> ids(size_);
  copy_to(ids);
  return ids;
}

// ---------------------------------------------------------------------------------------------------------
// TokenShardWriter

TokenShardWriter::TokenShardWriter(std::filesystem::path path, TokenShardContent content)
    : path_(std::move(path)), content_(content), token_bytes_(token_bytes_for_vocab(content.vocab_size)) {
  if (content_.vocab_size == 0 || content_.vocab_size > kTokenShardMaxVocab)
    throw std::invalid_argument("token shard writer: " + path_.string() + ": vocab_size " +
                                std::to_string(content_.vocab_size) + " outside [1, 2^31]");
  file_.emplace(path_, kWriterName);
  try {
    if (content_.loss_mask) {
      // The mask goes after all tokens, so it waits in a second file; unlinked at once, it vanishes with the
      // writer whatever happens.
      const std::filesystem::path mask_path = file_->path().string() + ".mask";
      do {
        mask_fd_ = ::open(mask_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      } while (mask_fd_ < 0 && errno == EINTR);
      if (mask_fd_ < 0) fail_io(mask_path, "creating the loss mask file", errno);
      ::unlink(mask_path.c_str());
    }
    // A zero header until finish(): an interrupted file never carries the magic.
    const std::byte zeros[kTokenShardHeaderBytes] = {};
    file_->write(zeros, sizeof zeros);
  } catch (...) {  // the temporary file goes with file_
    if (mask_fd_ >= 0) ::close(mask_fd_);
    throw;
  }
  token_buffer_.reserve(kBufferBytes + 4);
  if (content_.loss_mask) mask_buffer_.reserve(kBufferBytes);
}

TokenShardWriter::~TokenShardWriter() {
  if (mask_fd_ >= 0) ::close(mask_fd_);
}

void TokenShardWriter::check_open(const char* call) const {
  if (state_ == State::finished)
    throw std::logic_error(std::string("token shard writer: ") + call + " after finish(): " + path_.string());
  if (state_ == State::failed)
    throw std::logic_error(std::string("token shard writer: ") + call +
                           " after an earlier write failed: " + path_.string());
}

void TokenShardWriter::add_document(std::span<const int32_t> ids, std::span<const uint8_t> loss_mask) {
  check_open("add_document");
  const std::string where =
      "token shard writer: " + path_.string() + ": document " + std::to_string(document_count());
  if (ids.empty()) throw std::invalid_argument(where + ": a document needs at least one token");
  if (content_.loss_mask && loss_mask.size() != ids.size())
    throw std::invalid_argument(where + ": the shard has a loss mask; expected one of " +
                                std::to_string(ids.size()) + " values, found " +
                                std::to_string(loss_mask.size()));
  if (!content_.loss_mask && !loss_mask.empty())
    throw std::invalid_argument(where + ": a loss mask was given but the shard was opened without one");
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<uint32_t>(ids[i]) >= content_.vocab_size)
      throw std::invalid_argument(where + ": id " + std::to_string(ids[i]) + " at position " +
                                  std::to_string(i) + " outside [0, vocab_size " +
                                  std::to_string(content_.vocab_size) + ")");
  }
  for (size_t i = 0; i < loss_mask.size(); ++i) {
    if (loss_mask[i] > 1)
      throw std::invalid_argument(where + ": loss mask value " + std::to_string(loss_mask[i]) +
                                  " at position " + std::to_string(i) + " is neither 0 nor 1");
  }

  try {
    size_t written = 0;
    while (written < ids.size()) {
      const size_t room = (kBufferBytes - token_buffer_.size()) / static_cast<size_t>(token_bytes_);
      const size_t count = std::min(room, ids.size() - written);
      const size_t start = token_buffer_.size();
      token_buffer_.resize(start + count * static_cast<size_t>(token_bytes_));
      std::byte* out = token_buffer_.data() + start;
      if (token_bytes_ == 2) {
        for (size_t i = 0; i < count; ++i) store(out + 2 * i, static_cast<uint16_t>(ids[written + i]));
      } else {
        for (size_t i = 0; i < count; ++i) store(out + 4 * i, static_cast<uint32_t>(ids[written + i]));
      }
      written += count;
      if (token_buffer_.size() + static_cast<size_t>(token_bytes_) > kBufferBytes) flush_tokens();
    }
    size_t masked = 0;
    while (masked < loss_mask.size()) {
      const size_t count = std::min(kBufferBytes - mask_buffer_.size(), loss_mask.size() - masked);
      mask_buffer_.insert(mask_buffer_.end(), loss_mask.begin() + static_cast<ptrdiff_t>(masked),
                          loss_mask.begin() + static_cast<ptrdiff_t>(masked + count));
      masked += count;
      if (mask_buffer_.size() == kBufferBytes) flush_mask();
    }
  } catch (...) {
    state_ = State::failed;
    throw;
  }
  token_count_ += ids.size();
  offsets_.push_back(token_count_);
}

void TokenShardWriter::flush_tokens() {
  if (token_buffer_.empty()) return;
  payload_crc_ = crc32c(token_buffer_, payload_crc_);
  file_->write(token_buffer_.data(), token_buffer_.size());
  token_buffer_.clear();
}

void TokenShardWriter::flush_mask() {
  if (mask_buffer_.empty()) return;
  if (const int error = write_fully(mask_fd_, mask_buffer_.data(), mask_buffer_.size()); error != 0)
    fail_io(file_->path().string() + ".mask", "write", error);
  mask_buffer_.clear();
}

void TokenShardWriter::finish() {
  check_open("finish");
  try {
    flush_tokens();
    uint64_t position = kTokenShardHeaderBytes + token_count_ * static_cast<uint64_t>(token_bytes_);

    if (content_.loss_mask) {
      // Copy the mask into place, extending the payload checksum over it in file order.
      flush_mask();
      const std::filesystem::path mask_path = file_->path().string() + ".mask";
      if (::lseek(mask_fd_, 0, SEEK_SET) != 0) fail_io(mask_path, "seek", errno);
      std::vector<std::byte> chunk(kBufferBytes);
      uint64_t copied = 0;
      while (copied < token_count_) {
        const ssize_t got = ::read(mask_fd_, chunk.data(), chunk.size());
        if (got < 0) {
          if (errno == EINTR) continue;
          fail_io(mask_path, "read", errno);
        }
        if (got == 0) fail_io(mask_path, "read (the loss mask file ended early)", EIO);
        payload_crc_ = crc32c(chunk.data(), static_cast<size_t>(got), payload_crc_);
        file_->write(chunk.data(), static_cast<size_t>(got));
        copied += static_cast<uint64_t>(got);
      }
      position += token_count_;
    }

    const std::byte zeros[8] = {};
    const size_t padding = static_cast<size_t>(align8(position) - position);
    payload_crc_ = crc32c(zeros, padding, payload_crc_);
    file_->write(zeros, padding);
    position += padding;

    const size_t offsets_bytes = offsets_.size() * sizeof(uint64_t);
    payload_crc_ = crc32c(offsets_.data(), offsets_bytes, payload_crc_);
    file_->write(offsets_.data(), offsets_bytes);
    position += offsets_bytes;

    std::byte header[kTokenShardHeaderBytes] = {};
    std::memcpy(header, kTokenShardMagic, sizeof kTokenShardMagic);
    store(header + kVersionAt, kTokenShardVersion);
    store(header + kTokenBytesAt, static_cast<uint32_t>(token_bytes_));
    store(header + kFlagsAt, content_.loss_mask ? kFlagLossMask : 0u);
    store(header + kVocabAt, content_.vocab_size);
    store(header + kTokenCountAt, token_count_);
    store(header + kDocumentCountAt, document_count());
    store(header + kFileBytesAt, position);
    store(header + kPayloadCrcAt, payload_crc_);
    store(header + kHeaderCrcAt, crc32c(header, kHeaderCrcAt));
    for (size_t done = 0; done < sizeof header;) {
      const ssize_t written =
          ::pwrite(file_->fd(), header + done, sizeof header - done, static_cast<off_t>(done));
      if (written < 0) {
        if (errno == EINTR) continue;
        fail_io(file_->path(), "writing the header", errno);
      }
      done += static_cast<size_t>(written);
    }

    file_->commit();
  } catch (...) {
    // Renamed but the directory not synced: the shard is complete, the error still reported.
    state_ = file_->renamed() ? State::finished : State::failed;
    throw;
  }
  state_ = State::finished;
  if (mask_fd_ >= 0) {
    ::close(mask_fd_);
    mask_fd_ = -1;
  }
  token_buffer_ = {};
  mask_buffer_ = {};
}

// ---------------------------------------------------------------------------------------------------------
// TokenShard

TokenShard TokenShard::open(const std::filesystem::path& path, TokenShardOpenOptions options) {
  TokenShard shard;
  shard.map_ = MemoryMap::open(path, options.verify_payload ? MemoryMap::Access::sequential : options.access);
  const std::byte* base = shard.map_.data();
  const uint64_t size = shard.map_.size();
  const auto error = [&](const std::string& field, const std::string& problem) {
    return TokenShardError("token shard " + path.string() + ": " + field + ": " + problem);
  };

  // The header: identity first, then its checksum, then the meaning of each field.
  if (size < kTokenShardHeaderBytes)
    throw error("header", "truncated: the file has " + std::to_string(size) +
                              " bytes, the header alone needs " + std::to_string(kTokenShardHeaderBytes));
  if (std::memcmp(base, kTokenShardMagic, sizeof kTokenShardMagic) != 0)
    throw error("magic", "not a token shard: expected \"MMSHARD1\", found \"" + printable(base, 8) + "\"");
  const auto version = load<uint32_t>(base + kVersionAt);
  if (version != kTokenShardVersion)
    throw error("version", "unsupported version " + std::to_string(version) + " (this build reads version " +
                               std::to_string(kTokenShardVersion) + ")");
  const auto stored_header_crc = load<uint32_t>(base + kHeaderCrcAt);
  const uint32_t header_crc = crc32c(base, kHeaderCrcAt);
  if (stored_header_crc != header_crc)
    throw error("header_crc32c", "checksum mismatch: stored " + hex32(stored_header_crc) + ", computed " +
                                     hex32(header_crc) + "; the header is corrupt");

  const auto token_bytes = load<uint32_t>(base + kTokenBytesAt);
  const auto flags = load<uint32_t>(base + kFlagsAt);
  const auto vocab_size = load<uint32_t>(base + kVocabAt);
  const auto token_count = load<uint64_t>(base + kTokenCountAt);
  const auto document_count = load<uint64_t>(base + kDocumentCountAt);
  const auto file_bytes = load<uint64_t>(base + kFileBytesAt);
  const auto stored_payload_crc = load<uint32_t>(base + kPayloadCrcAt);
  if (vocab_size == 0 || vocab_size > kTokenShardMaxVocab)
    throw error("vocab_size", std::to_string(vocab_size) + " outside [1, 2^31]");
  if (token_bytes != 2 && token_bytes != 4)
    throw error("token_bytes", std::to_string(token_bytes) + " is neither 2 (uint16) nor 4 (uint32)");
  if (static_cast<int>(token_bytes) != token_bytes_for_vocab(vocab_size))
    throw error("token_bytes", std::to_string(token_bytes) + " does not match vocab_size " +
                                   std::to_string(vocab_size) + " (expected " +
                                   std::to_string(token_bytes_for_vocab(vocab_size)) + ")");
  if ((flags & ~kFlagLossMask) != 0) throw error("flags", "unknown bits set in " + hex32(flags));
  if (load<uint64_t>(base + kReservedAt) != 0) throw error("reserved", "bytes 52..59 must be zero");
  const bool has_mask = (flags & kFlagLossMask) != 0;

  // Sizes: the file's actual size first (truncation is the common damage), then whether the counts fill
  // exactly that size. Each count is bounded by the size before it is multiplied, so nothing overflows.
  if (file_bytes != size)
    throw error("file_bytes", "the header says " + std::to_string(file_bytes) + " bytes, the file has " +
                                  std::to_string(size) +
                                  (size < file_bytes ? " (truncated)" : " (trailing data)"));
  const uint64_t per_token = token_bytes + (has_mask ? 1 : 0);
  if (token_count > (size - kTokenShardHeaderBytes) / per_token)
    throw error("token_count", std::to_string(token_count) + " tokens of " + std::to_string(per_token) +
                                   " bytes do not fit in a file of " + std::to_string(size) + " bytes");
  const uint64_t tokens_end = kTokenShardHeaderBytes + token_count * token_bytes;
  const uint64_t mask_end = tokens_end + (has_mask ? token_count : 0);
  const uint64_t offsets_begin = align8(mask_end);
  if (document_count >= size / 8 || offsets_begin + (document_count + 1) * 8 > size)
    throw error("document_count", std::to_string(document_count) + " documents (with token_count " +
                                      std::to_string(token_count) + ") do not fit in a file of " +
                                      std::to_string(size) + " bytes");
  const uint64_t expected_bytes = offsets_begin + (document_count + 1) * 8;
  if (expected_bytes != size)
    throw error("token_count", "token_count " + std::to_string(token_count) + " and document_count " +
                                   std::to_string(document_count) + " describe a file of " +
                                   std::to_string(expected_bytes) + " bytes, the file has " +
                                   std::to_string(size));

  if (options.verify_payload) {
    const uint32_t payload_crc =
        crc32c(base + kTokenShardHeaderBytes, static_cast<size_t>(size - kTokenShardHeaderBytes));
    if (payload_crc != stored_payload_crc)
      throw error("payload_crc32c", "checksum mismatch: stored " + hex32(stored_payload_crc) + ", computed " +
                                        hex32(payload_crc) + "; the tokens, mask or offsets are corrupt");
  }

  // Document offsets: every document must lie inside the tokens (checked whatever the options, as every
  // later access relies on it).
  const auto* offsets = reinterpret_cast<const uint64_t*>(base + offsets_begin);
  if (offsets[0] != 0) throw error("document_offsets[0]", std::to_string(offsets[0]) + ", expected 0");
  for (uint64_t i = 1; i <= document_count; ++i) {
    if (offsets[i] < offsets[i - 1])
      throw error("document_offsets[" + std::to_string(i) + "]",
                  std::to_string(offsets[i]) + " is below the previous offset " +
                      std::to_string(offsets[i - 1]) + " (offsets must not decrease)");
  }
  if (offsets[document_count] != token_count)
    throw error(
        "document_offsets[" + std::to_string(document_count) + "]",
        std::to_string(offsets[document_count]) + ", expected token_count " + std::to_string(token_count));

  const auto* mask = reinterpret_cast<const uint8_t*>(base + tokens_end);
  if (options.verify_payload) {
    for (uint64_t at = mask_end; at < offsets_begin; ++at)
      if (base[at] != std::byte{0}) throw error("padding", "byte " + std::to_string(at) + " is not zero");
    if (vocab_size < (uint64_t{1} << (8 * token_bytes))) {
      // One vectorizable pass for the largest id; the slow search for its position only on failure.
      uint32_t largest = 0;
      if (token_bytes == 2) {
        const auto* ids = reinterpret_cast<const uint16_t*>(base + kTokenShardHeaderBytes);
        for (uint64_t i = 0; i < token_count; ++i) largest = std::max<uint32_t>(largest, ids[i]);
      } else {
        const auto* ids = reinterpret_cast<const uint32_t*>(base + kTokenShardHeaderBytes);
        for (uint64_t i = 0; i < token_count; ++i) largest = std::max(largest, ids[i]);
      }
      if (largest >= vocab_size) {
        const TokenSpan ids(base + kTokenShardHeaderBytes, token_count, static_cast<int>(token_bytes));
        uint64_t i = 0;
        while (static_cast<uint32_t>(ids[i]) < vocab_size) ++i;
        throw error("tokens[" + std::to_string(i) + "]",
                    "id " + std::to_string(static_cast<uint32_t>(ids[i])) + " is not below vocab_size " +
                        std::to_string(vocab_size));
      }
    }
    if (has_mask) {
      uint8_t largest = 0;
      for (uint64_t i = 0; i < token_count; ++i) largest = std::max(largest, mask[i]);
      if (largest > 1) {
        uint64_t i = 0;
        while (mask[i] <= 1) ++i;
        throw error("loss_mask[" + std::to_string(i) + "]",
                    "value " + std::to_string(mask[i]) + " is neither 0 nor 1");
      }
    }
    shard.map_.advise(options.access);
  }

  shard.vocab_size_ = vocab_size;
  shard.token_bytes_ = static_cast<int>(token_bytes);
  shard.has_mask_flag_ = has_mask;
  shard.token_count_ = token_count;
  shard.tokens_ = TokenSpan(base + kTokenShardHeaderBytes, token_count, static_cast<int>(token_bytes));
  if (has_mask) shard.loss_mask_ = {mask, static_cast<size_t>(token_count)};
  shard.offsets_ = {offsets, static_cast<size_t>(document_count + 1)};
  return shard;
}

void TokenShard::check_index(uint64_t index) const {
  if (index >= document_count())
    throw std::out_of_range("token shard " + path().string() + ": document " + std::to_string(index) +
                            " requested, the shard has " + std::to_string(document_count()));
}

TokenSpan TokenShard::document(uint64_t index) const {
  check_index(index);
  return tokens_.subspan(offsets_[index], offsets_[index + 1] - offsets_[index]);
}

std::span<const uint8_t> TokenShard::loss_mask(uint64_t index) const {
  check_index(index);
  if (loss_mask_.empty()) return {};
  return loss_mask_.subspan(offsets_[index], offsets_[index + 1] - offsets_[index]);
}

uint64_t TokenShard::document_size(uint64_t index) const {
  check_index(index);
  return offsets_[index + 1] - offsets_[index];
}

}  // namespace minimind
