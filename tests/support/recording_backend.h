// A backend that computes nothing: each do_ op records its name. It lets tests see which calls the argument
// checks of backend.cpp let through, for any device and set of compute dtypes (a GPU's bf16 roles included)
// on a machine without that device. Its tensors are host memory labelled with its device; no op reads them.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace minimind::testing {

class RecordingBackend final : public Backend {
 public:
  RecordingBackend(Device device, std::vector<DType> compute)
      : device_(device), compute_(std::move(compute)) {}

  Device device() const override { return device_; }
  DeviceInfo device_info() override { return {"recording", 0, 0}; }
  bool supports_compute(DType dtype) const override {
    for (DType c : compute_)
      if (c == dtype) return true;
    return false;
  }
  Tensor empty(Shape shape, DType dtype) override { return on(device_, std::move(shape), dtype); }
  void synchronize() override {}
  Tensor to_host(const Tensor& t) override { return t; }

  // A zeroed tensor labelled with `device`.
  static Tensor on(Device device, Shape shape, DType dtype) {
    const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
    void* data = std::calloc(bytes ? bytes : 1, 1);
    auto storage = std::make_shared<Storage>(device, bytes, data, [](void* p) { std::free(p); });
    return Tensor(std::move(storage), 0, std::move(shape), dtype);
  }

  // The ops that reached the backend, in order.
  const std::vector<std::string>& calls() const { return calls_; }
  void clear() { calls_.clear(); }

 protected:
  void do_zero(Tensor&) override { record("zero"); }
  void do_copy(const Tensor&, Tensor&) override { record("copy"); }
  void do_add(Tensor&, const Tensor&) override { record("add"); }
  void do_scale(Tensor&, double) override { record("scale"); }
  void do_sum_squares(const Tensor&, Tensor&) override { record("sum_squares"); }
  void do_dropout(Tensor&, const Dropout&) override { record("dropout"); }
  void do_matmul(const Tensor&, bool, const Tensor&, bool, Tensor&, bool) override { record("matmul"); }
  void do_embedding_forward(const Tensor&, const Tensor&, Tensor&) override { record("embedding_forward"); }
  void do_embedding_backward(const Tensor&, const Tensor&, Tensor&) override { record("embedding_backward"); }
  void do_rmsnorm_forward(const Tensor&, const Tensor&, double, Tensor&, Tensor&) override {
    record("rmsnorm_forward");
  }
  void do_rmsnorm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor&,
                           Tensor&) override {
    record("rmsnorm_backward");
  }
  void do_rope_split_forward(const Tensor&, const Tensor&, const Tensor&, int64_t, Tensor&, Tensor&,
                             Tensor&) override {
    record("rope_split_forward");
  }
  void do_rope_split_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                              Tensor&) override {
    record("rope_split_backward");
  }
  void do_attention_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                            const AttentionOptions&, Tensor&, Tensor&) override {
    record("attention_forward");
  }
  void do_attention_probs(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const AttentionOptions&,
                          Tensor&) override {
    record("attention_probs");
  }
  void do_attention_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                             const Tensor&, const Tensor&, const AttentionOptions&, Tensor&, Tensor&,
                             Tensor&) override {
    record("attention_backward");
  }
  void do_swiglu_forward(const Tensor&, Tensor&) override { record("swiglu_forward"); }
  void do_swiglu_backward(const Tensor&, const Tensor&, Tensor&) override { record("swiglu_backward"); }
  void do_cross_entropy_forward(const Tensor&, const Tensor&, Tensor&, Tensor&) override {
    record("cross_entropy_forward");
  }
  void do_cross_entropy_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                 Tensor&) override {
    record("cross_entropy_backward");
  }
  void do_masked_loss_totals(const Tensor&, const Tensor&, Tensor&) override { record("masked_loss_totals"); }
  void do_masked_loss_backward(const Tensor&, const Tensor&, const Tensor&, Tensor&) override {
    record("masked_loss_backward");
  }
  void do_moe_router_forward(const Tensor&, bool, Tensor&, Tensor&, Tensor&) override {
    record("moe_router_forward");
  }
  void do_moe_router_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, bool,
                              Tensor&) override {
    record("moe_router_backward");
  }
  void do_moe_aux_loss_forward(const Tensor&, const Tensor&, int64_t, bool, double, Tensor&) override {
    record("moe_aux_loss_forward");
  }
  void do_moe_aux_loss_backward(const Tensor&, int64_t, bool, double, const Tensor&, Tensor&) override {
    record("moe_aux_loss_backward");
  }
  void do_moe_plan(const Tensor&, int64_t, Tensor&, Tensor&) override { record("moe_plan"); }
  void do_moe_gather(const Tensor&, const Tensor&, Tensor&) override { record("moe_gather"); }
  void do_moe_gather_backward(const Tensor&, const Tensor&, Tensor&) override {
    record("moe_gather_backward");
  }
  void do_moe_combine_forward(const Tensor&, const Tensor&, const Tensor&, Tensor&) override {
    record("moe_combine_forward");
  }
  void do_moe_combine_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor&,
                               Tensor&) override {
    record("moe_combine_backward");
  }
  void do_expert_matmul(const Tensor&, const ExpertWeights&, const Tensor&, Tensor&) override {
    record("expert_matmul");
  }
  void do_expert_matmul_backward(const Tensor&, const Tensor&, const ExpertWeights&, const Tensor&, Tensor&,
                                 const ExpertWeights&) override {
    record("expert_matmul_backward");
  }
  void do_sample_tokens(const Tensor&, const TokenFilters&, const Tensor&, Tensor&, Tensor&) override {
    record("sample_tokens");
  }
  void do_update_decision(const Tensor&, const Tensor&, const Tensor&, Tensor&) override {
    record("update_decision");
  }
  void do_adamw_step(Tensor&, const Tensor&, Tensor&, Tensor&, const AdamWOptions&, const Tensor&,
                     const Tensor&, Tensor&) override {
    record("adamw_step");
  }

 private:
  void record(const char* op) { calls_.emplace_back(op); }

  Device device_;
  std::vector<DType> compute_;
  std::vector<std::string> calls_;
};

}  // namespace minimind::testing
