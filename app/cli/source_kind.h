// The options that say what a corpus is and what to do with bad input in it.
#pragma once

#include <filesystem>

#include "cli/arguments.h"
#include "data/document_source.h"

namespace minimind::cli {

// --format pretrain | sft | text, or guessed: a directory or a .txt file is text, a .jsonl file is pretrain
// unless its name says sft.
inline SourceKind source_kind(const Arguments& args, const std::filesystem::path& input) {
  const std::string format = args.text("format");
  if (format == "pretrain") return SourceKind::pretrain_jsonl;
  if (format == "sft") return SourceKind::sft_jsonl;
  if (format == "text") return SourceKind::text_folder;
  if (!format.empty()) throw UsageError("--format must be pretrain, sft or text, got '" + format + "'");
  const std::string name = input.filename().string();
  if (input.extension() == ".jsonl") return name.find("sft") != std::string::npos ? SourceKind::sft_jsonl
                                                                                  : SourceKind::pretrain_jsonl;
  if (std::filesystem::is_directory(input) || input.extension() == ".txt") return SourceKind::text_folder;
  throw UsageError("cannot tell the format of " + input.string() + ": give --format pretrain, sft or text");
}

inline OnBadInput on_bad_input(const Arguments& args) {
  const std::string mode = args.text("on_bad_input", "skip");
  if (mode == "skip") return OnBadInput::skip;
  if (mode == "stop") return OnBadInput::stop;
  throw UsageError("--on_bad_input must be skip or stop, got '" + mode + "'");
}

}  // namespace minimind::cli
