// Encoding speed of the tokenizer on one thread: encodes a text file, as a whole or line by line (each line
// without its "\n", as a batch of lines), with a freshly loaded tokenizer per run so that every run starts
// with an empty word cache, and prints the best run as one JSON line:
//   {"mode": "whole", "bytes": ..., "tokens": ..., "seconds": ..., "mb_per_s": ..., "tokens_per_s": ...}
// Usage: tokenizer_bench <tokenizer.json> <text file> [--lines] [--runs N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: tokenizer_bench <tokenizer.json> <text file> [--lines] [--runs N]\n";
    return 2;
  }
  bool lines = false;
  int runs = 3;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--lines") == 0) {
      lines = true;
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      std::cerr << "unknown argument " << argv[i] << "\n";
      return 2;
    }
  }
  std::ifstream in(argv[2], std::ios::binary);
  if (!in) {
    std::cerr << "cannot open " << argv[2] << "\n";
    return 1;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::vector<std::string_view> text_lines;
  if (lines) {
    std::size_t begin = 0;
    while (begin <= text.size()) {
      const std::size_t end = std::min(text.find('\n', begin), text.size());
      text_lines.push_back(std::string_view(text).substr(begin, end - begin));
      begin = end + 1;
    }
  }

  try {
    double best_seconds = 1e300;
    std::size_t tokens = 0;
    for (int run = 0; run < runs; ++run) {
      const minimind::Tokenizer tokenizer = minimind::Tokenizer::load(argv[1]);
      std::vector<int32_t> ids;
      ids.reserve(text.size() / 2);
      const auto start = std::chrono::steady_clock::now();
      if (lines) {
        for (const std::string_view line : text_lines) tokenizer.encode_append(line, ids);
      } else {
        tokenizer.encode_append(text, ids);
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      best_seconds = std::min(best_seconds, seconds);
      tokens = ids.size();
    }
    std::printf(
        "{\"mode\": \"%s\", \"bytes\": %zu, \"tokens\": %zu, \"seconds\": %.6f, \"mb_per_s\": %.3f, "
        "\"tokens_per_s\": %.0f}\n",
        lines ? "lines" : "whole", text.size(), tokens, best_seconds, text.size() / best_seconds / 1e6,
        tokens / best_seconds);
  } catch (const std::exception& error) {
    std::cerr << error.what() << "\n";
    return 1;
  }
  return 0;
}
