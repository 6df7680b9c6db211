// The MiniMind network's weights, forward and cached inference as sequences of backend ops (the backward is
// in minimind_model_backward.cpp).
#include "model/minimind_model.h"

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

#include "model/model_plan.h"
#include "tensor/convert.h"

namespace minimind {

using model_plan::dropout_site;
using model_plan::routed_expert_weights;

namespace {

const ModelConfig& validated(const ModelConfig& config) {
  check_valid(config);
  return config;
}

Precision supported(const Precision& precision, const Backend& backend) {
  if (!backend.supports_compute(precision.compute))
    throw std::invalid_argument("model: the " + std::string(device_name(backend.device())) +
                                " backend does not compute in " + std::string(dtype_name(precision.compute)) +
                                " (precision " + precision_name(precision) +
                                "); the CPU computes in f32 or f64, "
                                "the GPU in f32 or bf16");
  return precision;
}

int64_t buffer_bytes(const Tensor& t) {
  return t.defined() ? static_cast<int64_t>(t.bytes()) : 0;
}

}  // namespace

MiniMindModel::MiniMindModel(const ModelConfig& config, Backend& backend, Precision precision)
    : config_(validated(config)),
      backend_(backend),
      precision_(supported(precision, backend)),
      layout_(config_) {
  parameters_ = ParameterSet(layout_, backend_, precision_.master());
  if (precision_.separate_compute_weights()) compute_ = ParameterSet(layout_, backend_, precision_.compute);
  const RopeTables tables = make_rope_tables(config_, precision_.statistic());
  rope_cos_ = backend_.empty(tables.cos.shape(), precision_.statistic());
  rope_sin_ = backend_.empty(tables.sin.shape(), precision_.statistic());
  backend_.copy(tables.cos, rope_cos_);
  backend_.copy(tables.sin, rope_sin_);
  // The seed's norms start at one.
  init_weights(0);
}

MiniMindModel::~MiniMindModel() = default;

const ParameterSet& MiniMindModel::compute_weights() const {
  return precision_.separate_compute_weights() ? compute_ : parameters_;
}

ParameterSet* MiniMindModel::compute_copy() {
  return precision_.separate_compute_weights() ? &compute_ : nullptr;
}

void MiniMindModel::refresh_compute_weights() {
  if (precision_.separate_compute_weights()) backend_.copy(parameters_.buffer(), compute_.buffer());
}

ParameterSet& MiniMindModel::gradients() {
  if (!gradients_.buffer().defined()) gradients_ = ParameterSet(layout_, backend_, precision_.gradient());
  return gradients_;
}

void MiniMindModel::init_weights(uint64_t seed) {
  Tensor host = Tensor::empty({layout_.total()}, DType::f64);
  double* values = host.data<double>();
  std::mt19937_64 rng(seed);
  for (const ParameterEntry& e : layout_.entries()) {
    double* p = values + e.offset;
    if (e.shape.size() == 1) {
      std::fill(p, p + e.numel(), 1.0);
      continue;
    }
    // nn.Linear's default (kaiming uniform with a = sqrt(5)) is U(-1/sqrt(in), 1/sqrt(in)); the embedding is
    // lm_head's weight, tied.
    const double bound = 1.0 / std::sqrt(static_cast<double>(e.shape[1]));
    std::uniform_real_distribution<double> uniform(-bound, bound);
    for (int64_t i = 0; i < e.numel(); ++i) p[i] = uniform(rng);
  }
  // Narrowed on the host, so the master weights are the same on every device.
  backend_.copy(convert_dtype(host, precision_.master()), parameters_.buffer());
  refresh_compute_weights();
}

MiniMindModel::Plan& MiniMindModel::ensure_plan(int64_t batch, int64_t seq_len, bool for_training) {
  // Training and inference keep separate plans, so a probe between steps does not reallocate the step's.
  std::unique_ptr<Plan>& plan = for_training ? train_plan_ : infer_plan_;
  if (plan && plan->batch == batch && plan->seq_len == seq_len) return *plan;
  if (last_plan_ == plan.get()) last_plan_ = nullptr;
  plan.reset();  // free the old buffers before taking new ones
  plan = std::make_unique<Plan>();
  model_plan::Allocator alloc{&backend_, precision_.compute};
  model_plan::build(*plan, config_, batch, seq_len, for_training, alloc);
  plan->bytes = alloc.bytes;
  if (for_training) have_forward_ = have_totals_ = false;
  return *plan;
}

int64_t MiniMindModel::activation_bytes(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                        DType compute) {
  Plan plan;
  model_plan::Allocator counter{nullptr, compute};
  model_plan::build(plan, config, batch, seq_len, true, counter);
  return counter.bytes;
}

int64_t MiniMindModel::inference_activation_bytes(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                                  DType compute) {
  Plan plan;
  model_plan::Allocator counter{nullptr, compute};
  model_plan::build(plan, config, batch, seq_len, false, counter);
  return counter.bytes;
}

int64_t MiniMindModel::allocated_activation_bytes() const { return train_plan_ ? train_plan_->bytes : 0; }

int64_t MiniMindModel::allocated_bytes() const {
  return buffer_bytes(parameters_.buffer()) + buffer_bytes(compute_.buffer()) +
         buffer_bytes(gradients_.buffer()) + buffer_bytes(rope_cos_) + buffer_bytes(rope_sin_) +
         allocated_activation_bytes() + (infer_plan_ ? infer_plan_->bytes : 0);
}

Dropout MiniMindModel::dropout_at(const Plan& plan, int64_t layer, uint64_t place) const {
  return {config_.dropout, plan.step_seed, dropout_site(layer, place)};
}

// ---------------------------------------------------------------------------------------------------------
// forward

namespace {

void check_batch_tensor(const Tensor& t, const Shape& shape, DType dtype, const char* op, const char* name) {
  if (!t.defined()) return;
  expect_shape(t, shape, op, name);
  expect_dtype(t, dtype, op, name);
}

// Ids index the embedding and targets the logits; the ops trust them, so they are checked here, once per
// batch, where they come from the host.
void check_token_range(const Tensor& ids, int64_t vocab, const char* op, const char* name) {
  const int64_t columns = ids.dim(1);
  const std::span<const int32_t> values = ids.span<int32_t>();
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] < 0 || values[i] >= vocab)
      throw std::invalid_argument(std::string(op) + ": " + name + "[" + std::to_string(i / columns) + ", " +
                                  std::to_string(i % columns) + "] = " + std::to_string(values[i]) +
                                  " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
}

}  // namespace

void MiniMindModel::forward_async(const Batch& batch, bool training, uint64_t dropout_seed) {
  const char* op = "model.forward";
  expect_defined(batch.input_ids, op, "input_ids");
  expect_rank(batch.input_ids, 2, op, "input_ids");
  expect_dtype(batch.input_ids, DType::i32, op, "input_ids");
  const int64_t b = batch.input_ids.dim(0), t = batch.input_ids.dim(1);
  if (b <= 0 || t <= 0) throw std::invalid_argument("model.forward: empty batch " + batch.input_ids.describe());
  if (t > config_.max_position_embeddings)
    throw std::invalid_argument("model.forward: sequence length " + std::to_string(t) +
                                " exceeds max_position_embeddings " +
                                std::to_string(config_.max_position_embeddings));
  expect_defined(batch.targets, op, "targets");
  check_batch_tensor(batch.targets, {b, t}, DType::i32, op, "targets");
  check_batch_tensor(batch.attention_mask, {b, t}, DType::i32, op, "attention_mask");
  if (batch.loss_mask.defined()) {
    expect_shape(batch.loss_mask, {b, t}, op, "loss_mask");
    if (batch.loss_mask.dtype() != DType::f32 && batch.loss_mask.dtype() != DType::f64)
      throw std::invalid_argument("model.forward: loss_mask must be f32 or f64, got " +
                                  batch.loss_mask.describe());
  }
  check_token_range(batch.input_ids, config_.vocab_size, op, "input_ids");
  check_token_range(batch.targets, config_.vocab_size, op, "targets");

  Plan& p = ensure_plan(b, t, true);
  const int64_t n = b * t;
  backend_.copy(batch.input_ids, p.ids);
  backend_.copy(batch.targets, p.targets);
  p.has_key_mask = batch.attention_mask.defined();
  if (p.has_key_mask) backend_.copy(batch.attention_mask, p.key_mask);
  p.has_loss_mask = batch.loss_mask.defined();
  if (p.has_loss_mask) backend_.copy(batch.loss_mask, p.loss_mask);  // converts to the statistic dtype
  const bool use_dropout = training && config_.dropout > 0;
  if (use_dropout) {
    // The micro-step's seed, on the device: every dropout site mixes its own number into it.
    Tensor seed = Tensor::empty({2}, DType::i32);
    seed.data<int32_t>()[0] = static_cast<int32_t>(static_cast<uint32_t>(dropout_seed));
    seed.data<int32_t>()[1] = static_cast<int32_t>(static_cast<uint32_t>(dropout_seed >> 32));
    backend_.copy(seed, p.step_seed);
  }
  backend_.zero(p.totals);  // the aux loss accumulates into its slot

  const ParameterSet& w = compute_weights();
  const Tensor embed = w.get("model.embed_tokens.weight");
  backend_.embedding_forward(p.ids.view({n}), embed, p.residual[0]);
  if (use_dropout) backend_.dropout(p.residual[0], dropout_at(p, -1, model_plan::kEmbedding));

  Tensor aux = p.totals.flat(kTotalsAuxLoss, {1});
  for (int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) {
    LayerState& s = p.layers[static_cast<size_t>(layer)];
    s.input = p.residual[static_cast<size_t>(layer)];
    s.output = p.residual[static_cast<size_t>(layer + 1)];
    layer_forward(layer, s, p, training, nullptr);
    if (config_.use_moe && training && config_.aux_loss_alpha > 0)
      backend_.moe_aux_loss_forward(s.scores, s.topk_index, b, config_.seq_aux, config_.aux_loss_alpha, aux);
  }

  backend_.rmsnorm_forward(p.residual.back(), w.get("model.norm.weight"), config_.rms_norm_eps, p.norm_f,
                           p.rstd_f);
  backend_.matmul(p.norm_f, false, embed, true, p.logits, false);
  backend_.cross_entropy_forward(p.logits, p.targets.view({n}), p.losses, p.logsumexp);
  backend_.masked_loss_totals(p.losses, p.has_loss_mask ? p.loss_mask : Tensor{}, p.totals);
  have_forward_ = true;
  have_totals_ = true;
  last_training_ = training;
  last_dropout_ = use_dropout;
  last_plan_ = &p;
}

LossTerms MiniMindModel::forward(const Batch& batch, bool training, uint64_t dropout_seed) {
  forward_async(batch, training, dropout_seed);
  const Tensor totals = backend_.to_host(loss_totals());
  const double* values = totals.data<double>();
  const double weighted = values[kTotalsWeightedLoss], scored = values[kTotalsScored];
  LossTerms terms;
  terms.cross_entropy = scored > 0 ? weighted / scored : 0.0;
  terms.aux_loss = values[kTotalsAuxLoss];
  terms.loss = terms.cross_entropy + terms.aux_loss;
  terms.scored_tokens = static_cast<int64_t>(std::llround(scored));
  return terms;
}

const Tensor& MiniMindModel::loss_totals() const {
  if (!train_plan_ || !have_totals_) throw std::logic_error("model.loss_totals: no forward has run");
  return train_plan_->totals;
}

void MiniMindModel::layer_forward(int64_t layer, LayerState& s, Plan& p, bool training, KvCache* cache) {
  attention_forward(layer, s, p, training, cache);
  if (config_.use_moe)
    moe_forward(layer, s, p, training);
  else
    ffn_forward(layer, s, p, training);
}

void MiniMindModel::attention_forward(int64_t layer, LayerState& s, Plan& p, bool training, KvCache* cache) {
  const std::string prefix = layer_prefix(layer);
  const ParameterSet& w = compute_weights();
  const int64_t b = p.batch, t = p.seq_len, d = config_.head_dim();
  const bool use_dropout = training && config_.dropout > 0;
  backend_.rmsnorm_forward(s.input, w.get(prefix + "input_layernorm.weight"), config_.rms_norm_eps, s.norm1,
                           s.rstd1);
  backend_.matmul(s.norm1, false,
                  w.fused(prefix + "self_attn.q_proj.weight", prefix + "self_attn.v_proj.weight"), true,
                  p.qkv, false);
  Tensor qkv = p.qkv.view({b, t, p.qkv.dim(1)});
  Tensor& k = cache ? cache->keys[static_cast<size_t>(layer)] : s.k;
  Tensor& v = cache ? cache->values[static_cast<size_t>(layer)] : s.v;
  const int64_t offset = cache ? cache->length_ : 0;
  backend_.rope_split_forward(qkv, rope_cos_, rope_sin_, offset, s.q, k, v);

  AttentionOptions options;
  options.num_keys = offset + t;
  options.query_offset = offset;
  options.scale = 1.0 / std::sqrt(static_cast<double>(d));
  if (use_dropout) options.dropout = dropout_at(p, layer, model_plan::kAttentionProbs);
  const Tensor key_mask =
      cache ? (cache->has_padding ? cache->key_mask : Tensor{}) : (p.has_key_mask ? p.key_mask : Tensor{});
  Tensor attn = s.attn.view({b, t, config_.num_attention_heads, d});
  Tensor lse = s.lse;  // saved for the backward in training; undefined in inference
  backend_.attention_forward(s.q, k, v, key_mask, options, attn, lse);

  const Tensor o_proj = w.get(prefix + "self_attn.o_proj.weight");
  backend_.copy(s.input, s.h1);
  if (use_dropout) {
    backend_.matmul(s.attn, false, o_proj, true, p.projection, false);
    backend_.dropout(p.projection, dropout_at(p, layer, model_plan::kAttentionOutput));
    backend_.add(s.h1, p.projection);
  } else {
    backend_.matmul(s.attn, false, o_proj, true, s.h1, true);
  }
}

void MiniMindModel::ffn_forward(int64_t layer, LayerState& s, Plan& p, bool training) {
  const std::string prefix = layer_prefix(layer) + "mlp.";
  const ParameterSet& w = compute_weights();
  backend_.rmsnorm_forward(s.h1, w.get(layer_prefix(layer) + "post_attention_layernorm.weight"),
                           config_.rms_norm_eps, s.norm2, s.rstd2);
  backend_.matmul(s.norm2, false, w.fused(prefix + "gate_proj.weight", prefix + "up_proj.weight"), true,
                  s.gate_up, false);
  backend_.swiglu_forward(s.gate_up, s.act);
  const Tensor down = w.get(prefix + "down_proj.weight");
  backend_.copy(s.h1, s.output);
  if (training && config_.dropout > 0) {
    backend_.matmul(s.act, false, down, true, p.projection, false);
    backend_.dropout(p.projection, dropout_at(p, layer, model_plan::kFfnOutput));
    backend_.add(s.output, p.projection);
  } else {
    backend_.matmul(s.act, false, down, true, s.output, true);
  }
}

void MiniMindModel::moe_forward(int64_t layer, LayerState& s, Plan& p, bool training) {
  const std::string prefix = layer_prefix(layer) + "mlp.";
  const ParameterSet& w = compute_weights();
  const bool use_dropout = training && config_.dropout > 0;
  backend_.rmsnorm_forward(s.h1, w.get(layer_prefix(layer) + "post_attention_layernorm.weight"),
                           config_.rms_norm_eps, s.norm2, s.rstd2);
  // The router's logits and scores are statistics: compute-dtype operands, a statistic-dtype product.
  backend_.matmul(s.norm2, false, w.get(prefix + "gate.weight"), true, p.router_logits, false);
  backend_.moe_router_forward(p.router_logits, config_.norm_topk_prob, s.scores, s.topk_index, s.topk_weight);
  s.expert_offsets = p.expert_offsets[static_cast<size_t>(layer)];
  backend_.moe_plan(s.topk_index, config_.n_routed_experts, s.expert_offsets, s.slot_of);
  backend_.moe_gather(s.norm2, s.slot_of, s.sorted_x);

  // Every routed expert's SwiGLU over its sorted rows, one grouped product per projection.
  backend_.expert_matmul(s.sorted_x, routed_expert_weights(w, config_, layer, true), s.expert_offsets,
                         s.expert_gate_up);
  backend_.swiglu_forward(s.expert_gate_up, s.expert_act);
  backend_.expert_matmul(s.expert_act, routed_expert_weights(w, config_, layer, false), s.expert_offsets,
                         s.expert_out);
  if (use_dropout) backend_.dropout(s.expert_out, dropout_at(p, layer, model_plan::kRoutedExperts));
  backend_.copy(s.h1, s.output);
  backend_.moe_combine_forward(s.expert_out, s.topk_weight, s.slot_of, s.output);

  for (int64_t j = 0; j < config_.n_shared_experts; ++j) {
    const std::string sp = prefix + "shared_experts." + std::to_string(j) + ".";
    Tensor& gate_up = s.shared_gate_up[static_cast<size_t>(j)];
    Tensor& act = s.shared_act[static_cast<size_t>(j)];
    backend_.matmul(s.norm2, false, w.fused(sp + "gate_proj.weight", sp + "up_proj.weight"), true, gate_up,
                    false);
    backend_.swiglu_forward(gate_up, act);
    const Tensor down = w.get(sp + "down_proj.weight");
    if (use_dropout) {
      backend_.matmul(act, false, down, true, p.projection, false);
      backend_.dropout(p.projection,
                       dropout_at(p, layer, model_plan::kSharedExperts + static_cast<uint64_t>(j)));
      backend_.add(s.output, p.projection);
    } else {
      backend_.matmul(act, false, down, true, s.output, true);
    }
  }
}

Tensor MiniMindModel::logits() const {
  if (!train_plan_) throw std::logic_error("model.logits: no forward has run");
  return train_plan_->logits.view({train_plan_->batch, train_plan_->seq_len, config_.vocab_size});
}

ExpertLoad MiniMindModel::expert_load() const {
  ExpertLoad load;
  if (!config_.use_moe || !last_plan_) return load;
  const size_t experts = static_cast<size_t>(config_.n_routed_experts);
  for (const Tensor& device_offsets : last_plan_->expert_offsets) {
    const Tensor offsets = backend_.to_host(device_offsets);
    const int32_t* o = offsets.data<int32_t>();
    const double slots = static_cast<double>(o[experts]);
    std::vector<double>& fraction = load.fraction.emplace_back(experts, 0.0);
    for (size_t e = 0; e < experts; ++e) fraction[e] = slots > 0 ? (o[e + 1] - o[e]) / slots : 0.0;
  }
  return load;
}

// ---------------------------------------------------------------------------------------------------------
// inference with a KV cache

KvCache MiniMindModel::make_cache(int64_t batch, int64_t capacity) const {
  if (batch <= 0 || capacity <= 0 || capacity > config_.max_position_embeddings)
    throw std::invalid_argument("kv cache: batch " + std::to_string(batch) + " and capacity " +
                                std::to_string(capacity) +
                                " must be positive and capacity at most max_position_embeddings " +
                                std::to_string(config_.max_position_embeddings));
  KvCache cache;
  cache.batch_ = batch;
  cache.capacity_ = capacity;
  const Shape shape{batch, capacity, config_.num_key_value_heads, config_.head_dim()};
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    cache.keys.push_back(backend_.empty(shape, precision_.compute));
    cache.values.push_back(backend_.empty(shape, precision_.compute));
  }
  cache.key_mask = backend_.empty({batch, capacity}, DType::i32);
  cache.host_key_mask = Tensor::zeros({batch, capacity}, DType::i32);
  return cache;
}

Tensor MiniMindModel::forward_cached(const Tensor& input_ids, KvCache& cache, const Tensor& attention_mask,
                                     std::vector<Tensor>* attention_probs) {
  const Plan& p = run_cached(input_ids, cache, attention_mask, attention_probs);
  Tensor out = Tensor::empty({p.batch, p.seq_len, config_.vocab_size}, precision_.statistic());
  backend_.copy(p.logits, out);  // widened from a narrower compute dtype
  return out;
}

const Tensor& MiniMindModel::forward_cached_last(const Tensor& input_ids, KvCache& cache,
                                                 const Tensor& attention_mask) {
  const Plan& p = run_cached(input_ids, cache, attention_mask, nullptr);
  const int64_t b = p.batch, t = p.seq_len, v = config_.vocab_size;
  if (t == 1) {
    last_logits_ = p.logits.view({b, v});
    return last_logits_;
  }
  last_logits_ = backend_.empty({b, v}, p.logits.dtype());  // once per prefill
  for (int64_t i = 0; i < b; ++i) {
    Tensor row = last_logits_.flat(i * v, {v});
    backend_.copy(p.logits.flat(((i + 1) * t - 1) * v, {v}), row);
  }
  return last_logits_;
}

MiniMindModel::Plan& MiniMindModel::run_cached(const Tensor& input_ids, KvCache& cache,
                                               const Tensor& attention_mask,
                                               std::vector<Tensor>* attention_probs) {
  const char* op = "model.forward_cached";
  expect_defined(input_ids, op, "input_ids");
  expect_rank(input_ids, 2, op, "input_ids");
  expect_dtype(input_ids, DType::i32, op, "input_ids");
  const int64_t b = input_ids.dim(0), t = input_ids.dim(1);
  if (b != cache.batch_)
    throw std::invalid_argument("model.forward_cached: batch " + std::to_string(b) + " but the cache holds " +
                                std::to_string(cache.batch_));
  if (t <= 0 || cache.length_ + t > cache.capacity_)
    throw std::invalid_argument("model.forward_cached: " + std::to_string(t) + " new positions after " +
                                std::to_string(cache.length_) + " do not fit the cache's " +
                                std::to_string(cache.capacity_));
  check_batch_tensor(attention_mask, {b, t}, DType::i32, op, "attention_mask");
  check_token_range(input_ids, config_.vocab_size, op, "input_ids");

  int32_t* key_mask = cache.host_key_mask.data<int32_t>();
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < t; ++j) {
      const int32_t keep = attention_mask.defined() ? attention_mask.data<int32_t>()[i * t + j] : 1;
      key_mask[i * cache.capacity_ + cache.length_ + j] = keep;
      if (keep == 0) cache.has_padding = true;
    }
  if (cache.has_padding) backend_.copy(cache.host_key_mask, cache.key_mask);

  Plan& p = ensure_plan(b, t, false);
  const ParameterSet& w = compute_weights();
  backend_.copy(input_ids, p.ids);
  const Tensor embed = w.get("model.embed_tokens.weight");
  backend_.embedding_forward(p.ids.view({b * t}), embed, p.residual[0]);
  LayerState& s = p.layers[0];
  if (attention_probs) attention_probs->clear();
  for (int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) {
    s.input = p.residual[static_cast<size_t>(layer % 2)];
    s.output = p.residual[static_cast<size_t>((layer + 1) % 2)];
    layer_forward(layer, s, p, false, &cache);
    if (!attention_probs) continue;
    // The probe's own call: the forward keeps no probabilities.
    AttentionOptions options;
    options.num_keys = cache.length_ + t;
    options.query_offset = cache.length_;
    options.scale = 1.0 / std::sqrt(static_cast<double>(config_.head_dim()));
    Tensor probs =
        backend_.empty({b, config_.num_attention_heads, t, cache.length_ + t}, precision_.statistic());
    backend_.attention_probs(s.q, cache.keys[static_cast<size_t>(layer)],
                             cache.values[static_cast<size_t>(layer)],
                             cache.has_padding ? cache.key_mask : Tensor{}, options, probs);
    attention_probs->push_back(backend_.to_host(probs));
  }
  backend_.rmsnorm_forward(p.residual[static_cast<size_t>(config_.num_hidden_layers % 2)],
                           w.get("model.norm.weight"), config_.rms_norm_eps, p.norm_f, p.rstd_f);
  backend_.matmul(p.norm_f, false, embed, true, p.logits, false);
  cache.length_ += t;
  last_plan_ = &p;
  return p;
}

}  // namespace minimind
