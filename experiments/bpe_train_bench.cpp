// Times the byte-level BPE trainer on a corpus file, one document per line (the line with its "\n", as
// Python's `for line in file` yields it), and prints one JSON line of figures; --output writes the trained
// vocab and merges as JSON for experiments/compare_trainers.py.
//   bpe_train_bench --corpus FILE --vocab-size N [--special TOKEN]... [--min-frequency N] [--output FILE]
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "tokenizer/bpe_trainer.h"

namespace {

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "bpe_train_bench: " << problem << "\n"
            << "usage: bpe_train_bench --corpus FILE --vocab-size N [--special TOKEN]... [--min-frequency N]"
               " [--output FILE]\n";
  std::exit(2);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string corpus_path;
  std::string output_path;
  minimind::BpeTrainerOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage("missing value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--corpus") {
      corpus_path = value;
    } else if (flag == "--vocab-size") {
      options.vocab_size = std::stoll(value);
    } else if (flag == "--special") {
      options.special_tokens.push_back(value);
    } else if (flag == "--min-frequency") {
      options.min_frequency = std::stoll(value);
    } else if (flag == "--output") {
      output_path = value;
    } else {
      usage("unknown flag " + flag);
    }
  }
  if (corpus_path.empty()) usage("--corpus is required");

  try {
    minimind::BpeTrainer trainer(options);
    std::ifstream corpus(corpus_path, std::ios::binary);
    if (!corpus) usage("cannot open " + corpus_path);

    const auto feed_start = std::chrono::steady_clock::now();
    int64_t documents = 0;
    int64_t bytes = 0;
    std::string line;
    while (std::getline(corpus, line)) {
      if (!corpus.eof()) line += '\n';
      trainer.feed(line);
      ++documents;
      bytes += static_cast<int64_t>(line.size());
    }
    const double feed_s = seconds_since(feed_start);

    const auto train_start = std::chrono::steady_clock::now();
    const minimind::BpeModel model = trainer.train();
    const double train_s = seconds_since(train_start);

    nlohmann::json figures = {{"corpus_bytes", bytes},
                              {"documents", documents},
                              {"unique_words", trainer.unique_words()},
                              {"feed_s", feed_s},
                              {"train_s", train_s},
                              {"total_s", feed_s + train_s},
                              {"vocab_size", model.vocab.size()},
                              {"merges", model.merges.size()}};
    std::cout << figures.dump() << std::endl;

    if (!output_path.empty()) {
      std::vector<std::string> tokens_by_id(model.vocab.size());
      for (const auto& [token, id] : model.vocab) tokens_by_id.at(static_cast<size_t>(id)) = token;
      nlohmann::json merges = nlohmann::json::array();
      for (const auto& [left, right] : model.merges) merges.push_back({left, right});
      const std::string text =
          nlohmann::json{{"tokens_by_id", tokens_by_id}, {"merges", merges}}.dump() + "\n";
      minimind::write_file_atomically(output_path, std::span<const char>(text.data(), text.size()));
    }
  } catch (const std::exception& error) {
    std::cerr << "bpe_train_bench: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
