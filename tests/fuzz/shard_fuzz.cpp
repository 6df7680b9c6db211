// libFuzzer target for the token shard reader: any file must either open into a shard whose documents and
// masks all lie inside the file's sections (and read back in full), or be refused with TokenShardError.
// Anything else -- a crash, a sanitizer report, another exception type, a span outside its section -- is a
// bug. The first input byte steers the run and the rest is the file: bit 0 reseals the header checksum and
// bit 1 the payload checksum (so that mutations reach the checks behind them), bit 2 skips payload
// verification (the structural checks alone must keep every access in bounds).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/token_shard.h"
#include "io/crc32c.h"

namespace {

// One scratch file per fuzzing process, removed at exit.
struct ScratchFile {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("minimind-shard-fuzz-" + std::to_string(::getpid()) + ".shard");
  ~ScratchFile() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
};

void check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace minimind;
  if (size == 0) return 0;
  const uint8_t control = data[0];
  std::vector<char> bytes(data + 1, data + size);
  if (bytes.size() >= kTokenShardHeaderBytes) {
    if (control & 2) {
      const uint32_t payload =
          crc32c(bytes.data() + kTokenShardHeaderBytes, bytes.size() - kTokenShardHeaderBytes);
      std::memcpy(bytes.data() + 48, &payload, 4);
    }
    if (control & 1) {
      const uint32_t header = crc32c(bytes.data(), 60);
      std::memcpy(bytes.data() + 60, &header, 4);
    }
  }
  static const ScratchFile scratch;
  {
    std::ofstream out(scratch.path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return 0;
  }

  const bool verify = (control & 4) == 0;
  try {
    const TokenShard shard = TokenShard::open(scratch.path, {.verify_payload = verify});
    const auto width = static_cast<uint64_t>(shard.token_bytes());
    const uint64_t tokens = shard.token_count();
    const uint64_t documents = shard.document_count();
    const TokenSpan all = shard.tokens();
    check(width == 2 || width == 4);
    check(all.size() == tokens && all.token_bytes() == shard.token_bytes());

    // The sections, measured from the tokens: they must end exactly at the end of the file.
    const uint64_t tokens_and_mask = tokens * width + (shard.has_loss_mask() ? tokens : 0);
    const uint64_t offsets_at = (tokens_and_mask + 7) / 8 * 8;
    check(kTokenShardHeaderBytes + offsets_at + (documents + 1) * 8 == bytes.size());
    check(reinterpret_cast<const std::byte*>(shard.document_offsets().data()) == all.data() + offsets_at);
    check(shard.document_offsets().size() == documents + 1);
    check(shard.loss_mask().size() == (shard.has_loss_mask() ? tokens : 0));
    if (shard.has_loss_mask())
      check(reinterpret_cast<const std::byte*>(shard.loss_mask().data()) == all.data() + tokens * width);

    uint64_t walked = 0;
    uint64_t checksum = 0;
    for (uint64_t i = 0; i < documents; ++i) {
      const TokenSpan document = shard.document(i);
      check(document.data() >= all.data() &&
            document.data() + document.size() * width <= all.data() + tokens * width);
      check(document.size() == shard.document_size(i));
      for (size_t j = 0; j < document.size(); ++j) {
        const auto id = static_cast<uint32_t>(document[j]);
        if (verify) check(id < shard.vocab_size());
        checksum += id;
      }
      const auto mask = shard.loss_mask(i);
      check(mask.size() == (shard.has_loss_mask() ? document.size() : 0));
      for (const uint8_t keep : mask) {
        if (verify) check(keep <= 1);
        checksum += keep;
      }
      walked += document.size();
    }
    check(walked == tokens);
    std::vector<int32_t> copy(tokens);
    all.copy_to(copy);
    for (int32_t id : copy) checksum -= static_cast<uint32_t>(id);
    try {
      shard.document(documents);
      check(false);
    } catch (const std::out_of_range&) {
    }
    volatile uint64_t sink = checksum;
    (void)sink;
  } catch (const TokenShardError&) {
  }
  return 0;
}
