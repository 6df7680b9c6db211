// minimind: the command-line face of the lab. One subcommand per file in cli/.
#include <csignal>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "backend/device_out_of_memory.h"
#include "cli/arguments.h"
#include "cli/commands.h"
#include "config/model_config.h"
#include "data/document_source.h"
#include "train/out_of_memory_error.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"demo", minimind::cli::demo_command, "train the tiny preset for a few steps on a built-in sample"},
    {"info", minimind::cli::info_command, "parameters, FLOPs and memory of a configuration"},
    {"init", minimind::cli::init_command, "write a freshly initialised model directory"},
    {"forward", minimind::cli::forward_command, "logits, loss and gradients of a model on token ids"},
    {"bench", minimind::cli::bench_command, "tokens/s, GFLOP/s and memory of a training step"},
    {"tokenizer", minimind::cli::tokenizer_command, "train a BPE tokenizer, encode and decode text"},
    {"prepare", minimind::cli::prepare_command, "tokenize a corpus into train and validation shards"},
    {"train", minimind::cli::train_command, "pretrain or fine-tune a model on prepared shards"},
    {"resume", minimind::cli::resume_command, "continue a run from its latest checkpoint"},
    {"eval", minimind::cli::eval_command, "validation loss and perplexity of a model on a dataset"},
    {"generate", minimind::cli::generate_command, "continue prompts with a model (KV cache, sampling, streaming)"},
    {"chat", minimind::cli::chat_command, "talk with an SFT model in the chat format"},
};

void print_usage(std::ostream& out) {
  out << "usage: minimind <command> [options]   (minimind <command> --help for its options)\n\ncommands:\n";
  for (const Command& c : kCommands) out << "  " << c.name << std::string(10 - std::strlen(c.name), ' ') << c.summary << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    print_usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  // A file-size limit (ulimit -f) then fails the write with EFBIG, reported with the file's name, instead of
  // killing the process without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  const std::string name = argv[1];
  for (const Command& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(argc - 2, argv + 2);
    } catch (const minimind::cli::UsageError& e) {
      std::cerr << "minimind " << name << ": " << e.what() << "\n";
      return 2;
    } catch (const minimind::ConfigError& e) {
      std::cerr << "minimind " << name << ": invalid model configuration:\n" << e.what() << "\n";
      return 2;
    } catch (const minimind::DataError& e) {
      std::cerr << "minimind " << name << ": " << e.what() << "\n";
      return 1;
    } catch (const minimind::OutOfMemoryError& e) {
      std::cerr << "minimind " << name << ": " << e.what()
                << " (try a smaller batch, sequence length or model)\n";
      return 1;
    } catch (const std::bad_alloc&) {
      std::cerr << "minimind " << name << ": out of memory (try a smaller batch, sequence length or model)\n";
      return 1;
    } catch (const minimind::DeviceOutOfMemory& e) {
      const auto* error = dynamic_cast<const std::exception*>(&e);
      std::cerr << "minimind " << name << ": " << (error ? error->what() : "the GPU ran out of memory")
                << " (try a smaller batch, sequence length or model)\n";
      return 1;
    } catch (const std::exception& e) {
      std::cerr << "minimind " << name << ": " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "minimind: unknown command '" << name << "'\n\n";
  print_usage(std::cerr);
  return 2;
}
