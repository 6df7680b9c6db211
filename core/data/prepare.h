// Corpus preparation: documents from disk -> token ids -> a train shard and a validation shard, with a
// summary of what was read, skipped and produced. The CLI's `prepare` and the lab's data view both run it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "data/document_source.h"
#include "tokenizer/tokenizer.h"

namespace minimind {

struct PrepareOptions {
  SourceKind kind = SourceKind::pretrain_jsonl;
  std::filesystem::path input;
  std::filesystem::path output_dir;  // gets train.shard, validation.shard and prepare.json
  // Validation: a separate input of the same kind, or else this share of the documents (seeded hash).
  std::optional<std::filesystem::path> validation_input;
  double validation_fraction = 0.01;
  uint64_t seed = 0;
  OnBadInput on_bad_input = OnBadInput::skip;
  int64_t max_line_bytes = DocumentSource::kDefaultMaxLineBytes;
  // Long texts are cut by the recursive character splitter into chunks of this many characters (0: whole).
  int64_t chunk_size = 0;
  int64_t chunk_overlap = 0;
  // Pretraining documents become bos + text + eos, as the seed's pretraining dataset builds them.
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
};

struct PrepareSummary {
  SourceReport source;                            // the main input: documents read, skipped by reason
  std::optional<SourceReport> validation_source;  // the validation input, when one was given
  int64_t train_documents = 0, validation_documents = 0;
  int64_t train_tokens = 0, validation_tokens = 0;
  int64_t text_bytes = 0;       // UTF-8 bytes of the text that was tokenized (both splits)
  int64_t text_tokens = 0;      // tokens of that text, without bos/eos
  int64_t empty_after_tokenizing = 0;  // documents with no tokens, not written
  double seconds = 0;
  std::filesystem::path train_shard, validation_shard;
  double bytes_per_token() const { return text_tokens ? static_cast<double>(text_bytes) / text_tokens : 0.0; }
};

// Progress in input bytes consumed of all input bytes.
using PrepareProgress = std::function<void(int64_t done_bytes, int64_t total_bytes)>;

// Writes the shards atomically (an interrupted run leaves no shard that looks complete) and prepare.json.
// Throws DataError under OnBadInput::stop at the first bad input, naming file and line.
PrepareSummary prepare_corpus(const PrepareOptions& options, const Tokenizer& tokenizer,
                              const PrepareProgress& progress = {});

std::string summary_to_json(const PrepareOptions& options, const PrepareSummary& summary);

}  // namespace minimind
