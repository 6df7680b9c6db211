// Corpus preparation: read, split, tokenize, route to train or validation, write shards and a summary.
#include "data/prepare.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "data/shard_splitter.h"
#include "data/text_splitter.h"
#include "data/token_shard.h"
#include "io/atomic_file.h"
#include "tokenizer/chat_format.h"

namespace minimind {

namespace {

const char* kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::text_folder: return "text";
    case SourceKind::pretrain_jsonl: return "pretrain";
    case SourceKind::sft_jsonl: return "sft";
  }
  return "?";
}

// Turns documents into token sequences (with their loss masks for SFT) and hands them to `sink`.
class DocumentEncoder {
 public:
  DocumentEncoder(const PrepareOptions& options, const Tokenizer& tokenizer)
      : options_(options), tokenizer_(tokenizer) {
    if (options.chunk_size > 0) splitter_.emplace(options.chunk_size, options.chunk_overlap);
  }

  template <typename Sink>
  void encode(const Document& document, PrepareSummary& summary, Sink&& sink) {
    if (options_.kind == SourceKind::sft_jsonl) {
      ChatEncoding chat = encode_chat(tokenizer_, document.conversation);
      summary.text_bytes += static_cast<int64_t>(render_chat(document.conversation).size());
      summary.text_tokens += static_cast<int64_t>(chat.ids.size());
      deliver(chat.ids, chat.loss_mask, summary, sink);
      return;
    }
    if (!splitter_) {
      encode_text(document.text, summary, sink);
      return;
    }
    for (const std::string& chunk : splitter_->split(document.text)) encode_text(chunk, summary, sink);
  }

 private:
  template <typename Sink>
  void encode_text(std::string_view text, PrepareSummary& summary, Sink&& sink) {
    ids_.clear();
    if (options_.bos_id) ids_.push_back(*options_.bos_id);
    const size_t before = ids_.size();
    tokenizer_.encode_append(text, ids_);
    summary.text_bytes += static_cast<int64_t>(text.size());
    summary.text_tokens += static_cast<int64_t>(ids_.size() - before);
    if (ids_.size() == before) {  // nothing but bos: an empty text
      ++summary.empty_after_tokenizing;
      return;
    }
    if (options_.eos_id) ids_.push_back(*options_.eos_id);
    sink(std::span<const int32_t>(ids_), std::span<const uint8_t>());
  }

  template <typename Sink>
  void deliver(const std::vector<int32_t>& ids, const std::vector<uint8_t>& mask, PrepareSummary& summary,
               Sink&& sink) {
    if (ids.empty()) {
      ++summary.empty_after_tokenizing;
      return;
    }
    sink(std::span<const int32_t>(ids), std::span<const uint8_t>(mask));
  }

  const PrepareOptions& options_;
  const Tokenizer& tokenizer_;
  std::optional<TextSplitter> splitter_;
  std::vector<int32_t> ids_;
};

}  // namespace

PrepareSummary prepare_corpus(const PrepareOptions& options, const Tokenizer& tokenizer,
                              const PrepareProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  if (options.validation_fraction < 0 || options.validation_fraction >= 1)
    throw std::invalid_argument("prepare: the validation fraction must be in [0, 1), got " +
                                std::to_string(options.validation_fraction));
  std::filesystem::create_directories(options.output_dir);
  PrepareSummary summary;
  summary.train_shard = options.output_dir / "train.shard";
  summary.validation_shard = options.output_dir / "validation.shard";

  const TokenShardContent content{static_cast<uint32_t>(tokenizer.vocab_size()),
                                  options.kind == SourceKind::sft_jsonl};
  TokenShardWriter train(summary.train_shard, content);
  TokenShardWriter validation(summary.validation_shard, content);
  DocumentEncoder encoder(options, tokenizer);

  auto source = DocumentSource::open(options.kind, options.input, options.on_bad_input, options.max_line_bytes);
  std::unique_ptr<DocumentSource> validation_source;
  if (options.validation_input)
    validation_source =
        DocumentSource::open(options.kind, *options.validation_input, options.on_bad_input, options.max_line_bytes);
  const int64_t total_bytes = source->total_bytes() + (validation_source ? validation_source->total_bytes() : 0);

  // With a validation file, every main document trains; otherwise a seeded share goes to validation.
  const ValidationSplit split{options.validation_input ? 0.0 : options.validation_fraction, options.seed};
  ShardSplitter router(train, validation, split);
  Document document;
  int64_t since_progress = 0;
  auto report_progress = [&](int64_t done) {
    if (progress && (++since_progress >= 256)) {
      since_progress = 0;
      progress(done, total_bytes);
    }
  };
  while (source->next(document)) {
    encoder.encode(document, summary, [&](std::span<const int32_t> ids, std::span<const uint8_t> mask) {
      router.add_document(ids, mask);
    });
    report_progress(source->bytes_read());
  }
  if (validation_source) {
    while (validation_source->next(document)) {
      encoder.encode(document, summary, [&](std::span<const int32_t> ids, std::span<const uint8_t> mask) {
        validation.add_document(ids, mask);
      });
      report_progress(source->total_bytes() + validation_source->bytes_read());
    }
    summary.validation_source = validation_source->report();
  }
  summary.source = source->report();
  summary.train_documents = static_cast<int64_t>(train.document_count());
  summary.validation_documents = static_cast<int64_t>(validation.document_count());
  summary.train_tokens = static_cast<int64_t>(train.token_count());
  summary.validation_tokens = static_cast<int64_t>(validation.token_count());
  train.finish();
  validation.finish();
  if (progress) progress(total_bytes, total_bytes);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::string json = summary_to_json(options, summary);
  write_file_atomically(options.output_dir / "prepare.json", std::span<const char>(json.data(), json.size()));
  return summary;
}

namespace {
nlohmann::json report_json(const SourceReport& report) {
  nlohmann::json issues = nlohmann::json::array();
  for (const InputIssue& issue : report.first_issues)
    issues.push_back({{"file", issue.file}, {"line", issue.line}, {"reason", issue.reason}});
  return {{"documents", report.documents},
          {"bytes", report.bytes},
          {"skipped", report.skipped()},
          {"skipped_by_reason", report.skipped_by_reason},
          {"first_issues", issues}};
}
}  // namespace

std::string summary_to_json(const PrepareOptions& options, const PrepareSummary& summary) {
  nlohmann::json json = {
      {"kind", kind_name(options.kind)},
      {"input", options.input.string()},
      {"source", report_json(summary.source)},
      {"train", {{"shard", summary.train_shard.filename().string()},
                 {"documents", summary.train_documents},
                 {"tokens", summary.train_tokens}}},
      {"validation", {{"shard", summary.validation_shard.filename().string()},
                      {"documents", summary.validation_documents},
                      {"tokens", summary.validation_tokens}}},
      {"text_bytes", summary.text_bytes},
      {"text_tokens", summary.text_tokens},
      {"bytes_per_token", summary.bytes_per_token()},
      {"empty_after_tokenizing", summary.empty_after_tokenizing},
      {"seconds", summary.seconds},
  };
  if (options.validation_input) {
    json["validation"]["input"] = options.validation_input->string();
    json["validation_source"] = report_json(*summary.validation_source);
  } else {
    json["validation"]["fraction"] = options.validation_fraction;
    json["validation"]["seed"] = options.seed;
  }
  if (options.chunk_size > 0) json["chunking"] = {{"chunk_size", options.chunk_size}, {"overlap", options.chunk_overlap}};
  return json.dump(2) + "\n";
}

}  // namespace minimind
