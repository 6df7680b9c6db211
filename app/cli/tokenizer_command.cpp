// minimind tokenizer train | encode | decode: byte-level BPE tokenizers in the Hugging Face format.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "cli/source_kind.h"
#include "cli/tokenizer_location.h"
#include "data/document_source.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer_config.h"

namespace minimind::cli {

namespace {

int train(int argc, char** argv) {
  Arguments args("tokenizer train",
                 {{"input", "PATH", "corpus: a .jsonl file, a .txt file or a directory of them"},
                  {"format", "KIND", "pretrain (JSONL with \"text\"), sft (JSONL conversations) or text (.txt); "
                                     "default: from the path"},
                  {"vocab_size", "N", "tokens in the vocabulary, special tokens included (default 6400)"},
                  {"special_tokens", "LIST", "comma-separated, ids 0.. in order (default "
                                             "<|endoftext|>,<|im_start|>,<|im_end|>)"},
                  {"min_frequency", "N", "stop merging below this pair count (default 0)"},
                  {"on_bad_input", "MODE", "skip (default) or stop at the first bad line or file"},
                  {"out", "DIR", "where tokenizer.json and tokenizer_config.json go"}},
                 argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind tokenizer train: a byte-level BPE tokenizer trained as Hugging Face's BpeTrainer "
                 "trains it\n\n"
              << args.usage();
    return 0;
  }
  const std::filesystem::path input = args.required_text("input");
  const std::filesystem::path out = args.required_text("out");
  const SourceKind kind = source_kind(args, input);
  BpeTrainerOptions options;
  options.vocab_size = args.integer("vocab_size", 6400);
  options.min_frequency = args.integer("min_frequency", 0);
  const std::string specials = args.text("special_tokens", "<|endoftext|>,<|im_start|>,<|im_end|>");
  std::stringstream list(specials);
  for (std::string token; std::getline(list, token, ',');)
    if (!token.empty()) options.special_tokens.push_back(token);
  if (options.vocab_size < 1) throw UsageError("--vocab_size must be positive");
  ProgressBar merge_bar("merging  ");
  options.progress = [&](std::string_view stage, int64_t done, int64_t total) {
    if (stage == "Compute merges") merge_bar.update(done, total, std::to_string(done) + " tokens");
  };

  const auto start = std::chrono::steady_clock::now();
  auto source = DocumentSource::open(kind, input, on_bad_input(args));
  BpeTrainer trainer(options);
  ProgressBar read_bar("reading  ");
  Document document;
  while (source->next(document)) {
    // Conversations train on their rendered chat text, so the template's tokens are learned too.
    trainer.feed(kind == SourceKind::sft_jsonl ? render_chat(document.conversation) : document.text);
    read_bar.update(source->bytes_read(), source->total_bytes());
  }
  read_bar.update(source->total_bytes(), source->total_bytes());
  Tokenizer tokenizer(trainer.train());
  std::filesystem::create_directories(out);
  tokenizer.save(out / "tokenizer.json");
  save_tokenizer_config(out / "tokenizer_config.json", make_chat_tokenizer_config(tokenizer));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Compression on the training text itself (bytes per token): the figure that says how good the merges are.
  auto again = DocumentSource::open(kind, input, OnBadInput::skip);
  int64_t bytes = 0, tokens = 0;
  std::vector<int32_t> ids;
  while (again->next(document)) {
    const std::string text = kind == SourceKind::sft_jsonl ? render_chat(document.conversation) : document.text;
    ids.clear();
    tokenizer.encode_append(text, ids);
    bytes += static_cast<int64_t>(text.size());
    tokens += static_cast<int64_t>(ids.size());
  }
  const SourceReport& report = source->report();
  std::printf("trained %d tokens (%zu merges) on %lld documents, %.1f MB in %.2f s; %.3f bytes per token\n",
              tokenizer.vocab_size(), tokenizer.model().merges.size(), (long long)report.documents,
              report.bytes / 1e6, seconds, tokens ? static_cast<double>(bytes) / tokens : 0.0);
  if (report.skipped()) std::printf("skipped %lld inputs (see minimind prepare for the reasons)\n", (long long)report.skipped());
  std::printf("wrote %s and %s\n", (out / "tokenizer.json").c_str(), (out / "tokenizer_config.json").c_str());
  return 0;
}

std::string read_text(const Arguments& args) {
  if (args.has("text") == args.has("file")) throw UsageError("give exactly one of --text and --file");
  if (args.has("text")) return args.text("text");
  std::ifstream file(args.text("file"), std::ios::binary);
  if (!file) throw std::runtime_error("cannot read " + args.text("file"));
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

int encode(int argc, char** argv) {
  Arguments args("tokenizer encode",
                 {{"tokenizer", "PATH", "tokenizer.json or its directory (default: the lab's default tokenizer)"},
                  {"text", "TEXT", "the text to encode"},
                  {"file", "FILE", "or a file to encode"},
                  {"tokens", "", "print each token with its id instead of the ids alone"}},
                 argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind tokenizer encode: token ids of a text\n\n" << args.usage();
    return 0;
  }
  const Tokenizer tokenizer = load_tokenizer(args);
  const std::vector<int32_t> ids = tokenizer.encode(read_text(args));
  if (args.flag("tokens")) {
    for (int32_t id : ids) {
      const int32_t one[] = {id};
      std::printf("%6d  %s\n", id, nlohmann::json(tokenizer.decode(one)).dump().c_str());
    }
    return 0;
  }
  for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? "," : "", ids[i]);
  std::printf("\n");
  return 0;
}

int decode(int argc, char** argv) {
  Arguments args("tokenizer decode",
                 {{"tokenizer", "PATH", "tokenizer.json or its directory (default: the lab's default tokenizer)"},
                  {"ids", "LIST", "comma-separated token ids"},
                  {"skip_special_tokens", "", "leave special tokens out of the text"}},
                 argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind tokenizer decode: the text of token ids\n\n" << args.usage();
    return 0;
  }
  const Tokenizer tokenizer = load_tokenizer(args);
  std::vector<int32_t> ids;
  for (int64_t id : parse_integer_list(args.required_text("ids"), "--ids")) {
    if (id < 0 || id >= tokenizer.vocab_size())
      throw UsageError("--ids: " + std::to_string(id) + " is outside the vocabulary [0, " +
                       std::to_string(tokenizer.vocab_size()) + ")");
    ids.push_back(static_cast<int32_t>(id));
  }
  std::cout << tokenizer.decode(ids, args.flag("skip_special_tokens")) << "\n";
  return 0;
}

}  // namespace

int tokenizer_command(int argc, char** argv) {
  const std::string usage =
      "usage: minimind tokenizer <train|encode|decode> [options]   (--help on each for its options)\n";
  if (argc < 1) throw UsageError(usage);
  const std::string action = argv[0];
  if (action == "train") return train(argc - 1, argv + 1);
  if (action == "encode") return encode(argc - 1, argv + 1);
  if (action == "decode") return decode(argc - 1, argv + 1);
  if (action == "--help" || action == "-h") {
    std::cout << usage;
    return 0;
  }
  throw UsageError("unknown action '" + action + "'\n" + usage);
}

}  // namespace minimind::cli
