// Rows from token shards, shuffled per epoch with xoshiro256** and an unbiased bounded draw of our own (the
// standard library's distributions differ between implementations, and a resumed run must see the same
// order on any build). Rows are located without any per-token index: a padded row is a document, found by
// its global index; a packed row's stream position is found by binary search over each shard's document
// offsets (document i of a shard starts at offsets[i] + i * separator_length in the shard's stream).
#include "data/batch_loader.h"

#include <algorithm>
#include <bit>
#include <nlohmann/json.hpp>
#include <numeric>
#include <stdexcept>
#include <string>

#include "io/strict_json.h"

namespace minimind {
namespace {

using RngState = std::array<uint64_t, 4>;

uint64_t splitmix64(uint64_t& state) {
  uint64_t value = (state += 0x9E3779B97F4A7C15ull);
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
  return value ^ (value >> 31);
}

RngState seed_state(uint64_t seed) {
  RngState state;
  for (uint64_t& word : state) word = splitmix64(seed);
  return state;
}

uint64_t next_random(RngState& s) {
  const uint64_t result = std::rotl(s[1] * 5, 7) * 9;
  const uint64_t shifted = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= shifted;
  s[3] = std::rotl(s[3], 45);
  return result;
}

// Uniform in [0, bound), bound > 0, without bias (Lemire's multiply-and-reject).
uint64_t bounded_random(RngState& state, uint64_t bound) {
  unsigned __int128 product = static_cast<unsigned __int128>(next_random(state)) * bound;
  uint64_t low = static_cast<uint64_t>(product);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      product = static_cast<unsigned __int128>(next_random(state)) * bound;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

const char* mode_name(BatchMode mode) {
  return mode == BatchMode::padded ? "padded" : "packed";
}

[[noreturn]] void bad_option(const std::string& what) {
  throw std::invalid_argument("BatchLoader: " + what);
}

uint64_t unsigned_value(const nlohmann::json& value, const char* field) {
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0))
    throw std::invalid_argument(std::string("loader state: field '") + field +
                                "' must be a non-negative integer, found " + describe_json_value(value));
  return value.get<uint64_t>();
}

uint64_t json_unsigned(const nlohmann::json& json, const char* field) {
  const auto found = json.find(field);
  if (found == json.end())
    throw std::invalid_argument(std::string("loader state: missing field '") + field + "'");
  return unsigned_value(*found, field);
}

}  // namespace

void to_json(nlohmann::json& json, const LoaderState& state) {
  json = nlohmann::json{{"epoch", state.epoch},
                        {"cursor", state.cursor},
                        {"seed", state.seed},
                        {"rng", state.rng},
                        {"mode", state.mode},
                        {"seq_len", state.seq_len},
                        {"rows_per_epoch", state.rows_per_epoch},
                        {"documents", state.documents},
                        {"tokens", state.tokens}};
}

void from_json(const nlohmann::json& json, LoaderState& state) {
  if (!json.is_object())
    throw std::invalid_argument("loader state: expected a JSON object, found " + describe_json_value(json));
  LoaderState read;
  read.epoch = json_unsigned(json, "epoch");
  read.cursor = json_unsigned(json, "cursor");
  read.seed = json_unsigned(json, "seed");
  const auto rng = json.find("rng");
  if (rng == json.end()) throw std::invalid_argument("loader state: missing field 'rng'");
  if (!rng->is_array() || rng->size() != 4)
    throw std::invalid_argument("loader state: field 'rng' must be an array of 4 integers, found " +
                                describe_json_value(*rng));
  for (size_t i = 0; i < 4; ++i) read.rng[i] = unsigned_value((*rng)[i], "rng");
  const auto mode = json.find("mode");
  if (mode == json.end() || !mode->is_string())
    throw std::invalid_argument("loader state: field 'mode' must be a string");
  read.mode = mode->get<std::string>();
  read.seq_len = static_cast<int64_t>(json_unsigned(json, "seq_len"));
  read.rows_per_epoch = json_unsigned(json, "rows_per_epoch");
  read.documents = json_unsigned(json, "documents");
  read.tokens = json_unsigned(json, "tokens");
  state = read;
}

BatchLoader BatchLoader::open(const std::vector<std::filesystem::path>& paths, BatchLoaderOptions options,
                              TokenShardOpenOptions open_options) {
  std::vector<TokenShard> shards;
  shards.reserve(paths.size());
  for (const auto& path : paths) shards.push_back(TokenShard::open(path, open_options));
  return BatchLoader(std::move(shards), options);
}

BatchLoader::BatchLoader(std::vector<TokenShard> shards, BatchLoaderOptions options)
    : shards_(std::move(shards)), options_(options), seed_(options.seed) {
  if (shards_.empty()) bad_option("no shards given");
  if (options_.batch_size <= 0)
    bad_option("batch_size must be positive, got " + std::to_string(options_.batch_size));
  if (options_.seq_len <= 0) bad_option("seq_len must be positive, got " + std::to_string(options_.seq_len));
  vocab_size_ = shards_.front().vocab_size();
  for (const TokenShard& shard : shards_) {
    if (shard.vocab_size() != vocab_size_)
      bad_option("shard " + shard.path().string() + " has vocab_size " + std::to_string(shard.vocab_size()) +
                 ", shard " + shards_.front().path().string() + " has " + std::to_string(vocab_size_));
  }
  const auto check_id = [&](int32_t id, const char* name) {
    if (id < 0 || static_cast<uint32_t>(id) >= vocab_size_)
      bad_option(std::string(name) + " " + std::to_string(id) + " outside [0, vocab_size " +
                 std::to_string(vocab_size_) + ")");
  };
  check_id(options_.pad_id, "pad_id");
  const bool packed = options_.mode == BatchMode::packed;
  if (packed && options_.separator_id) {
    check_id(*options_.separator_id, "separator_id");
    separator_length_ = 1;
  }

  const auto row_tokens = static_cast<uint64_t>(options_.seq_len) + 1;
  summary_.shards = shards_.size();
  shard_first_.assign(1, 0);
  for (const TokenShard& shard : shards_) {
    summary_.documents += shard.document_count();
    summary_.tokens += shard.token_count();
    if (packed) {
      summary_.separators += shard.document_count() * separator_length_;
      shard_first_.push_back(shard_first_.back() + shard.token_count() +
                             shard.document_count() * separator_length_);
    } else {
      shard_first_.push_back(shard_first_.back() + shard.document_count());
      for (uint64_t i = 0; i < shard.document_count(); ++i) {
        const uint64_t size = shard.document_size(i);
        if (size > row_tokens) {
          ++summary_.truncated_documents;
          summary_.truncated_tokens += size - row_tokens;
        }
        if (size < 2) ++summary_.unscored_documents;
      }
    }
  }
  if (packed) {
    const uint64_t stream = shard_first_.back();
    const auto stride = static_cast<uint64_t>(options_.seq_len);
    rows_ = stream >= 2 ? (stream - 1 + stride - 1) / stride : 0;
  } else {
    rows_ = shard_first_.back();
  }
  if (rows_ == 0)
    bad_option("the dataset gives no row (" + std::to_string(summary_.documents) + " documents, " +
               std::to_string(summary_.tokens) + " tokens in " + std::to_string(shards_.size()) + " shards)");
  summary_.rows_per_epoch = rows_;

  epoch_rng_ = seed_state(seed_);
  draw_order();
}

void BatchLoader::draw_order() {
  RngState rng = epoch_rng_;
  if (options_.shuffle) {
    order_.resize(rows_);
    std::iota(order_.begin(), order_.end(), uint64_t{0});
    for (uint64_t i = rows_ - 1; i > 0; --i) std::swap(order_[i], order_[bounded_random(rng, i + 1)]);
  }
  next_rng_ = rng;
}

void BatchLoader::start_next_epoch() {
  ++epoch_;
  cursor_ = 0;
  epoch_rng_ = next_rng_;
  draw_order();
}

void BatchLoader::fill_padded_row(uint64_t document, RowBuffer& row) const {
  const auto shard_index = static_cast<size_t>(
      std::upper_bound(shard_first_.begin(), shard_first_.end(), document) - shard_first_.begin() - 1);
  const TokenShard& shard = shards_[shard_index];
  const uint64_t local = document - shard_first_[shard_index];
  const TokenSpan tokens = shard.document(local);
  row.size = std::min<size_t>(tokens.size(), static_cast<size_t>(options_.seq_len) + 1);
  tokens.subspan(0, row.size).copy_to(row.tokens);
  const std::span<const uint8_t> mask = shard.loss_mask(local);
  for (size_t i = 0; i < row.size; ++i) row.mask[i] = mask.empty() ? 1.0f : mask[i];
}

void BatchLoader::fill_packed_row(uint64_t row_index, RowBuffer& row) const {
  const auto stride = static_cast<uint64_t>(options_.seq_len);
  const uint64_t stream_size = shard_first_.back();
  const uint64_t position = row_index * stride;
  const uint64_t wanted = std::min<uint64_t>(stride + 1, stream_size - position);
  auto shard_index = static_cast<size_t>(
      std::upper_bound(shard_first_.begin(), shard_first_.end(), position) - shard_first_.begin() - 1);
  const uint64_t local = position - shard_first_[shard_index];

  // The document holding `local`: the last one whose stream start is at or before it.
  const std::span<const uint64_t> offsets = shards_[shard_index].document_offsets();
  const auto starts_after = [&](uint64_t i) { return offsets[i] + i * separator_length_ > local; };
  uint64_t low = 0, high = shards_[shard_index].document_count();  // answer in [low, high)
  while (high - low > 1) {
    const uint64_t middle = low + (high - low) / 2;
    if (starts_after(middle))
      high = middle;
    else
      low = middle;
  }
  uint64_t document = low;
  uint64_t within = local - (offsets[document] + document * separator_length_);  // may point at the separator

  row.size = 0;
  while (row.size < wanted) {
    const TokenShard& shard = shards_[shard_index];
    if (document == shard.document_count()) {
      ++shard_index;
      document = 0;
      within = 0;
      continue;
    }
    const TokenSpan tokens = shard.document(document);
    const std::span<const uint8_t> mask = shard.loss_mask(document);
    if (within < tokens.size()) {
      const auto count = static_cast<size_t>(std::min<uint64_t>(tokens.size() - within, wanted - row.size));
      tokens.subspan(static_cast<size_t>(within), count)
          .copy_to(std::span<int32_t>(row.tokens).subspan(row.size, count));
      for (size_t i = 0; i < count; ++i)
        row.mask[row.size + i] = mask.empty() ? 1.0f : mask[static_cast<size_t>(within) + i];
      row.size += count;
      within += count;
      if (row.size == wanted) break;
    }
    if (separator_length_ > 0) {
      row.tokens[row.size] = *options_.separator_id;
      row.mask[row.size] = shard.has_loss_mask() ? 0.0f : 1.0f;
      ++row.size;
    }
    ++document;
    within = 0;
  }
}

void BatchLoader::fill_row(uint64_t row_index, RowBuffer& row) const {
  if (options_.mode == BatchMode::padded)
    fill_padded_row(row_index, row);
  else
    fill_packed_row(row_index, row);
}

Batch BatchLoader::allocate_batch() const {
  const Shape shape{options_.batch_size, options_.seq_len};
  Batch batch;
  batch.input_ids = Tensor::empty(shape, DType::i32);
  batch.targets = Tensor::empty(shape, DType::i32);
  batch.loss_mask = Tensor::empty(shape, DType::f32);
  if (options_.mode == BatchMode::padded) batch.attention_mask = Tensor::empty(shape, DType::i32);
  return batch;
}

// Position t of row b: input row[t], target row[t + 1] while t + 1 < size, padding after.
void BatchLoader::emit_row(const RowBuffer& row, int64_t b, Batch& batch) const {
  const auto length = static_cast<size_t>(options_.seq_len);
  const size_t begin = static_cast<size_t>(b) * length;
  int32_t* inputs = batch.input_ids.data<int32_t>() + begin;
  int32_t* targets = batch.targets.data<int32_t>() + begin;
  float* loss_mask = batch.loss_mask.data<float>() + begin;
  const size_t real = row.size > 0 ? std::min(row.size - 1, length) : 0;
  for (size_t t = 0; t < real; ++t) {
    inputs[t] = row.tokens[t];
    targets[t] = row.tokens[t + 1];
    loss_mask[t] = row.mask[t + 1];
  }
  std::fill(inputs + real, inputs + length, options_.pad_id);
  std::fill(targets + real, targets + length, options_.pad_id);
  std::fill(loss_mask + real, loss_mask + length, 0.0f);
  if (batch.attention_mask.defined()) {
    int32_t* attention = batch.attention_mask.data<int32_t>() + begin;
    std::fill(attention, attention + real, 1);
    std::fill(attention + real, attention + length, 0);
    attention[0] = 1;
  }
}

Batch BatchLoader::next() {
  Batch batch = allocate_batch();
  RowBuffer row{std::vector<int32_t>(static_cast<size_t>(options_.seq_len) + 1),
                std::vector<float>(static_cast<size_t>(options_.seq_len) + 1), 0};
  for (int64_t b = 0; b < options_.batch_size; ++b) {
    if (cursor_ == rows_) start_next_epoch();
    fill_row(options_.shuffle ? order_[cursor_] : cursor_, row);
    emit_row(row, b, batch);
    ++cursor_;
  }
  if (cursor_ == rows_) start_next_epoch();  // the position names the epoch of the next row
  return batch;
}

uint64_t BatchLoader::evaluation_batch_count() const {
  const auto batch_size = static_cast<uint64_t>(options_.batch_size);
  return (rows_ + batch_size - 1) / batch_size;
}

Batch BatchLoader::evaluation_batch(uint64_t index) const {
  if (index >= evaluation_batch_count())
    throw std::out_of_range("BatchLoader::evaluation_batch: batch " + std::to_string(index) +
                            " requested, there are " + std::to_string(evaluation_batch_count()));
  Batch batch = allocate_batch();
  RowBuffer row{std::vector<int32_t>(static_cast<size_t>(options_.seq_len) + 1),
                std::vector<float>(static_cast<size_t>(options_.seq_len) + 1), 0};
  for (int64_t b = 0; b < options_.batch_size; ++b) {
    const uint64_t row_index = index * static_cast<uint64_t>(options_.batch_size) + static_cast<uint64_t>(b);
    if (row_index < rows_) {
      fill_row(row_index, row);
    } else {
      row.size = 0;  // filler: all padding, unscored
    }
    emit_row(row, b, batch);
  }
  return batch;
}

LoaderState BatchLoader::state() const {
  LoaderState state;
  state.epoch = epoch_;
  state.cursor = cursor_;
  state.seed = seed_;
  state.rng = epoch_rng_;
  state.mode = mode_name(options_.mode);
  state.seq_len = options_.seq_len;
  state.rows_per_epoch = rows_;
  state.documents = summary_.documents;
  state.tokens = summary_.tokens;
  return state;
}

void BatchLoader::restore(const LoaderState& state) {
  const auto mismatch = [](const std::string& field, const std::string& saved, const std::string& here) {
    throw std::invalid_argument(
        "BatchLoader::restore: the saved position belongs to another dataset or layout: " + field + " is " +
        saved + " in the state, " + here + " here");
  };
  if (state.mode != mode_name(options_.mode)) mismatch("mode", state.mode, mode_name(options_.mode));
  if (state.seq_len != options_.seq_len)
    mismatch("seq_len", std::to_string(state.seq_len), std::to_string(options_.seq_len));
  if (state.documents != summary_.documents)
    mismatch("documents", std::to_string(state.documents), std::to_string(summary_.documents));
  if (state.tokens != summary_.tokens)
    mismatch("tokens", std::to_string(state.tokens), std::to_string(summary_.tokens));
  if (state.rows_per_epoch != rows_)
    mismatch("rows_per_epoch", std::to_string(state.rows_per_epoch), std::to_string(rows_));
  if (state.cursor > rows_)
    throw std::invalid_argument("BatchLoader::restore: cursor " + std::to_string(state.cursor) +
                                " beyond the " + std::to_string(rows_) + " rows of an epoch");
  if (state.rng == RngState{})
    throw std::invalid_argument(
        "BatchLoader::restore: the rng state is all zero, which no generator reaches");

  seed_ = state.seed;
  epoch_ = state.epoch;
  epoch_rng_ = state.rng;
  draw_order();
  cursor_ = state.cursor;
  if (cursor_ == rows_) start_next_epoch();
}

}  // namespace minimind
