// Memory for one long JSONL line, measured in a forked child: the peak resident size (VmHWM) above the
// child's size when it started. Reference: the line's size times a stated factor. The figure: a
// 60 MB line without whitespace took 1.8 GB (30 times) in `prepare`, nearly all of it in byte-pair merging
// of the one 60 MB pre-token (a heap entry and a list node per byte), while reading and parsing took 2 times.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>

#include "config/resources.h"
#include "data/document_source.h"
#include "data/prepare.h"
#include "support/scratch_directory.h"
#include "tokenizer/tokenizer.h"

namespace minimind {
namespace {

constexpr int64_t kLineTextBytes = int64_t{30} << 20;

// A field of /proc/self/status in bytes ("VmRSS:", "VmHWM:"), or -1.
int64_t status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string name;
  while (status >> name) {
    if (name == field) {
      int64_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(1 << 10, '\n');
  }
  return -1;
}

// How far the resident size of a child process running `work` rose above its size at the start, in bytes;
// -1 when the child failed. The child is a copy of this process, so `work` may use what is already loaded.
int64_t peak_growth_in_child(const std::function<void()>& work) {
  int pipe_ends[2];
  if (::pipe(pipe_ends) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_ends[0]);
    int64_t growth = -1;
    try {
      const int64_t start = status_bytes("VmRSS:");
      work();
      growth = status_bytes("VmHWM:") - start;
    } catch (...) {
    }
    const bool written = ::write(pipe_ends[1], &growth, sizeof growth) == sizeof growth;
    ::_exit(written ? 0 : 1);
  }
  ::close(pipe_ends[1]);
  int64_t growth = -1;
  if (pid < 0 || ::read(pipe_ends[0], &growth, sizeof growth) != sizeof growth) growth = -1;
  ::close(pipe_ends[0]);
  int status = 0;
  if (pid > 0) ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? growth : -1;
}

// One pretraining line whose text is a single 30 MB word: no whitespace or punctuation, so the tokenizer's
// pre-tokenizer leaves it one piece and byte-pair merging works on all of it at once.
void write_long_line(const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::binary);
  out << "{\"text\": \"";
  std::string chunk;
  for (int i = 0; i < (1 << 20) / 10; ++i) chunk += "abcdefghij";
  chunk.resize(1 << 20, 'a');
  for (int64_t written = 0; written < kLineTextBytes; written += 1 << 20) out << chunk;
  out << "\"}\n";
}

TEST(LongLineMemory, ReadingHoldsAtMostThreeTimesTheLine) {
  ScratchDirectory scratch;
  write_long_line(scratch / "long.jsonl");
  constexpr int64_t kFactor = 3;  // the line as read, and the decoded text of its "text" field
  int64_t text_bytes = 0;
  const int64_t growth = peak_growth_in_child([&] {
    auto source = DocumentSource::open(SourceKind::pretrain_jsonl, scratch / "long.jsonl", OnBadInput::stop);
    Document document;
    while (source->next(document)) text_bytes += static_cast<int64_t>(document.text.size());
    if (text_bytes != kLineTextBytes) throw std::runtime_error("the line was not read whole");
  });
  ASSERT_GT(growth, 0) << "the child failed";
  RecordProperty("peak_growth_bytes", std::to_string(growth));
  EXPECT_LE(growth, kFactor * kLineTextBytes) << growth / (1 << 20) << " MiB for a 30 MiB line";
}

TEST(LongLineMemory, PreparingHoldsAtMostSixteenTimesTheLine) {
  ScratchDirectory scratch;
  write_long_line(scratch / "long.jsonl");
  const Tokenizer tokenizer = Tokenizer::load(default_tokenizer_dir() / "tokenizer.json");
  // The text (1), the merge's 4-byte symbol and 4-byte rank per byte (8) and the ids (4 per token at most);
  // before: a 16-byte list node and a 12-byte heap entry per byte on top of the symbols, about 30.
  constexpr int64_t kFactor = 16;
  const int64_t growth = peak_growth_in_child([&] {
    PrepareOptions options;
    options.kind = SourceKind::pretrain_jsonl;
    options.input = scratch / "long.jsonl";
    options.output_dir = scratch / "shards";
    options.validation_fraction = 0;
    options.on_bad_input = OnBadInput::stop;
    const PrepareSummary summary = prepare_corpus(options, tokenizer);
    if (summary.text_bytes != kLineTextBytes) throw std::runtime_error("the line was not tokenized whole");
  });
  ASSERT_GT(growth, 0) << "the child failed";
  RecordProperty("peak_growth_bytes", std::to_string(growth));
  EXPECT_LE(growth, kFactor * kLineTextBytes) << growth / (1 << 20) << " MiB for a 30 MiB line";
}

}  // namespace
}  // namespace minimind
