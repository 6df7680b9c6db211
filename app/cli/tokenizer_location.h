// Where a tokenizer comes from: --tokenizer names a tokenizer.json or a directory holding one; without it, the
// lab's default tokenizer (trained on the default corpus) in resources/tokenizer.
#pragma once

#include <filesystem>
#include <string>

#include "cli/arguments.h"
#include "config/resources.h"
#include "tokenizer/tokenizer.h"

namespace minimind::cli {

inline std::filesystem::path tokenizer_json_path(const Arguments& args) {
  std::filesystem::path path = args.has("tokenizer") ? std::filesystem::path(args.text("tokenizer")) : default_tokenizer_dir();
  if (std::filesystem::is_directory(path)) path /= "tokenizer.json";
  return path;
}

inline Tokenizer load_tokenizer(const Arguments& args) { return Tokenizer::load(tokenizer_json_path(args)); }

}  // namespace minimind::cli
