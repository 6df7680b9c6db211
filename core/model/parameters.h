// The model's parameters as one contiguous buffer with named views (the Hugging Face / PyTorch names), so the
// optimizer, clipping, checkpoints and a future all-reduce each touch one buffer. Gradients and AdamW moments
// are ParameterSets of the same layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "tensor/tensor.h"

namespace minimind {

class Backend;

struct ParameterEntry {
  std::string name;  // e.g. "model.layers.3.self_attn.q_proj.weight"
  Shape shape;
  int64_t offset = 0;  // in elements, into the buffer
  int64_t numel() const { return shape_numel(shape); }
};

// Where each parameter lives. Layouts keep the pairs that are multiplied together adjacent: q, k, v
// projections form one [(Hq + 2 Hkv) D, H] matrix and each FFN's gate and up one [2 I, H] matrix, so one
// product computes them. lm_head.weight is tied to model.embed_tokens.weight and has no entry of its own.
class ParameterLayout {
 public:
  explicit ParameterLayout(const ModelConfig& config);
  const std::vector<ParameterEntry>& entries() const { return entries_; }
  int64_t total() const { return total_; }
  const ParameterEntry& find(const std::string& name) const;  // throws naming the unknown parameter
  bool contains(const std::string& name) const;

 private:
  void add(std::string name, Shape shape);
  std::vector<ParameterEntry> entries_;
  int64_t total_ = 0;
};

class ParameterSet {
 public:
  ParameterSet() = default;
  ParameterSet(const ParameterLayout& layout, Backend& backend, DType dtype);  // zero-filled

  const Tensor& buffer() const { return buffer_; }
  Tensor& buffer() { return buffer_; }
  const ParameterLayout& layout() const { return *layout_; }
  Tensor get(const std::string& name) const;
  // A view spanning the entries from `first` to `last` inclusive, which must be adjacent, as [rows, cols].
  Tensor fused(const std::string& first, const std::string& last) const;

 private:
  const ParameterLayout* layout_ = nullptr;
  Tensor buffer_;
};

// Names of one layer's parameters.
std::string layer_prefix(int64_t layer);

}  // namespace minimind
