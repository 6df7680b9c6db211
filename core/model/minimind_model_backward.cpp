// The MiniMind network's exact backward, layer by layer in reverse, as sequences of backend ops. Parameter
// gradients accumulate (+=) into gradients(); activation gradients reuse the plan's scratch buffers. The
// loss scale reaches the device once (one small upload) and every op reads it from there.
#include <cmath>
#include <stdexcept>
#include <string>

#include "model/minimind_model.h"
#include "model/model_plan.h"

namespace minimind {

using model_plan::routed_expert_weights;

void MiniMindModel::backward(double loss_scale) {
  if (!have_forward_ || !train_plan_)
    throw std::logic_error(
        "model.backward: call forward on a batch first (each forward allows one backward)");
  Plan& p = *train_plan_;
  ParameterSet& grads = gradients();
  const ParameterSet& w = compute_weights();
  const int64_t n = p.batch * p.seq_len;

  Tensor scale = Tensor::empty({1}, Precision::scalar());
  scale.data<double>()[0] = loss_scale;
  backend_.copy(scale, p.d_scale);
  // d loss / d losses[n] = scale * mask[n] / sum(mask)
  backend_.masked_loss_backward(p.has_loss_mask ? p.loss_mask : Tensor{}, p.totals, p.d_scale, p.d_losses);
  backend_.cross_entropy_backward(p.logits, p.targets.view({n}), p.logsumexp, p.d_losses, p.logits);
  Tensor& d_logits = p.logits;

  const Tensor embed = w.get("model.embed_tokens.weight");
  Tensor d_embed = grads.get("model.embed_tokens.weight");
  backend_.matmul(d_logits, true, p.norm_f, false, d_embed, true);
  backend_.matmul(d_logits, false, embed, false, p.d_norm, false);
  backend_.zero(p.d_resid);
  Tensor d_norm_weight = grads.get("model.norm.weight");
  backend_.rmsnorm_backward(p.d_norm, p.residual.back(), w.get("model.norm.weight"), p.rstd_f, p.d_resid,
                            d_norm_weight);

  for (int64_t layer = config_.num_hidden_layers - 1; layer >= 0; --layer)
    layer_backward(layer, p.layers[static_cast<size_t>(layer)], p);
  if (last_dropout_) backend_.dropout(p.d_resid, dropout_at(p, -1, model_plan::kEmbedding));
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
  const ParameterSet& w = compute_weights();
  Tensor g = p.d_resid;
  if (last_dropout_) {
    backend_.copy(p.d_resid, p.d_projection);
    backend_.dropout(p.d_projection, dropout_at(p, layer, model_plan::kFfnOutput));
    g = p.d_projection;
  }
  const int64_t n = s.act.dim(0);
  Tensor d_down = grads.get(prefix + "down_proj.weight");
  backend_.matmul(g, true, s.act, false, d_down, true);
  Tensor d_act = p.d_act.rows(0, n), d_gate_up = p.d_gate_up.rows(0, n);
  backend_.matmul(g, false, w.get(prefix + "down_proj.weight"), false, d_act, false);
  backend_.swiglu_backward(d_act, s.gate_up, d_gate_up);
  Tensor d_gu_weight = grads.fused(prefix + "gate_proj.weight", prefix + "up_proj.weight");
  backend_.matmul(d_gate_up, true, s.norm2, false, d_gu_weight, true);
  backend_.matmul(d_gate_up, false, w.fused(prefix + "gate_proj.weight", prefix + "up_proj.weight"), false,
                  p.d_norm, false);
  const std::string norm = layer_prefix(layer) + "post_attention_layernorm.weight";
  Tensor d_norm_weight = grads.get(norm);
  backend_.rmsnorm_backward(p.d_norm, s.h1, w.get(norm), s.rstd2, p.d_resid, d_norm_weight);
}

void MiniMindModel::moe_backward(int64_t layer, LayerState& s, Plan& p) {
  const std::string prefix = layer_prefix(layer) + "mlp.";
  ParameterSet& grads = gradients();
  const ParameterSet& w = compute_weights();
  const int64_t n = s.norm2.dim(0), routed_rows = s.sorted_x.dim(0);
  backend_.zero(p.d_norm);

  for (int64_t j = 0; j < config_.n_shared_experts; ++j) {
    const std::string sp = prefix + "shared_experts." + std::to_string(j) + ".";
    Tensor g = p.d_resid;
    if (last_dropout_) {
      backend_.copy(p.d_resid, p.d_projection);
      backend_.dropout(p.d_projection,
                       dropout_at(p, layer, model_plan::kSharedExperts + static_cast<uint64_t>(j)));
      g = p.d_projection;
    }
    Tensor d_down = grads.get(sp + "down_proj.weight");
    backend_.matmul(g, true, s.shared_act[static_cast<size_t>(j)], false, d_down, true);
    Tensor d_act = p.d_act.rows(0, n), d_gate_up = p.d_gate_up.rows(0, n);
    backend_.matmul(g, false, w.get(sp + "down_proj.weight"), false, d_act, false);
    backend_.swiglu_backward(d_act, s.shared_gate_up[static_cast<size_t>(j)], d_gate_up);
    Tensor d_gu_weight = grads.fused(sp + "gate_proj.weight", sp + "up_proj.weight");
    backend_.matmul(d_gate_up, true, s.norm2, false, d_gu_weight, true);
    backend_.matmul(d_gate_up, false, w.fused(sp + "gate_proj.weight", sp + "up_proj.weight"), false,
                    p.d_norm, true);
  }

  // The routed experts, all at once over the expert-sorted rows (the forward's dispatch plan).
  backend_.moe_combine_backward(p.d_resid, s.expert_out, s.topk_weight, s.slot_of, p.d_expert_out,
                                p.d_topk_weight);
  if (last_dropout_) backend_.dropout(p.d_expert_out, dropout_at(p, layer, model_plan::kRoutedExperts));
  Tensor d_act = p.d_act.rows(0, routed_rows), d_gate_up = p.d_gate_up.rows(0, routed_rows);
  backend_.expert_matmul_backward(p.d_expert_out, s.expert_act,
                                  routed_expert_weights(w, config_, layer, false), s.expert_offsets, d_act,
                                  routed_expert_weights(grads, config_, layer, false));
  backend_.swiglu_backward(d_act, s.expert_gate_up, d_gate_up);
  backend_.expert_matmul_backward(d_gate_up, s.sorted_x, routed_expert_weights(w, config_, layer, true),
                                  s.expert_offsets, p.d_sorted,
                                  routed_expert_weights(grads, config_, layer, true));
  backend_.moe_gather_backward(p.d_sorted, s.slot_of, p.d_norm);

  Tensor d_scores;
  if (config_.aux_loss_alpha > 0 && last_training_) {
    backend_.moe_aux_loss_backward(s.topk_index, p.batch, config_.seq_aux, config_.aux_loss_alpha, p.d_scale,
                                   p.d_scores);
    d_scores = p.d_scores;
  }
  backend_.moe_router_backward(p.d_topk_weight, d_scores, s.scores, s.topk_index, config_.norm_topk_prob,
                               p.d_router_logits);
  // The router's weight products take compute-dtype operands.
  Tensor d_router = p.d_router_logits;
  if (p.d_router_logits_compute.defined()) {
    backend_.copy(p.d_router_logits, p.d_router_logits_compute);
    d_router = p.d_router_logits_compute;
  }
  Tensor d_gate = grads.get(prefix + "gate.weight");
  backend_.matmul(d_router, true, s.norm2, false, d_gate, true);
  backend_.matmul(d_router, false, w.get(prefix + "gate.weight"), false, p.d_norm, true);

  const std::string norm = layer_prefix(layer) + "post_attention_layernorm.weight";
  Tensor d_norm_weight = grads.get(norm);
  backend_.rmsnorm_backward(p.d_norm, s.h1, w.get(norm), s.rstd2, p.d_resid, d_norm_weight);
}

void MiniMindModel::attention_backward(int64_t layer, LayerState& s, Plan& p) {
  const std::string prefix = layer_prefix(layer);
  ParameterSet& grads = gradients();
  const ParameterSet& w = compute_weights();
  const int64_t b = p.batch, t = p.seq_len, d = config_.head_dim(), hq = config_.num_attention_heads;
  Tensor g = p.d_resid;
  if (last_dropout_) {
    backend_.copy(p.d_resid, p.d_projection);
    backend_.dropout(p.d_projection, dropout_at(p, layer, model_plan::kAttentionOutput));
    g = p.d_projection;
  }
  Tensor d_o = grads.get(prefix + "self_attn.o_proj.weight");
  backend_.matmul(g, true, s.attn, false, d_o, true);
  backend_.matmul(g, false, w.get(prefix + "self_attn.o_proj.weight"), false, p.d_attn, false);

  AttentionOptions options;
  options.num_keys = t;
  options.scale = 1.0 / std::sqrt(static_cast<double>(d));
  if (last_dropout_) options.dropout = dropout_at(p, layer, model_plan::kAttentionProbs);
  // The probabilities are recomputed from the saved log-sum-exp; the output enters the softmax's backward.
  backend_.attention_backward(p.d_attn.view({b, t, hq, d}), s.q, s.k, s.v, s.attn.view({b, t, hq, d}), s.lse,
                              p.has_key_mask ? p.key_mask : Tensor{}, options, p.d_q, p.d_k, p.d_v);
  Tensor d_qkv = p.d_qkv.view({b, t, p.d_qkv.dim(1)});
  backend_.rope_split_backward(p.d_q, p.d_k, p.d_v, rope_cos_, rope_sin_, d_qkv);

  const std::string q = prefix + "self_attn.q_proj.weight", v = prefix + "self_attn.v_proj.weight";
  Tensor d_qkv_weight = grads.fused(q, v);
  backend_.matmul(p.d_qkv, true, s.norm1, false, d_qkv_weight, true);
  backend_.matmul(p.d_qkv, false, w.fused(q, v), false, p.d_norm, false);
  const std::string norm = prefix + "input_layernorm.weight";
  Tensor d_norm_weight = grads.get(norm);
  backend_.rmsnorm_backward(p.d_norm, s.input, w.get(norm), s.rstd1, p.d_resid, d_norm_weight);
}

}  // namespace minimind
