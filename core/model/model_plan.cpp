// The model's buffer plan, by role, and the routed experts' weights as grouped views.
#include "model/model_plan.h"

#include <algorithm>

namespace minimind::model_plan {

void build(MiniMindModel::Plan& p, const ModelConfig& c, int64_t batch, int64_t seq_len, bool training,
           Allocator& alloc) {
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
  for (int64_t i = 0; i < (training ? c.num_hidden_layers + 1 : 2); ++i)
    p.residual.push_back(alloc.activation({n, h}));
  p.ids = alloc({batch, seq_len}, DType::i32);
  p.targets = alloc({batch, seq_len}, DType::i32);
  p.key_mask = alloc({batch, seq_len}, DType::i32);
  p.expert_offsets.clear();
  if (c.use_moe)
    for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer)
      p.expert_offsets.push_back(alloc({experts + 1}, DType::i32));
  for (MiniMindModel::LayerState& s : p.layers) {
    s.norm1 = alloc.activation({n, h});
    s.rstd1 = alloc.statistic({n});
    s.q = alloc.activation({batch, seq_len, hq, d});
    if (training) {
      s.k = alloc.activation({batch, seq_len, hkv, d});
      s.v = alloc.activation({batch, seq_len, hkv, d});
      s.lse = alloc.statistic({batch, hq, seq_len});
    }
    s.attn = alloc.activation({n, hq * d});
    s.h1 = alloc.activation({n, h});
    s.norm2 = alloc.activation({n, h});
    s.rstd2 = alloc.statistic({n});
    if (!c.use_moe) {
      s.gate_up = alloc.activation({n, 2 * ffn});
      s.act = alloc.activation({n, ffn});
      continue;
    }
    s.scores = alloc.statistic({n, experts});
    s.topk_index = alloc({n, k_top}, DType::i32);
    s.topk_weight = alloc.statistic({n, k_top});
    s.slot_of = alloc({n, k_top}, DType::i32);
    s.sorted_x = alloc.activation({routed_rows, h});
    s.expert_gate_up = alloc.activation({routed_rows, 2 * ffn});
    s.expert_act = alloc.activation({routed_rows, ffn});
    s.expert_out = alloc.activation({routed_rows, h});
    s.shared_gate_up.clear();
    s.shared_act.clear();
    for (int64_t j = 0; j < c.n_shared_experts; ++j) {
      s.shared_gate_up.push_back(alloc.activation({n, 2 * ffn}));
      s.shared_act.push_back(alloc.activation({n, ffn}));
    }
  }
  p.qkv = alloc.activation({n, qkv});
  p.projection = alloc.activation({n, h});
  if (c.use_moe) p.router_logits = alloc.statistic({n, experts});  // bf16 operands, f32 out on the GPU
  p.norm_f = alloc.activation({n, h});
  p.rstd_f = alloc.statistic({n});
  p.logits = alloc.activation({n, vocab});
  if (!training) return;
  p.loss_mask = alloc.statistic({n});
  p.logsumexp = alloc.statistic({n});
  p.losses = alloc.statistic({n});
  p.totals = alloc({kLossTotalsSize}, Precision::scalar());
  p.step_seed = alloc({2}, DType::i32);
  p.d_scale = alloc({1}, Precision::scalar());
  p.d_losses = alloc.statistic({n});
  p.d_resid = alloc.activation({n, h});
  p.d_norm = alloc.activation({n, h});
  p.d_projection = alloc.activation({n, h});
  p.d_attn = alloc.activation({n, hq * d});
  p.d_qkv = alloc.activation({n, qkv});
  p.d_q = alloc.activation({batch, seq_len, hq, d});
  p.d_k = alloc.activation({batch, seq_len, hkv, d});
  p.d_v = alloc.activation({batch, seq_len, hkv, d});
  const int64_t ffn_rows = c.use_moe ? std::max(n, routed_rows) : n;
  p.d_gate_up = alloc.activation({ffn_rows, 2 * ffn});
  p.d_act = alloc.activation({ffn_rows, ffn});
  if (c.use_moe) {
    p.d_expert_out = alloc.activation({routed_rows, h});
    p.d_topk_weight = alloc.statistic({n, k_top});
    p.d_sorted = alloc.activation({routed_rows, h});
    p.d_scores = alloc.statistic({n, experts});
    p.d_router_logits = alloc.statistic({n, experts});
    // The router's weight products take compute-dtype operands: a narrower copy of d_router_logits.
    if (alloc.compute != alloc.statistic()) p.d_router_logits_compute = alloc.activation({n, experts});
  }
}

ExpertWeights routed_expert_weights(const ParameterSet& set, const ModelConfig& config, int64_t layer,
                                    bool gate_up) {
  const ParameterLayout& layout = set.layout();
  const int64_t experts = config.n_routed_experts;
  const std::string prefix = layer_prefix(layer) + "mlp.experts.";
  auto entry = [&](int64_t e, const char* name) -> const ParameterEntry& {
    return layout.find(prefix + std::to_string(e) + "." + name);
  };
  const ParameterEntry& first = entry(0, gate_up ? "gate_proj.weight" : "down_proj.weight");
  const ParameterEntry& last = entry(experts - 1, gate_up ? "up_proj.weight" : "down_proj.weight");
  // gate, up and down of one expert: 3 I H elements, unless the layout says otherwise.
  const int64_t stride = experts > 1
                             ? entry(1, "gate_proj.weight").offset - entry(0, "gate_proj.weight").offset
                             : 3 * config.ffn_size() * config.hidden_size;
  ExpertWeights weights;
  weights.shape = gate_up ? Shape{2 * config.ffn_size(), config.hidden_size} : first.shape;
  weights.block = set.buffer().flat(first.offset, {last.offset + last.numel() - first.offset});
  weights.stride = stride;
  weights.count = experts;
  return weights;
}

}  // namespace minimind::model_plan
