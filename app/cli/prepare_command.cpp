// minimind prepare: a corpus on disk -> token shards (train + validation) and a summary of what was read,
// skipped and produced.
#include <cstdio>
#include <iostream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "cli/source_kind.h"
#include "cli/tokenizer_location.h"
#include "data/prepare.h"

namespace minimind::cli {

int prepare_command(int argc, char** argv) {
  Arguments args(
      "prepare",
      {{"input", "PATH", "corpus: a .jsonl file, a .txt file or a directory of them"},
       {"format", "KIND", "pretrain (JSONL with \"text\"), sft (JSONL conversations) or text (.txt files); "
                          "default: from the path"},
       {"tokenizer", "PATH", "tokenizer.json or its directory (default: the lab's default tokenizer)"},
       {"out", "DIR", "where train.shard, validation.shard and prepare.json go"},
       {"val_fraction", "X", "share of documents kept for validation (default 0.01)"},
       {"val_input", "PATH", "a separate validation corpus of the same format instead"},
       {"seed", "N", "seed of the validation split (default 0)"},
       {"chunk_size", "N", "cut long texts into chunks of N characters (default: 512 for text, off for JSONL)"},
       {"chunk_overlap", "N", "characters shared by consecutive chunks (default 0)"},
       {"on_bad_input", "MODE", "skip (default: count and report bad lines and files) or stop at the first"},
       {"max_line_bytes", "N", "longest JSONL line accepted (default 64 MiB)"},
       {"no_bos_eos", "", "pretraining documents without the <|im_start|> ... <|im_end|> around them"}},
      argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind prepare: tokenize a corpus into token shards\n\n" << args.usage();
    return 0;
  }
  PrepareOptions options;
  options.input = args.required_text("input");
  options.output_dir = args.required_text("out");
  options.kind = source_kind(args, options.input);
  options.on_bad_input = on_bad_input(args);
  options.validation_fraction = args.number("val_fraction", 0.01);
  if (args.has("val_input")) options.validation_input = args.text("val_input");
  options.seed = static_cast<uint64_t>(args.integer("seed", 0));
  options.chunk_size = args.integer("chunk_size", options.kind == SourceKind::text_folder ? 512 : 0);
  options.chunk_overlap = args.integer("chunk_overlap", 0);
  options.max_line_bytes = args.integer("max_line_bytes", DocumentSource::kDefaultMaxLineBytes);
  if (options.validation_fraction < 0 || options.validation_fraction >= 1)
    throw UsageError("--val_fraction must be in [0, 1)");
  if (options.chunk_size < 0 || options.chunk_overlap < 0 || (options.chunk_size && options.chunk_overlap > options.chunk_size))
    throw UsageError("--chunk_size and --chunk_overlap must be non-negative, the overlap at most the size");
  if (options.max_line_bytes <= 0) throw UsageError("--max_line_bytes must be positive");

  const Tokenizer tokenizer = load_tokenizer(args);
  if (options.kind != SourceKind::sft_jsonl && !args.flag("no_bos_eos")) {
    options.bos_id = tokenizer.token_to_id("<|im_start|>");
    options.eos_id = tokenizer.token_to_id("<|im_end|>");
  }
  ProgressBar bar("prepare");
  const PrepareSummary s = prepare_corpus(options, tokenizer, [&](int64_t done, int64_t total) {
    bar.update(done, total, std::to_string(done / 1000000) + " of " + std::to_string(total / 1000000) + " MB");
  });

  std::printf("documents   %lld read, %lld train, %lld validation\n", (long long)s.source.documents,
              (long long)s.train_documents, (long long)s.validation_documents);
  std::printf("tokens      %lld train, %lld validation; %.3f bytes per token\n", (long long)s.train_tokens,
              (long long)s.validation_tokens, s.bytes_per_token());
  auto print_skipped = [](const SourceReport& report, const char* which) {
    std::printf("skipped     %lld %sinputs\n", (long long)report.skipped(), which);
    for (const auto& [reason, count] : report.skipped_by_reason)
      std::printf("            %8lld  %s\n", (long long)count, reason.c_str());
    for (size_t i = 0; i < report.first_issues.size() && i < 10; ++i) {
      const InputIssue& issue = report.first_issues[i];
      std::printf("            %s:%lld: %s\n", issue.file.c_str(), (long long)issue.line, issue.reason.c_str());
    }
  };
  print_skipped(s.source, "");
  if (s.validation_source) print_skipped(*s.validation_source, "validation ");
  if (s.empty_after_tokenizing) std::printf("empty       %lld documents had no tokens\n", (long long)s.empty_after_tokenizing);
  std::printf("wrote       %s, %s and prepare.json in %.1f s\n", s.train_shard.c_str(), s.validation_shard.c_str(),
              s.seconds);
  return 0;
}

}  // namespace minimind::cli
