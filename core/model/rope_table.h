// RoPE cos/sin tables [max_position_embeddings, head_dim], YaRN-rescaled when the config asks for it.
#pragma once

#include <vector>

#include "config/model_config.h"
#include "tensor/tensor.h"

namespace minimind {

// theta_i = rope_theta^(-2i/d) for i < d/2, each multiplied by its YaRN scale when yarn_active():
//   corr_dim = first i whose wavelength 2 pi / theta_i exceeds original_max_position_embeddings,
//   beta_i = beta_slow + (beta_fast - beta_slow) * i / max(d/2 - 1, 1),
//   scale_i = (beta_i factor - beta_i + 1) / (beta_i factor) below corr_dim, 1 / factor from it on.
// In f32 the values follow the reference's float32 arithmetic step by step; in f64 they are exact.
std::vector<double> rope_frequencies(const ModelConfig& config, DType dtype);
std::vector<double> rope_frequencies_unscaled(const ModelConfig& config, DType dtype);

struct RopeTables {
  Tensor cos;  // [P, D]: cos(p theta_i) in columns i and i + D/2
  Tensor sin;
};

// Host tables for positions [0, positions); positions <= 0 means max_position_embeddings.
RopeTables make_rope_tables(const ModelConfig& config, DType dtype, int64_t positions = 0);

}  // namespace minimind
