// The MiniMind network's forward, backward and cached inference as sequences of backend ops.
#include "model/minimind_model.h"

#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

namespace minimind {

// What one layer keeps between its forward and its backward. In inference one LayerState is reused by
// every layer, and k / v point into the KV cache.
struct MiniMindModel::LayerState {
  Tensor input, output;  // residual stream before and after the layer, [N, H]
  Tensor norm1, rstd1, q, k, v, probs, attn, h1, norm2, rstd2;
  Tensor gate_up, act;  // dense FFN
  // MoE: router outputs, the dispatch plan, and the expert-sorted rows
  Tensor scores, topk_index, topk_weight, expert_offsets, slot_of, sorted_x, expert_gate_up, expert_act,
      expert_out;
  std::vector<int32_t> offsets;  // host copy of expert_offsets
  std::vector<Tensor> shared_gate_up, shared_act;
};

struct MiniMindModel::Plan {
  int64_t batch = 0, seq_len = 0;
  bool training = false;
  int64_t bytes = 0;
  std::vector<LayerState> layers;
  std::vector<Tensor> residual;
  Tensor ids, targets, key_mask;
  Tensor qkv, projection, router_logits, norm_f, rstd_f, logits, logsumexp, losses;
  // backward scratch, shared by all layers
  Tensor d_losses, d_resid, d_norm, d_projection, d_attn, d_qkv, d_q, d_k, d_v, d_gate_up, d_act, d_expert_out,
      d_topk_weight, d_sorted, d_scores, d_router_logits;
  std::vector<double> loss_mask;
  bool has_key_mask = false;
};

namespace {

// A distinct dropout stream per (step, layer, site).
uint64_t site_seed(uint64_t step_seed, int64_t layer, int64_t site) {
  const uint64_t index = static_cast<uint64_t>(layer + 1) * 4096 + static_cast<uint64_t>(site);
  return (static_cast<uint64_t>(dropout_hash(step_seed, index)) << 32) | dropout_hash(~step_seed, index);
}
enum DropoutSite : int64_t { kEmbedding = 0, kAttentionProbs, kAttentionOutput, kFfnOutput, kExperts };

// Allocates the plan's tensors, or only counts their bytes (for estimates) when `backend` is null. The count
// saturates at INT64_MAX: an estimate may be asked about shapes far too large to allocate.
struct Allocator {
  Backend* backend;
  DType dtype;
  int64_t bytes = 0;
  Tensor operator()(Shape shape, DType type) {
    int64_t size = static_cast<int64_t>(dtype_size(type));
    for (const int64_t dim : shape)
      if (__builtin_mul_overflow(size, dim, &size)) size = std::numeric_limits<int64_t>::max();
    if (__builtin_add_overflow(bytes, size, &bytes)) bytes = std::numeric_limits<int64_t>::max();
    return backend ? backend->empty(std::move(shape), type) : Tensor{};
  }
  Tensor operator()(Shape shape) { return (*this)(std::move(shape), dtype); }
};

// Builds every buffer of a plan. In inference only one layer's buffers exist and k / v come from the cache.
template <typename PlanT, typename LayerT>
void build_plan(PlanT& p, const ModelConfig& c, int64_t batch, int64_t seq_len, bool training, Allocator& alloc) {
  const int64_t n = batch * seq_len, h = c.hidden_size, d = c.head_dim();
  const int64_t hq = c.num_attention_heads, hkv = c.num_key_value_heads, ffn = c.ffn_size();
  const int64_t qkv = c.q_dim() + 2 * c.kv_dim(), vocab = c.vocab_size;
  const int64_t k_top = c.num_experts_per_tok, experts = c.n_routed_experts;
  const int64_t routed_rows = n * k_top;
  p.batch = batch;
  p.seq_len = seq_len;
  p.training = training;
  const int64_t states = training ? c.num_hidden_layers : 1;
  p.layers.resize(static_cast<size_t>(states));
  p.residual.clear();
  for (int64_t i = 0; i < (training ? c.num_hidden_layers + 1 : 2); ++i) p.residual.push_back(alloc({n, h}));
  p.ids = alloc({batch, seq_len}, DType::i32);
  p.targets = alloc({batch, seq_len}, DType::i32);
  p.key_mask = alloc({batch, seq_len}, DType::i32);
  for (LayerT& s : p.layers) {
    s.norm1 = alloc({n, h});
    s.rstd1 = alloc({n});
    s.q = alloc({batch, seq_len, hq, d});
    if (training) {
      s.k = alloc({batch, seq_len, hkv, d});
      s.v = alloc({batch, seq_len, hkv, d});
      s.probs = alloc({batch, hq, seq_len, seq_len});
    }
    s.attn = alloc({n, hq * d});
    s.h1 = alloc({n, h});
    s.norm2 = alloc({n, h});
    s.rstd2 = alloc({n});
    if (!c.use_moe) {
      s.gate_up = alloc({n, 2 * ffn});
      s.act = alloc({n, ffn});
      continue;
    }
    s.scores = alloc({n, experts});
    s.topk_index = alloc({n, k_top}, DType::i32);
    s.topk_weight = alloc({n, k_top});
    s.expert_offsets = alloc({experts + 1}, DType::i32);
    s.slot_of = alloc({n, k_top}, DType::i32);
    s.sorted_x = alloc({routed_rows, h});
    s.expert_gate_up = alloc({routed_rows, 2 * ffn});
    s.expert_act = alloc({routed_rows, ffn});
    s.expert_out = alloc({routed_rows, h});
    s.shared_gate_up.clear();
    s.shared_act.clear();
    for (int64_t j = 0; j < c.n_shared_experts; ++j) {
      s.shared_gate_up.push_back(alloc({n, 2 * ffn}));
      s.shared_act.push_back(alloc({n, ffn}));
    }
  }
  p.qkv = alloc({n, qkv});
  p.projection = alloc({n, h});
  if (c.use_moe) p.router_logits = alloc({n, experts});
  p.norm_f = alloc({n, h});
  p.rstd_f = alloc({n});
  p.logits = alloc({n, vocab});
  if (!training) return;
  p.logsumexp = alloc({n});
  p.losses = alloc({n});
  p.d_losses = alloc({n});
  p.d_resid = alloc({n, h});
  p.d_norm = alloc({n, h});
  p.d_projection = alloc({n, h});
  p.d_attn = alloc({n, hq * d});
  p.d_qkv = alloc({n, qkv});
  p.d_q = alloc({batch, seq_len, hq, d});
  p.d_k = alloc({batch, seq_len, hkv, d});
  p.d_v = alloc({batch, seq_len, hkv, d});
  const int64_t ffn_rows = c.use_moe ? std::max(n, routed_rows) : n;
  p.d_gate_up = alloc({ffn_rows, 2 * ffn});
  p.d_act = alloc({ffn_rows, ffn});
  if (c.use_moe) {
    p.d_expert_out = alloc({routed_rows, h});
    p.d_topk_weight = alloc({n, k_top});
    p.d_sorted = alloc({routed_rows, h});
    p.d_scores = alloc({n, experts});
    p.d_router_logits = alloc({n, experts});
  }
}

}  // namespace

namespace {
const ModelConfig& validated(const ModelConfig& config) {
  check_valid(config);
  return config;
}
}  // namespace

MiniMindModel::MiniMindModel(const ModelConfig& config, Backend& backend, DType dtype)
    : config_(validated(config)), backend_(backend), dtype_(dtype), layout_(config_) {
  if (dtype != DType::f32 && dtype != DType::f64)
    throw std::invalid_argument("model: compute dtype must be f32 or f64, got " + std::string(dtype_name(dtype)));
  parameters_ = ParameterSet(layout_, backend_, dtype_);
  const RopeTables tables = make_rope_tables(config_, dtype_);
  rope_cos_ = backend_.empty(tables.cos.shape(), dtype_);
  rope_sin_ = backend_.empty(tables.sin.shape(), dtype_);
  backend_.copy(tables.cos, rope_cos_);
  backend_.copy(tables.sin, rope_sin_);
  // The seed's norms start at one.
  init_weights(0);
}

MiniMindModel::~MiniMindModel() = default;

ParameterSet& MiniMindModel::gradients() {
  if (!gradients_.buffer().defined()) gradients_ = ParameterSet(layout_, backend_, dtype_);
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
  if (dtype_ == DType::f64) {
    backend_.copy(host, parameters_.buffer());
    return;
  }
  Tensor narrowed = Tensor::empty({layout_.total()}, DType::f32);
  float* out = narrowed.data<float>();
  for (int64_t i = 0; i < layout_.total(); ++i) out[i] = static_cast<float>(values[i]);
  backend_.copy(narrowed, parameters_.buffer());
}

MiniMindModel::Plan& MiniMindModel::ensure_plan(int64_t batch, int64_t seq_len, bool for_training) {
  // Training and inference keep separate plans, so a probe between steps does not reallocate the step's.
  std::unique_ptr<Plan>& plan = for_training ? train_plan_ : infer_plan_;
  if (plan && plan->batch == batch && plan->seq_len == seq_len) return *plan;
  plan.reset();  // free the old buffers before taking new ones
  plan = std::make_unique<Plan>();
  Allocator alloc{&backend_, dtype_};
  build_plan<Plan, LayerState>(*plan, config_, batch, seq_len, for_training, alloc);
  plan->bytes = alloc.bytes;
  if (for_training) have_forward_ = false;
  return *plan;
}

int64_t MiniMindModel::activation_bytes(const ModelConfig& config, int64_t batch, int64_t seq_len, DType dtype) {
  Plan plan;
  Allocator counter{nullptr, dtype};
  build_plan<Plan, LayerState>(plan, config, batch, seq_len, true, counter);
  return counter.bytes;
}

int64_t MiniMindModel::inference_activation_bytes(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                                  DType dtype) {
  Plan plan;
  Allocator counter{nullptr, dtype};
  build_plan<Plan, LayerState>(plan, config, batch, seq_len, false, counter);
  return counter.bytes;
}

int64_t MiniMindModel::allocated_activation_bytes() const { return train_plan_ ? train_plan_->bytes : 0; }

// ---------------------------------------------------------------------------------------------------------
// forward

namespace {

void check_batch_tensor(const Tensor& t, const Shape& shape, DType dtype, const char* name) {
  if (!t.defined()) return;
  expect_shape(t, shape, "model.forward", name);
  expect_dtype(t, dtype, "model.forward", name);
}

std::vector<double> host_values(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::f32) {
    const float* p = t.data<float>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = p[i];
  } else if (t.dtype() == DType::f64) {
    const double* p = t.data<double>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = p[i];
  } else {
    throw std::invalid_argument("model.forward: loss_mask must be f32 or f64, got " + t.describe());
  }
  return out;
}

Tensor typed_host(const std::vector<double>& values, DType dtype) {
  Tensor t = Tensor::empty({static_cast<int64_t>(values.size())}, dtype);
  if (dtype == DType::f32) {
    float* p = t.data<float>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<float>(values[i]);
  } else {
    double* p = t.data<double>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  }
  return t;
}

}  // namespace

LossTerms MiniMindModel::forward(const Batch& batch, bool training, uint64_t dropout_seed) {
  expect_rank(batch.input_ids, 2, "model.forward", "input_ids");
  expect_dtype(batch.input_ids, DType::i32, "model.forward", "input_ids");
  const int64_t b = batch.input_ids.dim(0), t = batch.input_ids.dim(1);
  if (b <= 0 || t <= 0) throw std::invalid_argument("model.forward: empty batch " + batch.input_ids.describe());
  if (t > config_.max_position_embeddings)
    throw std::invalid_argument("model.forward: sequence length " + std::to_string(t) +
                                " exceeds max_position_embeddings " +
                                std::to_string(config_.max_position_embeddings));
  expect_defined(batch.targets, "model.forward", "targets");
  check_batch_tensor(batch.targets, {b, t}, DType::i32, "targets");
  check_batch_tensor(batch.attention_mask, {b, t}, DType::i32, "attention_mask");
  if (batch.loss_mask.defined()) expect_shape(batch.loss_mask, {b, t}, "model.forward", "loss_mask");

  Plan& p = ensure_plan(b, t, true);
  backend_.copy(batch.input_ids, p.ids);
  backend_.copy(batch.targets, p.targets);
  p.has_key_mask = batch.attention_mask.defined();
  if (p.has_key_mask) backend_.copy(batch.attention_mask, p.key_mask);
  p.loss_mask = batch.loss_mask.defined() ? host_values(batch.loss_mask)
                                          : std::vector<double>(static_cast<size_t>(b * t), 1.0);

  const bool use_dropout = training && config_.dropout > 0;
  const Tensor embed = parameters_.get("model.embed_tokens.weight");
  backend_.embedding_forward(p.ids.view({b * t}), embed, p.residual[0]);
  if (use_dropout) backend_.dropout(p.residual[0], {config_.dropout, site_seed(dropout_seed, -1, kEmbedding)});

  double aux_loss = 0;
  expert_load_.fraction.assign(config_.use_moe ? static_cast<size_t>(config_.num_hidden_layers) : 0, {});
  for (int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) {
    LayerState& s = p.layers[static_cast<size_t>(layer)];
    s.input = p.residual[static_cast<size_t>(layer)];
    s.output = p.residual[static_cast<size_t>(layer + 1)];
    layer_forward(layer, s, p, training, dropout_seed, nullptr);
    if (config_.use_moe && training && config_.aux_loss_alpha > 0)
      aux_loss += backend_.moe_aux_loss_forward(s.scores, s.topk_index, b, config_.seq_aux, config_.aux_loss_alpha);
  }

  backend_.rmsnorm_forward(p.residual.back(), parameters_.get("model.norm.weight"), config_.rms_norm_eps, p.norm_f,
                           p.rstd_f);
  backend_.matmul(p.norm_f, false, embed, true, p.logits, false);
  backend_.cross_entropy_forward(p.logits, p.targets.view({b * t}), p.losses, p.logsumexp);

  const std::vector<double> losses = host_values(backend_.to_host(p.losses));
  double weighted = 0, scored = 0;
  for (size_t i = 0; i < losses.size(); ++i) {
    weighted += losses[i] * p.loss_mask[i];
    scored += p.loss_mask[i];
  }
  LossTerms terms;
  terms.cross_entropy = scored > 0 ? weighted / scored : 0.0;
  terms.aux_loss = aux_loss;
  terms.loss = terms.cross_entropy + aux_loss;
  terms.scored_tokens = static_cast<int64_t>(std::llround(scored));
  have_forward_ = true;
  last_training_ = training;
  last_dropout_seed_ = dropout_seed;
  last_scored_ = scored;
  return terms;
}

void MiniMindModel::layer_forward(int64_t layer, LayerState& s, Plan& p, bool training, uint64_t dropout_seed,
                                  KvCache* cache) {
  attention_forward(layer, s, p, training, dropout_seed, cache);
  if (config_.use_moe)
    moe_forward(layer, s, p, training, dropout_seed);
  else
    ffn_forward(layer, s, p, training, dropout_seed);
}

void MiniMindModel::attention_forward(int64_t layer, LayerState& s, Plan& p, bool training, uint64_t dropout_seed,
                                      KvCache* cache) {
  const std::string prefix = layer_prefix(layer);
  const int64_t b = p.batch, t = p.seq_len, d = config_.head_dim();
  backend_.rmsnorm_forward(s.input, parameters_.get(prefix + "input_layernorm.weight"), config_.rms_norm_eps, s.norm1,
                           s.rstd1);
  backend_.matmul(s.norm1, false, parameters_.fused(prefix + "self_attn.q_proj.weight", prefix + "self_attn.v_proj.weight"),
                  true, p.qkv, false);
  Tensor qkv = p.qkv.view({b, t, p.qkv.dim(1)});
  Tensor& k = cache ? cache->keys[static_cast<size_t>(layer)] : s.k;
  Tensor& v = cache ? cache->values[static_cast<size_t>(layer)] : s.v;
  const int64_t offset = cache ? cache->length_ : 0;
  backend_.rope_split_forward(qkv, rope_cos_, rope_sin_, offset, s.q, k, v);

  AttentionOptions options;
  options.num_keys = offset + t;
  options.query_offset = offset;
  options.scale = 1.0 / std::sqrt(static_cast<double>(d));
  if (training && config_.dropout > 0)
    options.dropout = {config_.dropout, site_seed(dropout_seed, layer, kAttentionProbs)};
  const Tensor& key_mask = cache ? (cache->has_padding ? cache->key_mask : Tensor{}) : (p.has_key_mask ? p.key_mask : Tensor{});
  Tensor attn = s.attn.view({b, t, config_.num_attention_heads, d});
  backend_.attention_forward(s.q, k, v, key_mask, options, attn, s.probs);

  const Tensor o_proj = parameters_.get(prefix + "self_attn.o_proj.weight");
  backend_.copy(s.input, s.h1);
  if (training && config_.dropout > 0) {
    backend_.matmul(s.attn, false, o_proj, true, p.projection, false);
    backend_.dropout(p.projection, {config_.dropout, site_seed(dropout_seed, layer, kAttentionOutput)});
    backend_.add(s.h1, p.projection);
  } else {
    backend_.matmul(s.attn, false, o_proj, true, s.h1, true);
  }
}

void MiniMindModel::ffn_forward(int64_t layer, LayerState& s, Plan& p, bool training, uint64_t dropout_seed) {
  const std::string prefix = layer_prefix(layer) + "mlp.";
  backend_.rmsnorm_forward(s.h1, parameters_.get(layer_prefix(layer) + "post_attention_layernorm.weight"),
                           config_.rms_norm_eps, s.norm2, s.rstd2);
  backend_.matmul(s.norm2, false, parameters_.fused(prefix + "gate_proj.weight", prefix + "up_proj.weight"), true,
                  s.gate_up, false);
  backend_.swiglu_forward(s.gate_up, s.act);
  const Tensor down = parameters_.get(prefix + "down_proj.weight");
  backend_.copy(s.h1, s.output);
  if (training && config_.dropout > 0) {
    backend_.matmul(s.act, false, down, true, p.projection, false);
    backend_.dropout(p.projection, {config_.dropout, site_seed(dropout_seed, layer, kFfnOutput)});
    backend_.add(s.output, p.projection);
  } else {
    backend_.matmul(s.act, false, down, true, s.output, true);
  }
}

void MiniMindModel::moe_forward(int64_t layer, LayerState& s, Plan& p, bool training, uint64_t dropout_seed) {
  const std::string prefix = layer_prefix(layer) + "mlp.";
  const int64_t experts = config_.n_routed_experts;
  const bool use_dropout = training && config_.dropout > 0;
  backend_.rmsnorm_forward(s.h1, parameters_.get(layer_prefix(layer) + "post_attention_layernorm.weight"),
                           config_.rms_norm_eps, s.norm2, s.rstd2);
  backend_.matmul(s.norm2, false, parameters_.get(prefix + "gate.weight"), true, p.router_logits, false);
  backend_.moe_router_forward(p.router_logits, config_.norm_topk_prob, s.scores, s.topk_index, s.topk_weight);
  backend_.moe_plan(s.topk_index, experts, s.expert_offsets, s.slot_of);
  const Tensor offsets = backend_.to_host(s.expert_offsets);
  s.offsets.assign(offsets.data<int32_t>(), offsets.data<int32_t>() + experts + 1);
  backend_.moe_gather(s.norm2, s.slot_of, s.sorted_x);

  for (int64_t e = 0; e < experts; ++e) {
    const int64_t begin = s.offsets[static_cast<size_t>(e)], end = s.offsets[static_cast<size_t>(e + 1)];
    if (begin == end) continue;
    const std::string ep = prefix + "experts." + std::to_string(e) + ".";
    Tensor gate_up = s.expert_gate_up.rows(begin, end), act = s.expert_act.rows(begin, end);
    Tensor out = s.expert_out.rows(begin, end);
    backend_.matmul(s.sorted_x.rows(begin, end), false, parameters_.fused(ep + "gate_proj.weight", ep + "up_proj.weight"),
                    true, gate_up, false);
    backend_.swiglu_forward(gate_up, act);
    backend_.matmul(act, false, parameters_.get(ep + "down_proj.weight"), true, out, false);
    if (use_dropout) backend_.dropout(out, {config_.dropout, site_seed(dropout_seed, layer, kExperts + e)});
  }
  backend_.copy(s.h1, s.output);
  backend_.moe_combine_forward(s.expert_out, s.topk_weight, s.slot_of, s.output);

  for (int64_t j = 0; j < config_.n_shared_experts; ++j) {
    const std::string sp = prefix + "shared_experts." + std::to_string(j) + ".";
    Tensor& gate_up = s.shared_gate_up[static_cast<size_t>(j)];
    Tensor& act = s.shared_act[static_cast<size_t>(j)];
    backend_.matmul(s.norm2, false, parameters_.fused(sp + "gate_proj.weight", sp + "up_proj.weight"), true, gate_up,
                    false);
    backend_.swiglu_forward(gate_up, act);
    const Tensor down = parameters_.get(sp + "down_proj.weight");
    if (use_dropout) {
      backend_.matmul(act, false, down, true, p.projection, false);
      backend_.dropout(p.projection, {config_.dropout, site_seed(dropout_seed, layer, kExperts + experts + j)});
      backend_.add(s.output, p.projection);
    } else {
      backend_.matmul(act, false, down, true, s.output, true);
    }
  }

  std::vector<double>& load = expert_load_.fraction[static_cast<size_t>(layer)];
  load.assign(static_cast<size_t>(experts), 0.0);
  const double slots = static_cast<double>(s.offsets.back());
  for (int64_t e = 0; e < experts; ++e)
    load[static_cast<size_t>(e)] = slots > 0 ? (s.offsets[static_cast<size_t>(e + 1)] - s.offsets[static_cast<size_t>(e)]) / slots : 0;
}

Tensor MiniMindModel::logits() const {
  if (!train_plan_) throw std::logic_error("model.logits: no forward has run");
  return train_plan_->logits.view({train_plan_->batch, train_plan_->seq_len, config_.vocab_size});
}

Tensor MiniMindModel::attention_probs(int64_t layer) const {
  if (!train_plan_ || layer < 0 || layer >= config_.num_hidden_layers)
    throw std::logic_error("model.attention_probs: no forward for layer " + std::to_string(layer));
  return train_plan_->layers[static_cast<size_t>(layer)].probs;
}

// ---------------------------------------------------------------------------------------------------------
// backward

void MiniMindModel::backward(double loss_scale) {
  if (!have_forward_ || !train_plan_)
    throw std::logic_error("model.backward: call forward on a batch first (each forward allows one backward)");
  Plan& p = *train_plan_;
  ParameterSet& grads = gradients();
  const int64_t n = p.batch * p.seq_len;
  backward_scale_ = loss_scale;

  // d loss / d losses[n] = scale * mask[n] / sum(mask)
  std::vector<double> d_losses(static_cast<size_t>(n), 0.0);
  if (last_scored_ > 0)
    for (int64_t i = 0; i < n; ++i) d_losses[static_cast<size_t>(i)] = loss_scale * p.loss_mask[static_cast<size_t>(i)] / last_scored_;
  backend_.copy(typed_host(d_losses, dtype_), p.d_losses);
  backend_.cross_entropy_backward(p.logits, p.targets.view({n}), p.logsumexp, p.d_losses, p.logits);
  Tensor& d_logits = p.logits;

  const Tensor embed = parameters_.get("model.embed_tokens.weight");
  Tensor d_embed = grads.get("model.embed_tokens.weight");
  backend_.matmul(d_logits, true, p.norm_f, false, d_embed, true);
  backend_.matmul(d_logits, false, embed, false, p.d_norm, false);
  backend_.zero(p.d_resid);
  Tensor d_norm_weight = grads.get("model.norm.weight");
  backend_.rmsnorm_backward(p.d_norm, p.residual.back(), parameters_.get("model.norm.weight"), p.rstd_f, p.d_resid,
                            d_norm_weight);

  for (int64_t layer = config_.num_hidden_layers - 1; layer >= 0; --layer) {
    layer_backward(layer, p.layers[static_cast<size_t>(layer)], p);
  }
  if (last_training_ && config_.dropout > 0)
    backend_.dropout(p.d_resid, {config_.dropout, site_seed(last_dropout_seed_, -1, kEmbedding)});
  backend_.embedding_backward(p.ids.view({n}), p.d_resid, d_embed);
  have_forward_ = false;
}

void MiniMindModel::layer_backward(int64_t layer, LayerState& s, Plan& p) {
  if (config_.use_moe)
    moe_backward(layer, s, p);
  else
    ffn_backward(layer, s, p);
  attention_backward(layer, s, p);
}

void MiniMindModel::ffn_backward(int64_t layer, LayerState& s, Plan& p) {
  const std::string prefix = layer_prefix(layer) + "mlp.";
  ParameterSet& grads = gradients();
  Tensor g = p.d_resid;
  if (last_training_ && config_.dropout > 0) {
    backend_.copy(p.d_resid, p.d_projection);
    backend_.dropout(p.d_projection, {config_.dropout, site_seed(last_dropout_seed_, layer, kFfnOutput)});
    g = p.d_projection;
  }
  const int64_t n = s.act.dim(0);
  Tensor d_down = grads.get(prefix + "down_proj.weight");
  backend_.matmul(g, true, s.act, false, d_down, true);
  Tensor d_act = p.d_act.rows(0, n), d_gate_up = p.d_gate_up.rows(0, n);
  backend_.matmul(g, false, parameters_.get(prefix + "down_proj.weight"), false, d_act, false);
  backend_.swiglu_backward(d_act, s.gate_up, d_gate_up);
  Tensor d_gu_weight = grads.fused(prefix + "gate_proj.weight", prefix + "up_proj.weight");
  backend_.matmul(d_gate_up, true, s.norm2, false, d_gu_weight, true);
  backend_.matmul(d_gate_up, false, parameters_.fused(prefix + "gate_proj.weight", prefix + "up_proj.weight"), false,
                  p.d_norm, false);
  const std::string norm = layer_prefix(layer) + "post_attention_layernorm.weight";
  Tensor d_norm_weight = grads.get(norm);
  backend_.rmsnorm_backward(p.d_norm, s.h1, parameters_.get(norm), s.rstd2, p.d_resid, d_norm_weight);
}

void MiniMindModel::moe_backward(int64_t layer, LayerState& s, Plan& p) {
  const std::string prefix = layer_prefix(layer) + "mlp.";
  ParameterSet& grads = gradients();
  const bool use_dropout = last_training_ && config_.dropout > 0;
  const int64_t n = s.norm2.dim(0), experts = config_.n_routed_experts;
  backend_.zero(p.d_norm);

  for (int64_t j = 0; j < config_.n_shared_experts; ++j) {
    const std::string sp = prefix + "shared_experts." + std::to_string(j) + ".";
    Tensor g = p.d_resid;
    if (use_dropout) {
      backend_.copy(p.d_resid, p.d_projection);
      backend_.dropout(p.d_projection, {config_.dropout, site_seed(last_dropout_seed_, layer, kExperts + experts + j)});
      g = p.d_projection;
    }
    Tensor d_down = grads.get(sp + "down_proj.weight");
    backend_.matmul(g, true, s.shared_act[static_cast<size_t>(j)], false, d_down, true);
    Tensor d_act = p.d_act.rows(0, n), d_gate_up = p.d_gate_up.rows(0, n);
    backend_.matmul(g, false, parameters_.get(sp + "down_proj.weight"), false, d_act, false);
    backend_.swiglu_backward(d_act, s.shared_gate_up[static_cast<size_t>(j)], d_gate_up);
    Tensor d_gu_weight = grads.fused(sp + "gate_proj.weight", sp + "up_proj.weight");
    backend_.matmul(d_gate_up, true, s.norm2, false, d_gu_weight, true);
    backend_.matmul(d_gate_up, false, parameters_.fused(sp + "gate_proj.weight", sp + "up_proj.weight"), false,
                    p.d_norm, true);
  }

  backend_.moe_combine_backward(p.d_resid, s.expert_out, s.topk_weight, s.slot_of, p.d_expert_out, p.d_topk_weight);
  for (int64_t e = 0; e < experts; ++e) {
    const int64_t begin = s.offsets[static_cast<size_t>(e)], end = s.offsets[static_cast<size_t>(e + 1)];
    if (begin == end) continue;
    const std::string ep = prefix + "experts." + std::to_string(e) + ".";
    Tensor g = p.d_expert_out.rows(begin, end);
    if (use_dropout) backend_.dropout(g, {config_.dropout, site_seed(last_dropout_seed_, layer, kExperts + e)});
    Tensor d_down = grads.get(ep + "down_proj.weight");
    backend_.matmul(g, true, s.expert_act.rows(begin, end), false, d_down, true);
    Tensor d_act = p.d_act.rows(begin, end), d_gate_up = p.d_gate_up.rows(begin, end);
    backend_.matmul(g, false, parameters_.get(ep + "down_proj.weight"), false, d_act, false);
    backend_.swiglu_backward(d_act, s.expert_gate_up.rows(begin, end), d_gate_up);
    Tensor d_gu_weight = grads.fused(ep + "gate_proj.weight", ep + "up_proj.weight");
    backend_.matmul(d_gate_up, true, s.sorted_x.rows(begin, end), false, d_gu_weight, true);
    Tensor d_sorted = p.d_sorted.rows(begin, end);
    backend_.matmul(d_gate_up, false, parameters_.fused(ep + "gate_proj.weight", ep + "up_proj.weight"), false,
                    d_sorted, false);
  }
  backend_.moe_gather_backward(p.d_sorted, s.slot_of, p.d_norm);

  Tensor d_scores;
  if (last_training_ && config_.aux_loss_alpha > 0) {
    backend_.moe_aux_loss_backward(s.topk_index, p.batch, config_.seq_aux, config_.aux_loss_alpha, backward_scale_,
                                   p.d_scores);
    d_scores = p.d_scores;
  }
  backend_.moe_router_backward(p.d_topk_weight, d_scores, s.scores, s.topk_index, config_.norm_topk_prob,
                               p.d_router_logits);
  Tensor d_gate = grads.get(prefix + "gate.weight");
  backend_.matmul(p.d_router_logits, true, s.norm2, false, d_gate, true);
  backend_.matmul(p.d_router_logits, false, parameters_.get(prefix + "gate.weight"), false, p.d_norm, true);

  const std::string norm = layer_prefix(layer) + "post_attention_layernorm.weight";
  Tensor d_norm_weight = grads.get(norm);
  backend_.rmsnorm_backward(p.d_norm, s.h1, parameters_.get(norm), s.rstd2, p.d_resid, d_norm_weight);
}

void MiniMindModel::attention_backward(int64_t layer, LayerState& s, Plan& p) {
  const std::string prefix = layer_prefix(layer);
  ParameterSet& grads = gradients();
  const int64_t b = p.batch, t = p.seq_len, d = config_.head_dim();
  Tensor g = p.d_resid;
  if (last_training_ && config_.dropout > 0) {
    backend_.copy(p.d_resid, p.d_projection);
    backend_.dropout(p.d_projection, {config_.dropout, site_seed(last_dropout_seed_, layer, kAttentionOutput)});
    g = p.d_projection;
  }
  Tensor d_o = grads.get(prefix + "self_attn.o_proj.weight");
  backend_.matmul(g, true, s.attn, false, d_o, true);
  backend_.matmul(g, false, parameters_.get(prefix + "self_attn.o_proj.weight"), false, p.d_attn, false);

  AttentionOptions options;
  options.num_keys = t;
  options.scale = 1.0 / std::sqrt(static_cast<double>(d));
  if (last_training_ && config_.dropout > 0)
    options.dropout = {config_.dropout, site_seed(last_dropout_seed_, layer, kAttentionProbs)};
  backend_.attention_backward(p.d_attn.view({b, t, config_.num_attention_heads, d}), s.q, s.k, s.v, s.probs, options,
                              p.d_q, p.d_k, p.d_v);
  Tensor d_qkv = p.d_qkv.view({b, t, p.d_qkv.dim(1)});
  backend_.rope_split_backward(p.d_q, p.d_k, p.d_v, rope_cos_, rope_sin_, d_qkv);

  const std::string q = prefix + "self_attn.q_proj.weight", v = prefix + "self_attn.v_proj.weight";
  Tensor d_qkv_weight = grads.fused(q, v);
  backend_.matmul(p.d_qkv, true, s.norm1, false, d_qkv_weight, true);
  backend_.matmul(p.d_qkv, false, parameters_.fused(q, v), false, p.d_norm, false);
  const std::string norm = prefix + "input_layernorm.weight";
  Tensor d_norm_weight = grads.get(norm);
  backend_.rmsnorm_backward(p.d_norm, s.input, parameters_.get(norm), s.rstd1, p.d_resid, d_norm_weight);
}

// ---------------------------------------------------------------------------------------------------------
// inference with a KV cache

KvCache MiniMindModel::make_cache(int64_t batch, int64_t capacity) const {
  if (batch <= 0 || capacity <= 0 || capacity > config_.max_position_embeddings)
    throw std::invalid_argument("kv cache: batch " + std::to_string(batch) + " and capacity " + std::to_string(capacity) +
                                " must be positive and capacity at most max_position_embeddings " +
                                std::to_string(config_.max_position_embeddings));
  KvCache cache;
  cache.batch_ = batch;
  cache.capacity_ = capacity;
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    cache.keys.push_back(backend_.empty({batch, capacity, config_.num_key_value_heads, config_.head_dim()}, dtype_));
    cache.values.push_back(backend_.empty({batch, capacity, config_.num_key_value_heads, config_.head_dim()}, dtype_));
  }
  cache.key_mask = backend_.empty({batch, capacity}, DType::i32);
  cache.host_key_mask = Tensor::zeros({batch, capacity}, DType::i32);
  return cache;
}

Tensor MiniMindModel::forward_cached(const Tensor& input_ids, KvCache& cache, const Tensor& attention_mask,
                                     std::vector<Tensor>* attention_probs) {
  expect_rank(input_ids, 2, "model.forward_cached", "input_ids");
  expect_dtype(input_ids, DType::i32, "model.forward_cached", "input_ids");
  const int64_t b = input_ids.dim(0), t = input_ids.dim(1);
  if (b != cache.batch_)
    throw std::invalid_argument("model.forward_cached: batch " + std::to_string(b) + " but the cache holds " +
                                std::to_string(cache.batch_));
  if (t <= 0 || cache.length_ + t > cache.capacity_)
    throw std::invalid_argument("model.forward_cached: " + std::to_string(t) + " new positions after " +
                                std::to_string(cache.length_) + " do not fit the cache's " +
                                std::to_string(cache.capacity_));
  check_batch_tensor(attention_mask, {b, t}, DType::i32, "attention_mask");

  int32_t* key_mask = cache.host_key_mask.data<int32_t>();
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < t; ++j) {
      const int32_t keep = attention_mask.defined() ? attention_mask.data<int32_t>()[i * t + j] : 1;
      key_mask[i * cache.capacity_ + cache.length_ + j] = keep;
      if (keep == 0) cache.has_padding = true;
    }

  if (cache.has_padding) backend_.copy(cache.host_key_mask, cache.key_mask);

  Plan& p = ensure_plan(b, t, false);
  backend_.copy(input_ids, p.ids);
  const Tensor embed = parameters_.get("model.embed_tokens.weight");
  backend_.embedding_forward(p.ids.view({b * t}), embed, p.residual[0]);
  expert_load_.fraction.assign(config_.use_moe ? static_cast<size_t>(config_.num_hidden_layers) : 0, {});
  LayerState& s = p.layers[0];
  if (attention_probs) attention_probs->clear();
  for (int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) {
    s.input = p.residual[static_cast<size_t>(layer % 2)];
    s.output = p.residual[static_cast<size_t>((layer + 1) % 2)];
    if (attention_probs) s.probs = backend_.empty({b, config_.num_attention_heads, t, cache.length_ + t}, dtype_);
    layer_forward(layer, s, p, false, 0, &cache);
    if (attention_probs) attention_probs->push_back(backend_.to_host(s.probs));
  }
  s.probs = Tensor{};
  backend_.rmsnorm_forward(p.residual[static_cast<size_t>(config_.num_hidden_layers % 2)],
                           parameters_.get("model.norm.weight"), config_.rms_norm_eps, p.norm_f, p.rstd_f);
  backend_.matmul(p.norm_f, false, embed, true, p.logits, false);
  cache.length_ += t;
  Tensor out = Tensor::empty({b, t, config_.vocab_size}, dtype_);
  backend_.copy(p.logits, out);
  return out;
}

}  // namespace minimind
