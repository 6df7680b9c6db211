// Reference: rows computed by hand from the documented row layouts (padded and packed, with and without a
// loss mask and a separator); counting arguments for the shuffles (each token, each document once per
// epoch); the loader itself for resumption (a restored loader must repeat the batches exactly); and the
// model's forward for compatibility (a batch must be accepted and score exactly its masked positions).
#include "data/batch_loader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "backend/cpu/cpu_backend.h"
#include "core/data/shard_files.h"
#include "support/scratch_directory.h"

namespace minimind {
namespace {

using testing::Document;
using testing::write_shard;
using Ids = std::vector<int32_t>;
using Mask = std::vector<float>;

constexpr int32_t kPad = 99;

std::vector<TokenShard> shards_of(const ScratchDirectory& directory,
                                  const std::vector<std::vector<Document>>& sets, uint32_t vocab_size = 100,
                                  bool sft = false) {
  std::vector<TokenShard> shards;
  for (size_t i = 0; i < sets.size(); ++i) {
    const auto path = directory / ("shard-" + std::to_string(i));
    write_shard(path, {.vocab_size = vocab_size, .loss_mask = sft}, sets[i]);
    shards.push_back(TokenShard::open(path));
  }
  return shards;
}

template <typename T>
std::vector<T> row_of(const Tensor& tensor, int64_t row) {
  const int64_t length = tensor.dim(1);
  const T* data = tensor.data<T>() + row * length;
  return std::vector<T>(data, data + length);
}

void expect_row(const Batch& batch, int64_t row, const Ids& inputs, const Ids& targets, const Mask& loss_mask,
                const Ids& attention = {}) {
  SCOPED_TRACE("row " + std::to_string(row));
  EXPECT_EQ(row_of<int32_t>(batch.input_ids, row), inputs);
  EXPECT_EQ(row_of<int32_t>(batch.targets, row), targets);
  EXPECT_EQ(row_of<float>(batch.loss_mask, row), loss_mask);
  if (!attention.empty()) {
    EXPECT_EQ(row_of<int32_t>(batch.attention_mask, row), attention);
  }
}

void expect_same_batch(const Batch& a, const Batch& b) {
  ASSERT_EQ(a.input_ids.shape(), b.input_ids.shape());
  for (int64_t row = 0; row < a.input_ids.dim(0); ++row) {
    EXPECT_EQ(row_of<int32_t>(a.input_ids, row), row_of<int32_t>(b.input_ids, row));
    EXPECT_EQ(row_of<int32_t>(a.targets, row), row_of<int32_t>(b.targets, row));
    EXPECT_EQ(row_of<float>(a.loss_mask, row), row_of<float>(b.loss_mask, row));
    ASSERT_EQ(a.attention_mask.defined(), b.attention_mask.defined());
    if (a.attention_mask.defined()) {
      EXPECT_EQ(row_of<int32_t>(a.attention_mask, row), row_of<int32_t>(b.attention_mask, row));
    }
  }
}

BatchLoaderOptions options(BatchMode mode, int64_t batch_size, int64_t seq_len, bool shuffle = false,
                           uint64_t seed = 0) {
  return {.mode = mode,
          .batch_size = batch_size,
          .seq_len = seq_len,
          .pad_id = kPad,
          .separator_id = 0,
          .seed = seed,
          .shuffle = shuffle};
}

TEST(BatchLoader, PaddedRowsAreDocumentsTruncatedAndPadded) {
  ScratchDirectory directory;
  const std::vector<Document> documents = {
      {{10, 11, 12}, {}}, {{20, 21, 22, 23, 24, 25, 26}, {}}, {{30}, {}}};
  BatchLoader loader(shards_of(directory, {documents}), options(BatchMode::padded, 3, 4));
  const Batch batch = loader.next();
  EXPECT_EQ(batch.input_ids.shape(), (Shape{3, 4}));
  EXPECT_EQ(batch.input_ids.dtype(), DType::i32);
  EXPECT_EQ(batch.targets.dtype(), DType::i32);
  EXPECT_EQ(batch.loss_mask.dtype(), DType::f32);
  EXPECT_EQ(batch.attention_mask.dtype(), DType::i32);
  expect_row(batch, 0, {10, 11, kPad, kPad}, {11, 12, kPad, kPad}, {1, 1, 0, 0}, {1, 1, 0, 0});
  expect_row(batch, 1, {20, 21, 22, 23}, {21, 22, 23, 24}, {1, 1, 1, 1}, {1, 1, 1, 1});
  // One token gives no target; position 0 stays attended so no query is left without a key.
  expect_row(batch, 2, {kPad, kPad, kPad, kPad}, {kPad, kPad, kPad, kPad}, {0, 0, 0, 0}, {1, 0, 0, 0});
  EXPECT_EQ(loader.summary().truncated_documents, 1u);
  EXPECT_EQ(loader.summary().truncated_tokens, 2u);
  EXPECT_EQ(loader.summary().unscored_documents, 1u);
  EXPECT_EQ(loader.rows_per_epoch(), 3u);
  EXPECT_EQ(loader.epoch(), 1u);  // the three rows were epoch 0; the next row opens epoch 1
  EXPECT_EQ(loader.cursor(), 0u);
  expect_same_batch(loader.next(), batch);  // unshuffled: the same rows again
}

TEST(BatchLoader, PaddedSftRowsCarryTheMaskOfEachTarget) {
  ScratchDirectory directory;
  const std::vector<Document> documents = {{{1, 10, 11, 2}, {0, 0, 1, 1}},
                                           {{1, 20, 21, 22, 23, 2}, {0, 1, 0, 1, 1, 1}}};
  BatchLoader loader(shards_of(directory, {documents}, 100, true), options(BatchMode::padded, 2, 4));
  const Batch batch = loader.next();
  expect_row(batch, 0, {1, 10, 11, kPad}, {10, 11, 2, kPad}, {0, 1, 1, 0}, {1, 1, 1, 0});
  expect_row(batch, 1, {1, 20, 21, 22}, {20, 21, 22, 23}, {1, 0, 1, 1}, {1, 1, 1, 1});
}

TEST(BatchLoader, PackedRowsOverlapByOneAndTheLastIsPadded) {
  ScratchDirectory directory;
  // Stream: 1 2 3 | 0 4 5 | 0 6 0 (nine tokens, eight targets, rows of three).
  const std::vector<Document> documents = {{{1, 2, 3}, {}}, {{4, 5}, {}}, {{6}, {}}};
  for (const auto& sets :
       {std::vector<std::vector<Document>>{documents},
        std::vector<std::vector<Document>>{{documents[0], documents[1]}, {}, {documents[2]}}}) {
    SCOPED_TRACE(std::to_string(sets.size()) + " shards");
    BatchLoader loader(shards_of(directory, sets), options(BatchMode::packed, 3, 3));
    EXPECT_EQ(loader.rows_per_epoch(), 3u);
    EXPECT_EQ(loader.summary().separators, 3u);
    const Batch batch = loader.next();
    EXPECT_FALSE(batch.attention_mask.defined());
    expect_row(batch, 0, {1, 2, 3}, {2, 3, 0}, {1, 1, 1});
    expect_row(batch, 1, {0, 4, 5}, {4, 5, 0}, {1, 1, 1});
    expect_row(batch, 2, {0, 6, kPad}, {6, 0, kPad}, {1, 1, 0});
  }
}

TEST(BatchLoader, PackedWithoutSeparator) {
  ScratchDirectory directory;
  auto settings = options(BatchMode::packed, 2, 3);
  settings.separator_id = std::nullopt;
  BatchLoader loader(shards_of(directory, {{{{1, 2, 3}, {}}, {{4, 5}, {}}}, {{{6}, {}}}}), settings);
  const Batch batch = loader.next();
  expect_row(batch, 0, {1, 2, 3}, {2, 3, 4}, {1, 1, 1});
  expect_row(batch, 1, {4, 5, kPad}, {5, 6, kPad}, {1, 1, 0});
}

TEST(BatchLoader, PackedSftCarriesTheMaskAndLeavesSeparatorsUnscored) {
  ScratchDirectory directory;
  // Stream 1 10 2 0 1 20 2 0 with masks 0 1 1 0 0 0 1 0.
  const std::vector<Document> documents = {{{1, 10, 2}, {0, 1, 1}}, {{1, 20, 2}, {0, 0, 1}}};
  BatchLoader loader(shards_of(directory, {documents}, 100, true), options(BatchMode::packed, 2, 4));
  const Batch batch = loader.next();
  expect_row(batch, 0, {1, 10, 2, 0}, {10, 2, 0, 1}, {1, 1, 0, 0});
  expect_row(batch, 1, {1, 20, 2, kPad}, {20, 2, 0, kPad}, {0, 1, 0, 0});
}

// Documents of unique ids 1..N in several shards, for counting arguments.
std::vector<std::vector<Document>> unique_documents(int documents, int shards, uint64_t seed,
                                                    int32_t& next_id) {
  std::mt19937 random(static_cast<unsigned>(seed));
  std::vector<std::vector<Document>> sets(static_cast<size_t>(shards));
  next_id = 1;
  for (int i = 0; i < documents; ++i) {
    Document document;
    const int size = 1 + static_cast<int>(random() % 20);
    for (int j = 0; j < size; ++j) document.ids.push_back(next_id++);
    sets[static_cast<size_t>(i % shards)].push_back(document);
  }
  return sets;
}

// The rows the loader gives out, in order, as (inputs, targets, mask) triples, for `count` rows.
struct Row {
  Ids inputs, targets;
  Mask mask;
  bool operator==(const Row&) const = default;
};
// Reads the loader row by row: rows of a batch not yet asked for wait for the next call.
class RowReader {
 public:
  explicit RowReader(BatchLoader& loader) : loader_(loader) {}
  std::vector<Row> take(uint64_t count) {
    std::vector<Row> rows;
    while (rows.size() < count) {
      if (pending_.empty()) {
        const Batch batch = loader_.next();
        for (int64_t b = 0; b < batch.input_ids.dim(0); ++b)
          pending_.push_back({row_of<int32_t>(batch.input_ids, b), row_of<int32_t>(batch.targets, b),
                              row_of<float>(batch.loss_mask, b)});
      }
      rows.push_back(pending_.front());
      pending_.erase(pending_.begin());
    }
    return rows;
  }

 private:
  BatchLoader& loader_;
  std::vector<Row> pending_;
};

TEST(BatchLoader, PackedEpochScoresEveryTokenExactlyOnce) {
  ScratchDirectory directory;
  int32_t next_id = 0;
  const auto sets = unique_documents(40, 3, 5, next_id);
  const auto vocab = static_cast<uint32_t>(next_id + 1);
  auto settings = options(BatchMode::packed, 5, 8, true, 11);
  settings.pad_id = next_id;  // an id outside the documents
  BatchLoader loader(shards_of(directory, sets, vocab), settings);
  const uint64_t rows = loader.rows_per_epoch();
  ASSERT_NE(rows % 5, 0u) << "batches should straddle the epochs";
  RowReader reader(loader);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::map<int32_t, int> scored, seen_as_input;
    for (const Row& row : reader.take(rows)) {
      for (size_t t = 0; t < row.targets.size(); ++t) {
        if (row.mask[t] != 0) scored[row.targets[t]]++;
        if (row.inputs[t] != next_id) seen_as_input[row.inputs[t]]++;
      }
    }
    // The stream's first token is never a target, its last (a separator) never an input.
    for (int32_t id = 1; id < next_id; ++id) {
      ASSERT_EQ(scored[id], id == 1 ? 0 : 1) << "id " << id << ", epoch " << epoch;
      ASSERT_EQ(seen_as_input[id], 1) << "id " << id << ", epoch " << epoch;
    }
    EXPECT_EQ(scored[0], 40) << "one separator after each document";
    EXPECT_EQ(seen_as_input[0], 39);
  }
}

TEST(BatchLoader, PaddedEpochGivesEveryDocumentExactlyOnce) {
  ScratchDirectory directory;
  int32_t next_id = 0;
  const auto sets = unique_documents(37, 2, 6, next_id);
  auto settings = options(BatchMode::padded, 4, 32, true, 3);
  settings.pad_id = 0;
  BatchLoader loader(shards_of(directory, sets, static_cast<uint32_t>(next_id)), settings);
  ASSERT_EQ(loader.rows_per_epoch(), 37u);
  RowReader reader(loader);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::multiset<int32_t> seen;
    for (const Row& row : reader.take(37)) {
      // A one-token document's row is all padding; its id is the only one of this set not seen otherwise.
      seen.insert(row.inputs[0]);
    }
    std::multiset<int32_t> expected;
    for (const auto& set : sets)
      for (const Document& document : set)
        expected.insert(document.ids.size() > 1 ? document.ids.front() : 0);
    EXPECT_EQ(seen, expected) << "epoch " << epoch;
  }
}

std::vector<Row> first_rows(const std::vector<std::vector<Document>>& sets, uint32_t vocab_size,
                            const ScratchDirectory& directory, BatchLoaderOptions settings, uint64_t count) {
  BatchLoader loader(shards_of(directory, sets, vocab_size), settings);
  return RowReader(loader).take(count);
}

TEST(BatchLoader, ShufflingIsDeterministicPerSeedAndDiffersAcrossSeedsAndEpochs) {
  ScratchDirectory directory;
  int32_t next_id = 0;
  const auto sets = unique_documents(30, 2, 8, next_id);
  const auto vocab = static_cast<uint32_t>(kPad + next_id);
  for (const BatchMode mode : {BatchMode::padded, BatchMode::packed}) {
    SCOPED_TRACE(mode == BatchMode::padded ? "padded" : "packed");
    BatchLoader probe(shards_of(directory, sets, vocab), options(mode, 4, 8));
    const uint64_t rows = probe.rows_per_epoch();
    const auto a = first_rows(sets, vocab, directory, options(mode, 4, 8, true, 1), 2 * rows);
    const auto again = first_rows(sets, vocab, directory, options(mode, 4, 8, true, 1), 2 * rows);
    const auto other_seed = first_rows(sets, vocab, directory, options(mode, 4, 8, true, 2), 2 * rows);
    const auto unshuffled = first_rows(sets, vocab, directory, options(mode, 4, 8, false, 1), rows);
    EXPECT_EQ(a, again);
    EXPECT_NE(a, other_seed);
    const std::vector<Row> epoch0(a.begin(), a.begin() + static_cast<ptrdiff_t>(rows));
    const std::vector<Row> epoch1(a.begin() + static_cast<ptrdiff_t>(rows), a.end());
    EXPECT_NE(epoch0, epoch1);
    EXPECT_NE(epoch0, unshuffled);
    // Each shuffled epoch holds the same rows as the stored order, rearranged.
    const auto sorted = [](std::vector<Row> rows_copy) {
      std::sort(rows_copy.begin(), rows_copy.end(), [](const Row& x, const Row& y) {
        return std::tie(x.inputs, x.targets, x.mask) < std::tie(y.inputs, y.targets, y.mask);
      });
      return rows_copy;
    };
    EXPECT_EQ(sorted(epoch0), sorted(unshuffled));
    EXPECT_EQ(sorted(epoch1), sorted(unshuffled));
  }
}

TEST(BatchLoader, ResumedLoaderRepeatsTheBatchesExactly) {
  ScratchDirectory directory;
  int32_t next_id = 0;
  const auto sets = unique_documents(12, 2, 9, next_id);
  const auto vocab = static_cast<uint32_t>(kPad + next_id);
  for (const BatchMode mode : {BatchMode::padded, BatchMode::packed}) {
    SCOPED_TRACE(mode == BatchMode::padded ? "padded" : "packed");
    const auto settings = options(mode, 3, 6, true, 77);
    BatchLoader loader(shards_of(directory, sets, vocab), settings);
    ASSERT_LT(loader.rows_per_epoch(), 36u) << "the twelve batches should cross several epochs";
    for (int i = 0; i < 7; ++i) loader.next();
    const std::string saved = nlohmann::json(loader.state()).dump();
    std::vector<Batch> expected;
    for (int i = 0; i < 5; ++i) expected.push_back(loader.next());

    const LoaderState state = nlohmann::json::parse(saved).get<LoaderState>();
    // A fresh loader as the resumed run builds it, and one that has moved on under another seed: the
    // state's position, seed and generator replace whatever the loader had.
    auto other_settings = settings;
    other_settings.seed = 12345;
    for (const bool advanced : {false, true}) {
      SCOPED_TRACE(advanced ? "advanced loader, other seed" : "fresh loader");
      BatchLoader resumed(shards_of(directory, sets, vocab), advanced ? other_settings : settings);
      if (advanced) resumed.next();
      resumed.restore(state);
      EXPECT_EQ(resumed.state(), state);
      for (int i = 0; i < 5; ++i) {
        SCOPED_TRACE("batch " + std::to_string(i));
        expect_same_batch(resumed.next(), expected[static_cast<size_t>(i)]);
      }
      EXPECT_EQ(resumed.state(), loader.state());
    }
  }
}

TEST(BatchLoader, StateJsonRoundTripAndRefusals) {
  ScratchDirectory directory;
  const std::vector<Document> documents = {{{1, 2, 3, 4, 5}, {}}, {{6, 7, 8}, {}}};
  BatchLoader loader(shards_of(directory, {documents}), options(BatchMode::packed, 2, 2, true, ~uint64_t{0}));
  loader.next();
  const LoaderState state = loader.state();
  const nlohmann::json json = state;
  EXPECT_EQ(json.at("mode"), "packed");
  EXPECT_EQ(json.at("seed").get<uint64_t>(), ~uint64_t{0});
  EXPECT_EQ(nlohmann::json::parse(json.dump()).get<LoaderState>(), state);

  for (const char* field :
       {"epoch", "cursor", "seed", "rng", "mode", "seq_len", "rows_per_epoch", "documents", "tokens"}) {
    nlohmann::json missing = json;
    missing.erase(field);
    try {
      missing.get<LoaderState>();
      ADD_FAILURE() << "a state without " << field << " was read";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(field), std::string::npos) << error.what();
    }
  }
  nlohmann::json negative = json;
  negative["cursor"] = -1;
  EXPECT_THROW(negative.get<LoaderState>(), std::invalid_argument);
  nlohmann::json short_rng = json;
  short_rng["rng"] = {1, 2, 3};
  EXPECT_THROW(short_rng.get<LoaderState>(), std::invalid_argument);

  // A position from another layout or dataset is refused.
  BatchLoader longer_rows(shards_of(directory, {documents}), options(BatchMode::packed, 2, 3, true));
  EXPECT_THROW(longer_rows.restore(state), std::invalid_argument);
  BatchLoader padded(shards_of(directory, {documents}), options(BatchMode::padded, 2, 2, true));
  EXPECT_THROW(padded.restore(state), std::invalid_argument);
  BatchLoader other_data(shards_of(directory, {{documents[0]}}), options(BatchMode::packed, 2, 2, true));
  EXPECT_THROW(other_data.restore(state), std::invalid_argument);
  LoaderState beyond = state;
  beyond.cursor = state.rows_per_epoch + 1;
  EXPECT_THROW(loader.restore(beyond), std::invalid_argument);
  LoaderState zero_rng = state;
  zero_rng.rng = {};
  EXPECT_THROW(loader.restore(zero_rng), std::invalid_argument);
}

// A state read from a damaged trainer_state.json may hold anything: refusals describe the value found
// without the recursive json::dump(), which overflowed the stack on a 100,000-deep array. nlohmann's parser
// is iterative, so such a value can be built here.
TEST(BatchLoader, StateRefusalsDescribeDeepValuesWithoutRecursion) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::pair<std::string, std::string> cases[] = {
      {deep, "loader state: expected a JSON object, found array of 1 element"},
      {R"({"epoch": 0, "cursor": )" + deep + "}",
       "loader state: field 'cursor' must be a non-negative integer, found array of 1 element"},
      {R"({"epoch": 0, "cursor": 0, "seed": 0, "rng": )" + deep + "}",
       "loader state: field 'rng' must be an array of 4 integers, found array of 1 element"},
      {R"({"epoch": 0, "cursor": 0, "seed": 0, "rng": [1, 2, 3, )" + deep + "]}",
       "loader state: field 'rng' must be a non-negative integer, found array of 1 element"},
  };
  for (const auto& [text, expected] : cases) {
    try {
      nlohmann::json::parse(text).get<LoaderState>();
      ADD_FAILURE() << "read " << expected;
    } catch (const std::invalid_argument& error) {
      EXPECT_EQ(std::string(error.what()), expected);
    }
  }
}

TEST(BatchLoader, EvaluationBatchesCoverTheDatasetInStoredOrder) {
  ScratchDirectory directory;
  const std::vector<Document> documents = {
      {{10, 11}, {}}, {{20, 21, 22}, {}}, {{30, 31}, {}}, {{40, 41}, {}}, {{50, 51}, {}}};
  BatchLoader loader(shards_of(directory, {documents}), options(BatchMode::padded, 2, 3, true, 4));
  loader.next();
  const LoaderState before = loader.state();
  ASSERT_EQ(loader.evaluation_batch_count(), 3u);
  const Batch first = loader.evaluation_batch(0);
  expect_row(first, 0, {10, kPad, kPad}, {11, kPad, kPad}, {1, 0, 0}, {1, 0, 0});
  expect_row(first, 1, {20, 21, kPad}, {21, 22, kPad}, {1, 1, 0}, {1, 1, 0});
  const Batch last = loader.evaluation_batch(2);
  expect_row(last, 0, {50, kPad, kPad}, {51, kPad, kPad}, {1, 0, 0}, {1, 0, 0});
  expect_row(last, 1, {kPad, kPad, kPad}, {kPad, kPad, kPad}, {0, 0, 0}, {1, 0, 0});  // filler
  EXPECT_THROW(loader.evaluation_batch(3), std::out_of_range);
  EXPECT_EQ(loader.state(), before);
  expect_same_batch(loader.evaluation_batch(1), loader.evaluation_batch(1));

  BatchLoader packed(shards_of(directory, {documents}), options(BatchMode::packed, 4, 3, true, 4));
  // Stream 10 11 0 20 21 22 0 30 31 0 40 41 0 50 51 0: 16 tokens, 5 rows of 3 targets.
  ASSERT_EQ(packed.evaluation_batch_count(), 2u);
  const Batch packed_first = packed.evaluation_batch(0);
  expect_row(packed_first, 0, {10, 11, 0}, {11, 0, 20}, {1, 1, 1});
  expect_row(packed_first, 3, {0, 40, 41}, {40, 41, 0}, {1, 1, 1});
  const Batch packed_last = packed.evaluation_batch(1);
  expect_row(packed_last, 0, {0, 50, 51}, {50, 51, 0}, {1, 1, 1});
  expect_row(packed_last, 1, {kPad, kPad, kPad}, {kPad, kPad, kPad}, {0, 0, 0});
}

TEST(BatchLoader, ArgumentChecks) {
  ScratchDirectory directory;
  const std::vector<std::vector<Document>> sets = {{{{1, 2, 3}, {}}}};
  const auto refused = [&](BatchLoaderOptions settings) {
    EXPECT_THROW(BatchLoader(shards_of(directory, sets), settings), std::invalid_argument);
  };
  refused(options(BatchMode::packed, 0, 4));
  refused(options(BatchMode::packed, 2, 0));
  auto bad_pad = options(BatchMode::packed, 2, 4);
  bad_pad.pad_id = 100;
  refused(bad_pad);
  auto bad_separator = options(BatchMode::packed, 2, 4);
  bad_separator.separator_id = -1;
  refused(bad_separator);
  EXPECT_THROW(BatchLoader({}, options(BatchMode::packed, 2, 4)), std::invalid_argument);

  std::vector<TokenShard> mixed = shards_of(directory, sets, 100);
  write_shard(directory / "other-vocab", {.vocab_size = 200}, sets[0]);
  mixed.push_back(TokenShard::open(directory / "other-vocab"));
  EXPECT_THROW(BatchLoader(std::move(mixed), options(BatchMode::packed, 2, 4)), std::invalid_argument);

  auto no_separator = options(BatchMode::packed, 2, 4);
  no_separator.separator_id = std::nullopt;
  EXPECT_THROW(BatchLoader(shards_of(directory, {{{{7}, {}}}}), no_separator), std::invalid_argument)
      << "one token, no separator: not a single target";
  EXPECT_THROW(BatchLoader(shards_of(directory, {{}}), options(BatchMode::padded, 2, 4)),
               std::invalid_argument);
  EXPECT_THROW(BatchLoader::open({directory / "missing"}, options(BatchMode::padded, 2, 4)),
               std::system_error);
}

TEST(BatchLoader, BatchesFeedTheModel) {
  ScratchDirectory directory;
  ModelConfig config;
  config.hidden_size = 16;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.num_key_value_heads = 1;
  config.vocab_size = 100;
  config.intermediate_size = 32;
  config.max_position_embeddings = 16;
  CpuBackend backend(1);
  MiniMindModel model(config, backend, Precision::f32());
  const std::vector<Document> documents = {
      {{1, 2, 3, 4}, {}}, {{5, 6}, {}}, {{7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, {}}, {{18}, {}}};
  for (const BatchMode mode : {BatchMode::padded, BatchMode::packed}) {
    BatchLoader loader(shards_of(directory, {documents}), options(mode, 4, 6, true, 1));
    const Batch batch = loader.next();
    const LossTerms terms = model.forward(batch, false, 0);
    double scored = 0;
    for (float keep : batch.loss_mask.span<float>()) scored += keep;
    EXPECT_EQ(terms.scored_tokens, static_cast<int64_t>(scored));
    EXPECT_TRUE(std::isfinite(terms.loss));
    if (mode == BatchMode::padded) {
      // Padding sits after every real position, so under the causal mask the key mask changes no scored loss.
      Batch without_mask = batch;
      without_mask.attention_mask = Tensor();
      EXPECT_NEAR(model.forward(without_mask, false, 0).loss, terms.loss, 1e-5);
    }
  }
}

}  // namespace
}  // namespace minimind
