// Parameter layout in the seed model's order of modules, one buffer per set.
#include "model/parameters.h"

#include <stdexcept>

#include "backend/backend.h"

namespace minimind {

std::string layer_prefix(int64_t layer) { return "model.layers." + std::to_string(layer) + "."; }

namespace {
void add_ffn(ParameterLayout& layout, const std::string& prefix, int64_t hidden, int64_t ffn,
             void (ParameterLayout::*add)(std::string, Shape)) {
  (layout.*add)(prefix + "gate_proj.weight", {ffn, hidden});
  (layout.*add)(prefix + "up_proj.weight", {ffn, hidden});
  (layout.*add)(prefix + "down_proj.weight", {hidden, ffn});
}
}  // namespace

ParameterLayout::ParameterLayout(const ModelConfig& config) {
  const int64_t hidden = config.hidden_size;
  const int64_t ffn = config.ffn_size();
  add("model.embed_tokens.weight", {config.vocab_size, hidden});
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    const std::string p = layer_prefix(layer);
    add(p + "input_layernorm.weight", {hidden});
    add(p + "self_attn.q_proj.weight", {config.q_dim(), hidden});
    add(p + "self_attn.k_proj.weight", {config.kv_dim(), hidden});
    add(p + "self_attn.v_proj.weight", {config.kv_dim(), hidden});
    add(p + "self_attn.o_proj.weight", {hidden, config.q_dim()});
    add(p + "post_attention_layernorm.weight", {hidden});
    if (!config.use_moe) {
      add_ffn(*this, p + "mlp.", hidden, ffn, &ParameterLayout::add);
      continue;
    }
    add(p + "mlp.gate.weight", {config.n_routed_experts, hidden});
    for (int64_t e = 0; e < config.n_routed_experts; ++e)
      add_ffn(*this, p + "mlp.experts." + std::to_string(e) + ".", hidden, ffn, &ParameterLayout::add);
    for (int64_t s = 0; s < config.n_shared_experts; ++s)
      add_ffn(*this, p + "mlp.shared_experts." + std::to_string(s) + ".", hidden, ffn, &ParameterLayout::add);
  }
  add("model.norm.weight", {hidden});
}

void ParameterLayout::add(std::string name, Shape shape) {
  ParameterEntry entry{std::move(name), std::move(shape), total_};
  total_ += entry.numel();
  entries_.push_back(std::move(entry));
}

bool ParameterLayout::contains(const std::string& name) const {
  for (const ParameterEntry& e : entries_)
    if (e.name == name) return true;
  return false;
}

const ParameterEntry& ParameterLayout::find(const std::string& name) const {
  for (const ParameterEntry& e : entries_)
    if (e.name == name) return e;
  throw std::invalid_argument("no parameter named '" + name + "' in this model");
}

ParameterSet::ParameterSet(const ParameterLayout& layout, Backend& backend, DType dtype)
    : layout_(&layout), buffer_(backend.empty({layout.total()}, dtype)) {
  backend.zero(buffer_);
}

Tensor ParameterSet::get(const std::string& name) const {
  const ParameterEntry& e = layout_->find(name);
  return buffer_.flat(e.offset, e.shape);
}

Tensor ParameterSet::fused(const std::string& first, const std::string& last) const {
  const ParameterEntry& a = layout_->find(first);
  const ParameterEntry& b = layout_->find(last);
  if (a.shape.size() != 2 || b.shape.size() != 2 || a.shape[1] != b.shape[1] || b.offset < a.offset)
    throw std::logic_error("parameters '" + first + "' .. '" + last + "' cannot be fused");
  const int64_t cols = a.shape[1];
  const int64_t end = b.offset + b.numel();
  return buffer_.flat(a.offset, {(end - a.offset) / cols, cols});
}

}  // namespace minimind
