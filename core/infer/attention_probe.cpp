// The attention-map probe over the model's cached inference forward.
#include "infer/attention_probe.h"

#include <algorithm>
#include <span>
#include <stdexcept>
#include <vector>

namespace minimind {

AttentionMaps probe_attention(MiniMindModel& model, const Tokenizer& tokenizer, std::string_view prompt,
                              int64_t max_tokens, int64_t step) {
  if (max_tokens <= 0)
    throw std::invalid_argument("probe_attention: max_tokens must be positive, got " + std::to_string(max_tokens));
  AttentionMaps maps;
  maps.step = step;
  maps.num_layers = model.config().num_hidden_layers;
  maps.num_heads = model.config().num_attention_heads;
  std::vector<int32_t> ids = tokenizer.encode(prompt);
  const int64_t keep = std::min(max_tokens, model.config().max_position_embeddings);
  if (static_cast<int64_t>(ids.size()) > keep) ids.resize(static_cast<size_t>(keep));
  if (ids.empty()) return maps;
  for (int32_t id : ids)
    if (id < 0 || id >= model.config().vocab_size)
      throw std::invalid_argument("probe_attention: the prompt encodes to id " + std::to_string(id) +
                                  ", outside the model's vocabulary [0, " +
                                  std::to_string(model.config().vocab_size) + ")");

  const int64_t length = static_cast<int64_t>(ids.size());
  Tensor input = Tensor::empty({1, length}, DType::i32);
  std::copy(ids.begin(), ids.end(), input.data<int32_t>());
  KvCache cache = model.make_cache(1, length);
  std::vector<Tensor> probabilities;
  model.forward_cached(input, cache, {}, &probabilities);

  for (int32_t id : ids) maps.tokens.push_back(tokenizer.decode(std::span<const int32_t>(&id, 1)));
  maps.weights.reserve(static_cast<size_t>(maps.num_layers * maps.num_heads * length * length));
  // Each layer's probabilities are [1, Hq, T, T] on the host, in the model's dtype.
  for (const Tensor& layer : probabilities) {
    if (layer.dtype() == DType::f64)
      for (double w : layer.span<double>()) maps.weights.push_back(static_cast<float>(w));
    else
      for (float w : layer.span<float>()) maps.weights.push_back(w);
  }
  return maps;
}

}  // namespace minimind
