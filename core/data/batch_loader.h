// The batch loader: token shards (one dataset, however many files) -> batches of (input ids, target ids,
// loss mask) for the model. The dataset is cut into rows of seq_len + 1 tokens, input = row[0, T),
// target = row[1, T + 1); rows come in a seeded order that changes every epoch, and batches run on across
// epoch ends (a batch may hold the last rows of one epoch and the first of the next), so every batch is full
// and no row is skipped. The position is a small value (LoaderState) that restores the exact sequence.
//
// Two ways to make rows:
// - padded: one document per row, its first T + 1 tokens (longer documents are truncated); the rest of the
//   row is pad_id with loss mask 0 and attention mask 0. Rows are shuffled as documents.
// - packed: all documents in stored order, each followed by separator_id (<|endoftext|>), form one stream;
//   row r is stream[r * T, r * T + T + 1) (consecutive rows share one token, so every token but the first is
//   a target exactly once per epoch); the last row is padded as above. Rows are shuffled as chunks.
// The loss mask of target t is the stored mask of that token (SFT shards) or 1; a separator's is 1, or 0 in
// a shard with a loss mask (the conversation's own <|im_end|> is what SFT scores).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/token_shard.h"
#include "model/minimind_model.h"

namespace minimind {

enum class BatchMode { padded, packed };

struct BatchLoaderOptions {
  BatchMode mode = BatchMode::packed;
  int64_t batch_size = 0;  // B, rows per batch
  int64_t seq_len = 0;     // T, positions per row
  int32_t pad_id = 0;
  std::optional<int32_t> separator_id = 0;  // packed mode: after every document; nullopt for none
  uint64_t seed = 0;
  bool shuffle = true;  // false: stored order every epoch
};

// A loader's position: the next row is row `cursor` of epoch `epoch`, whose order is drawn from `rng` (the
// generator's state before that epoch's shuffle; later epochs continue from it). The dataset fields identify
// what the position belongs to: restore() refuses a state from another dataset or row layout.
struct LoaderState {
  uint64_t epoch = 0;
  uint64_t cursor = 0;
  uint64_t seed = 0;
  std::array<uint64_t, 4> rng{};
  std::string mode;  // "padded" or "packed"
  int64_t seq_len = 0;
  uint64_t rows_per_epoch = 0;
  uint64_t documents = 0;
  uint64_t tokens = 0;

  bool operator==(const LoaderState&) const = default;
};

// {"epoch", "cursor", "seed", "rng": [4 numbers], "mode", "seq_len", "rows_per_epoch", "documents",
// "tokens"}. from_json throws std::invalid_argument naming a missing or mistyped field.
void to_json(nlohmann::json& json, const LoaderState& state);
void from_json(const nlohmann::json& json, LoaderState& state);

// What the dataset holds and how the rows use it.
struct LoaderSummary {
  uint64_t shards = 0;
  uint64_t documents = 0;
  uint64_t tokens = 0;
  uint64_t rows_per_epoch = 0;
  uint64_t truncated_documents = 0;  // padded: documents longer than seq_len + 1
  uint64_t truncated_tokens = 0;     // padded: the tokens cut from them
  uint64_t unscored_documents = 0;   // padded: documents of one token, which give no target
  uint64_t separators = 0;           // packed: separator ids inserted into the stream
};

class BatchLoader {
 public:
  // All shards must share one vocab_size; pad_id and separator_id must lie below it. Throws
  // std::invalid_argument for bad options, a vocabulary mismatch or a dataset without a single row.
  BatchLoader(std::vector<TokenShard> shards, BatchLoaderOptions options);
  static BatchLoader open(const std::vector<std::filesystem::path>& paths, BatchLoaderOptions options,
                          TokenShardOpenOptions open_options = {});

  // The next B rows: input_ids, targets (i32 [B, T]), loss_mask (f32 [B, T], 1 = scored) and, in padded
  // mode, attention_mask (i32 [B, T], 0 = padding; position 0 is always 1 so no query is left without a key);
  // packed rows need no attention mask (their only padding ends the last row, behind the causal mask).
  Batch next();

  LoaderState state() const;
  void restore(const LoaderState& state);

  // The whole dataset in stored order, unshuffled, in ceil(rows / B) batches; the last is filled up with
  // unscored padding rows. Independent of the position (for validation).
  uint64_t evaluation_batch_count() const;
  Batch evaluation_batch(uint64_t index) const;

  const BatchLoaderOptions& options() const { return options_; }
  const LoaderSummary& summary() const { return summary_; }
  uint64_t rows_per_epoch() const { return rows_; }
  uint64_t epoch() const { return epoch_; }
  uint64_t cursor() const { return cursor_; }
  uint32_t vocab_size() const { return vocab_size_; }

 private:
  struct RowBuffer {
    std::vector<int32_t> tokens;  // the row's stream tokens, seq_len + 1 at most
    std::vector<float> mask;      // the loss mask of each, as a target
    size_t size = 0;
  };
  void fill_padded_row(uint64_t document, RowBuffer& row) const;
  void fill_packed_row(uint64_t row_index, RowBuffer& row) const;
  void fill_row(uint64_t row_index, RowBuffer& row) const;
  Batch allocate_batch() const;
  void emit_row(const RowBuffer& row, int64_t b, Batch& batch) const;
  void draw_order();
  void start_next_epoch();

  std::vector<TokenShard> shards_;
  BatchLoaderOptions options_;
  uint32_t vocab_size_ = 0;
  uint64_t rows_ = 0;
  uint64_t separator_length_ = 0;      // 1 with a separator, else 0
  std::vector<uint64_t> shard_first_;  // padded: first global document of each shard; packed: first
                                       // stream position; one more entry holds the total
  LoaderSummary summary_;

  uint64_t epoch_ = 0;
  uint64_t cursor_ = 0;
  uint64_t seed_ = 0;
  std::array<uint64_t, 4> epoch_rng_{};  // before this epoch's shuffle
  std::array<uint64_t, 4> next_rng_{};   // after it: where the next epoch starts
  std::vector<uint64_t> order_;          // this epoch's row order (empty when not shuffling)
};

}  // namespace minimind
