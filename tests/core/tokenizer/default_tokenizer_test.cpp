// The shipped tokenizer (resources/tokenizer) is exactly what training on the shipped corpus gives, so it can
// always be rebuilt: minimind tokenizer train --input resources/corpus/default/pretrain.jsonl --vocab_size 6400.
#include <gtest/gtest.h>

#include "config/resources.h"
#include "data/document_source.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace minimind {
namespace {

TEST(DefaultTokenizer, IsTheDefaultCorpusTrainedTo6400Tokens) {
  const std::filesystem::path resources = resources_dir();
  const Tokenizer shipped = Tokenizer::load(resources / "tokenizer" / "tokenizer.json");
  BpeTrainerOptions options;
  options.vocab_size = 6400;
  options.special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  BpeTrainer trainer(options);
  auto source = DocumentSource::open(SourceKind::pretrain_jsonl, resources / "corpus" / "default" / "pretrain.jsonl",
                                     OnBadInput::stop);
  Document document;
  while (source->next(document)) trainer.feed(document.text);
  const BpeModel trained = trainer.train();
  EXPECT_EQ(shipped.vocab_size(), 6400);
  EXPECT_EQ(trained.vocab, shipped.model().vocab);
  EXPECT_EQ(trained.merges, shipped.model().merges);
  EXPECT_EQ(shipped.token_to_id("<|im_start|>"), 1);
  EXPECT_EQ(shipped.token_to_id("<|im_end|>"), 2);
}

}  // namespace
}  // namespace minimind
