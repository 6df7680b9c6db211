// The argument checks in front of the backends (backend.cpp), seen through a backend that only records the
// calls reaching it. References: the contract of backend.h and the roles of precision.h. Every op lets valid
// arguments through exactly once; one bad argument per op is refused with std::invalid_argument naming the op
// and the argument, before the backend sees the call; a GPU-like backend (cuda, f32 and bf16 compute) takes
// bf16 compute operands with f32 statistics and refuses host tensors and f64 compute.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "support/recording_backend.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::RecordingBackend;

// Tensors of one backend, by dtype.
struct Maker {
  Backend& backend;
  Tensor f(const Shape& shape) const { return backend.empty(shape, DType::f32); }
  Tensor d(const Shape& shape) const { return backend.empty(shape, DType::f64); }
  Tensor i(const Shape& shape) const { return backend.empty(shape, DType::i32); }
  Tensor b(const Shape& shape) const { return backend.empty(shape, DType::bf16); }
};

// Every op once with valid f32 arguments (shapes small and distinct).
struct ValidCall {
  std::string op;
  std::function<void()> call;
};

std::vector<ValidCall> valid_calls(Backend& backend) {
  const Maker m{backend};
  const Tensor seed = m.i({2});
  Tensor none;
  AttentionOptions options;
  options.num_keys = 2;
  options.scale = 0.5;
  options.dropout = {0.1, seed, 1};
  const ExpertWeights weights{m.f({4 * 15}), {3, 4}, 15, 4}, d_weights{m.f({4 * 15}), {3, 4}, 15, 4};
  Tensor t3 = m.f({3}), y4 = m.f({4}), out24 = m.f({2, 4}), out34 = m.f({3, 4}), d_table = m.f({5, 4});
  return {
      {"zero", [=, &backend]() mutable { backend.zero(t3); }},
      {"copy", [=, &backend]() mutable { backend.copy(m.f({3}), t3); }},
      {"add", [=, &backend]() mutable { backend.add(y4, m.f({4})); }},
      {"scale", [=, &backend]() mutable { backend.scale(y4, 2.0); }},
      {"sum_squares",
       [=, &backend]() mutable {
         Tensor out = m.d({1});
         backend.sum_squares(y4, out);
       }},
      {"dropout",
       [=, &backend]() mutable {
         backend.dropout(y4, {0.1, seed, 3});
       }},
      {"matmul",
       [=, &backend]() mutable {
         backend.matmul(m.f({2, 3}), false, m.f({4, 3}), true, out24, false);
       }},
      {"embedding_forward",
       [=, &backend]() mutable {
         backend.embedding_forward(m.i({3}), m.f({5, 4}), out34);
       }},
      {"embedding_backward",
       [=, &backend]() mutable {
         backend.embedding_backward(m.i({3}), m.f({3, 4}), d_table);
       }},
      {"rmsnorm_forward",
       [=, &backend]() mutable {
         Tensor rstd = m.f({3});
         backend.rmsnorm_forward(m.f({3, 4}), m.f({4}), 1e-5, out34, rstd);
       }},
      {"rmsnorm_backward",
       [=, &backend]() mutable {
         Tensor d_x = m.f({3, 4}), d_w = m.f({4});
         backend.rmsnorm_backward(m.f({3, 4}), m.f({3, 4}), m.f({4}), m.f({3}), d_x, d_w);
       }},
      {"rope_split_forward",
       [=, &backend]() mutable {
         Tensor q = m.f({1, 2, 2, 4}), k = m.f({1, 2, 1, 4}), v = m.f({1, 2, 1, 4});
         backend.rope_split_forward(m.f({1, 2, 16}), m.f({4, 4}), m.f({4, 4}), 0, q, k, v);
       }},
      {"rope_split_backward",
       [=, &backend]() mutable {
         Tensor d_qkv = m.f({1, 2, 16});
         backend.rope_split_backward(m.f({1, 2, 2, 4}), m.f({1, 2, 1, 4}), m.f({1, 2, 1, 4}), m.f({4, 4}),
                                     m.f({4, 4}), d_qkv);
       }},
      {"attention_forward",
       [=, &backend]() mutable {
         Tensor out = m.f({1, 2, 2, 4}), lse = m.f({1, 2, 2});
         backend.attention_forward(m.f({1, 2, 2, 4}), m.f({1, 2, 1, 4}), m.f({1, 2, 1, 4}), m.i({1, 2}),
                                   options, out, lse);
       }},
      {"attention_probs",
       [=, &backend]() mutable {
         Tensor probs = m.f({1, 2, 2, 2});
         backend.attention_probs(m.f({1, 2, 2, 4}), m.f({1, 2, 1, 4}), m.f({1, 2, 1, 4}), none, options,
                                 probs);
       }},
      {"attention_backward",
       [=, &backend]() mutable {
         Tensor d_q = m.f({1, 2, 2, 4}), d_k = m.f({1, 2, 1, 4}), d_v = m.f({1, 2, 1, 4});
         backend.attention_backward(m.f({1, 2, 2, 4}), m.f({1, 2, 2, 4}), m.f({1, 2, 1, 4}),
                                    m.f({1, 2, 1, 4}), m.f({1, 2, 2, 4}), m.f({1, 2, 2}), m.i({1, 2}),
                                    options, d_q, d_k, d_v);
       }},
      {"swiglu_forward",
       [=, &backend]() mutable {
         backend.swiglu_forward(m.f({3, 8}), out34);
       }},
      {"swiglu_backward",
       [=, &backend]() mutable {
         Tensor d_gate_up = m.f({3, 8});
         backend.swiglu_backward(m.f({3, 4}), m.f({3, 8}), d_gate_up);
       }},
      {"cross_entropy_forward",
       [=, &backend]() mutable {
         Tensor losses = m.f({3}), lse = m.f({3});
         backend.cross_entropy_forward(m.f({3, 5}), m.i({3}), losses, lse);
       }},
      {"cross_entropy_backward",
       [=, &backend]() mutable {
         Tensor d_logits = m.f({3, 5});
         backend.cross_entropy_backward(m.f({3, 5}), m.i({3}), m.f({3}), m.f({3}), d_logits);
       }},
      {"masked_loss_totals",
       [=, &backend]() mutable {
         Tensor totals = m.d({kLossTotalsSize});
         backend.masked_loss_totals(m.f({3}), m.f({3}), totals);
       }},
      {"masked_loss_backward",
       [=, &backend]() mutable { backend.masked_loss_backward(none, m.d({kLossTotalsSize}), m.d({1}), t3); }},
      {"moe_router_forward",
       [=, &backend]() mutable {
         Tensor scores = m.f({3, 4}), index = m.i({3, 2}), weight = m.f({3, 2});
         backend.moe_router_forward(m.f({3, 4}), true, scores, index, weight);
       }},
      {"moe_router_backward",
       [=, &backend]() mutable {
         Tensor d_logits = m.f({3, 4});
         backend.moe_router_backward(m.f({3, 2}), m.f({3, 4}), m.f({3, 4}), m.i({3, 2}), true, d_logits);
       }},
      {"moe_aux_loss_forward",
       [=, &backend]() mutable {
         Tensor aux = m.d({1});
         backend.moe_aux_loss_forward(m.f({4, 4}), m.i({4, 2}), 2, true, 0.1, aux);
       }},
      {"moe_aux_loss_backward",
       [=, &backend]() mutable {
         Tensor d_scores = m.f({4, 4});
         backend.moe_aux_loss_backward(m.i({4, 2}), 2, false, 0.1, m.d({1}), d_scores);
       }},
      {"moe_plan",
       [=, &backend]() mutable {
         Tensor offsets = m.i({5}), slot_of = m.i({3, 2});
         backend.moe_plan(m.i({3, 2}), 4, offsets, slot_of);
       }},
      {"moe_gather",
       [=, &backend]() mutable {
         Tensor sorted = m.f({6, 4});
         backend.moe_gather(m.f({3, 4}), m.i({3, 2}), sorted);
       }},
      {"moe_gather_backward",
       [=, &backend]() mutable {
         backend.moe_gather_backward(m.f({6, 4}), m.i({3, 2}), out34);
       }},
      {"moe_combine_forward",
       [=, &backend]() mutable {
         backend.moe_combine_forward(m.f({6, 4}), m.f({3, 2}), m.i({3, 2}), out34);
       }},
      {"moe_combine_backward",
       [=, &backend]() mutable {
         Tensor d_expert_out = m.f({6, 4}), d_weight = m.f({3, 2});
         backend.moe_combine_backward(m.f({3, 4}), m.f({6, 4}), m.f({3, 2}), m.i({3, 2}), d_expert_out,
                                      d_weight);
       }},
      {"expert_matmul",
       [=, &backend]() mutable {
         Tensor out = m.f({6, 3});
         backend.expert_matmul(m.f({6, 4}), weights, m.i({5}), out);
       }},
      {"expert_matmul_backward",
       [=, &backend]() mutable {
         Tensor d_x = m.f({6, 4});
         backend.expert_matmul_backward(m.f({6, 3}), m.f({6, 4}), weights, m.i({5}), d_x, d_weights);
       }},
      {"sample_tokens",
       [=, &backend]() mutable {
         Tensor seen = m.i({2, 7}), ids = m.i({2});
         backend.sample_tokens(m.f({2, 7}), TokenFilters{}, m.d({2}), seen, ids);
       }},
      {"update_decision",
       [=, &backend]() mutable {
         Tensor result = m.d({kStepResultSize});
         backend.update_decision(m.d({1}), m.d({2, kLossTotalsSize}), m.d({kStepControlSize}), result);
       }},
      {"adamw_step",
       [=, &backend]() mutable {
         Tensor p = m.f({10}), moment1 = m.f({10}), moment2 = m.f({10}), compute = m.f({10});
         backend.adamw_step(p, m.f({10}), moment1, moment2, AdamWOptions{}, m.d({kStepControlSize}),
                            m.d({kStepResultSize}), compute);
       }},
  };
}

TEST(BackendChecks, EveryOpLetsValidArgumentsThroughOnce) {
  RecordingBackend backend(Device::cpu, {DType::f32, DType::f64});
  for (const ValidCall& c : valid_calls(backend)) {
    backend.clear();
    ASSERT_NO_THROW(c.call()) << c.op;
    EXPECT_EQ(backend.calls(), std::vector<std::string>{c.op});
  }
}

TEST(BackendChecks, InactiveDropoutNeverReachesTheBackend) {
  RecordingBackend backend(Device::cpu, {DType::f32});
  Tensor x = backend.empty({4}, DType::f32);
  backend.dropout(x, Dropout{});  // no seed needed either
  EXPECT_TRUE(backend.calls().empty());
}

struct BadCall {
  std::string op, argument;
  std::function<void()> call;
};

// One bad argument per op; the rest of each call is valid (as in valid_calls).
std::vector<BadCall> bad_calls(Backend& backend) {
  const Maker m{backend};
  const Tensor seed = m.i({2});
  Tensor none;
  AttentionOptions options;
  options.num_keys = 2;
  const ExpertWeights weights{m.f({4 * 15}), {3, 4}, 15, 4};
  Tensor t3 = m.f({3}), y4 = m.f({4}), out34 = m.f({3, 4});
  return {
      {"zero", "t",
       [=, &backend]() mutable {
         Tensor undefined;
         backend.zero(undefined);
       }},
      {"copy", "dst",
       [=, &backend]() mutable {
         Tensor floats = m.f({3});
         backend.copy(m.i({3}), floats);
       }},
      {"add", "x", [=, &backend]() mutable { backend.add(y4, m.f({5})); }},
      {"scale", "y",
       [=, &backend]() mutable {
         Tensor ints = m.i({4});
         backend.scale(ints, 2.0);
       }},
      {"sum_squares", "out",
       [=, &backend]() mutable {
         Tensor out = m.f({1});
         backend.sum_squares(y4, out);
       }},
      {"dropout", "dropout.step_seed",
       [=, &backend]() mutable {
         backend.dropout(y4, {0.1, none, 3});
       }},
      {"matmul", "b",
       [=, &backend]() mutable {
         Tensor out = m.f({2, 4});
         backend.matmul(m.f({2, 3}), false, m.f({4, 2}), true, out, false);
       }},
      {"embedding_forward", "ids",
       [=, &backend]() mutable {
         backend.embedding_forward(m.f({3}), m.f({5, 4}), out34);
       }},
      {"embedding_backward", "d_table",
       [=, &backend]() mutable {
         Tensor d_table = m.d({5, 4});
         backend.embedding_backward(m.i({3}), m.f({3, 4}), d_table);
       }},
      {"rmsnorm_forward", "rstd",
       [=, &backend]() mutable {
         Tensor rstd = m.d({3});
         backend.rmsnorm_forward(m.f({3, 4}), m.f({4}), 1e-5, out34, rstd);
       }},
      {"rmsnorm_backward", "d_weight",
       [=, &backend]() mutable {
         Tensor d_x = m.f({3, 4}), d_w = m.f({5});
         backend.rmsnorm_backward(m.f({3, 4}), m.f({3, 4}), m.f({4}), m.f({3}), d_x, d_w);
       }},
      {"rope_split_forward", "qkv",
       [=, &backend]() mutable {
         Tensor q = m.f({1, 2, 2, 4}), k = m.f({1, 2, 1, 4}), v = m.f({1, 2, 1, 4});
         backend.rope_split_forward(m.f({1, 2, 15}), m.f({4, 4}), m.f({4, 4}), 0, q, k, v);
       }},
      {"rope_split_backward", "d_qkv",
       [=, &backend]() mutable {
         Tensor d_qkv = m.f({1, 2, 12});
         backend.rope_split_backward(m.f({1, 2, 2, 4}), m.f({1, 2, 1, 4}), m.f({1, 2, 1, 4}), m.f({4, 4}),
                                     m.f({4, 4}), d_qkv);
       }},
      {"attention_forward", "lse",
       [=, &backend]() mutable {
         Tensor out = m.f({1, 2, 2, 4}), lse = m.f({1, 2, 2, 2});
         backend.attention_forward(m.f({1, 2, 2, 4}), m.f({1, 2, 1, 4}), m.f({1, 2, 1, 4}), none, options,
                                   out, lse);
       }},
      {"attention_probs", "probs",
       [=, &backend]() mutable {
         Tensor probs = m.d({1, 2, 2, 2});
         backend.attention_probs(m.f({1, 2, 2, 4}), m.f({1, 2, 1, 4}), m.f({1, 2, 1, 4}), none, options,
                                 probs);
       }},
      {"attention_backward", "out",
       [=, &backend]() mutable {
         Tensor d_q = m.f({1, 2, 2, 4}), d_k = m.f({1, 2, 1, 4}), d_v = m.f({1, 2, 1, 4});
         backend.attention_backward(m.f({1, 2, 2, 4}), m.f({1, 2, 2, 4}), m.f({1, 2, 1, 4}),
                                    m.f({1, 2, 1, 4}), none, m.f({1, 2, 2}), none, options, d_q, d_k, d_v);
       }},
      {"swiglu_forward", "gate_up",
       [=, &backend]() mutable {
         backend.swiglu_forward(m.f({3, 7}), out34);
       }},
      {"swiglu_backward", "d_gate_up",
       [=, &backend]() mutable {
         Tensor d_gate_up = m.f({3, 6});
         backend.swiglu_backward(m.f({3, 4}), m.f({3, 8}), d_gate_up);
       }},
      {"cross_entropy_forward", "targets",
       [=, &backend]() mutable {
         Tensor losses = m.f({3}), lse = m.f({3});
         backend.cross_entropy_forward(m.f({3, 5}), m.f({3}), losses, lse);
       }},
      {"cross_entropy_backward", "d_losses",
       [=, &backend]() mutable {
         Tensor d_logits = m.f({3, 5});
         backend.cross_entropy_backward(m.f({3, 5}), m.i({3}), m.f({3}), m.f({4}), d_logits);
       }},
      {"masked_loss_totals", "totals",
       [=, &backend]() mutable {
         Tensor totals = m.d({2});
         backend.masked_loss_totals(m.f({3}), none, totals);
       }},
      {"masked_loss_backward", "scale",
       [=, &backend]() mutable { backend.masked_loss_backward(none, m.d({kLossTotalsSize}), m.f({1}), t3); }},
      {"moe_router_forward", "topk_weight",
       [=, &backend]() mutable {
         Tensor scores = m.f({3, 4}), index = m.i({3, 2}), weight = m.f({3, 3});
         backend.moe_router_forward(m.f({3, 4}), true, scores, index, weight);
       }},
      {"moe_router_backward", "d_scores",
       [=, &backend]() mutable {
         Tensor d_logits = m.f({3, 4});
         backend.moe_router_backward(m.f({3, 2}), m.f({3, 5}), m.f({3, 4}), m.i({3, 2}), true, d_logits);
       }},
      {"moe_aux_loss_forward", "aux",
       [=, &backend]() mutable {
         Tensor aux;
         backend.moe_aux_loss_forward(m.f({4, 4}), m.i({4, 2}), 2, true, 0.1, aux);
       }},
      {"moe_aux_loss_backward", "d_aux",
       [=, &backend]() mutable {
         Tensor d_scores = m.f({4, 4});
         backend.moe_aux_loss_backward(m.i({4, 2}), 2, false, 0.1, m.f({1}), d_scores);
       }},
      {"moe_plan", "expert_offsets",
       [=, &backend]() mutable {
         Tensor offsets = m.i({4}), slot_of = m.i({3, 2});
         backend.moe_plan(m.i({3, 2}), 4, offsets, slot_of);
       }},
      {"moe_gather", "sorted",
       [=, &backend]() mutable {
         Tensor sorted = m.f({5, 4});
         backend.moe_gather(m.f({3, 4}), m.i({3, 2}), sorted);
       }},
      {"moe_gather_backward", "d_sorted",
       [=, &backend]() mutable {
         backend.moe_gather_backward(m.f({6, 5}), m.i({3, 2}), out34);
       }},
      {"moe_combine_forward", "topk_weight",
       [=, &backend]() mutable {
         backend.moe_combine_forward(m.f({6, 4}), m.d({3, 2}), m.i({3, 2}), out34);
       }},
      {"moe_combine_backward", "d_topk_weight",
       [=, &backend]() mutable {
         Tensor d_expert_out = m.f({6, 4}), d_weight = m.f({2, 3});
         backend.moe_combine_backward(m.f({3, 4}), m.f({6, 4}), m.f({3, 2}), m.i({3, 2}), d_expert_out,
                                      d_weight);
       }},
      {"expert_matmul", "out",
       [=, &backend]() mutable {
         Tensor out = m.f({6, 4});
         backend.expert_matmul(m.f({6, 4}), weights, m.i({5}), out);
       }},
      {"expert_matmul_backward", "x",
       [=, &backend]() mutable {
         Tensor d_x = m.f({6, 4});
         backend.expert_matmul_backward(m.f({6, 3}), m.f({5, 4}), weights, m.i({5}), d_x, weights);
       }},
      {"sample_tokens", "seen",
       [=, &backend]() mutable {
         Tensor seen = m.i({2, 6}), ids = m.i({2});
         backend.sample_tokens(m.f({2, 7}), TokenFilters{}, m.d({2}), seen, ids);
       }},
      {"update_decision", "result",
       [=, &backend]() mutable {
         Tensor result = m.f({kStepResultSize});
         backend.update_decision(m.d({1}), m.d({2, kLossTotalsSize}), m.d({kStepControlSize}), result);
       }},
      {"adamw_step", "m",
       [=, &backend]() mutable {
         Tensor p = m.f({10}), moment1 = m.f({9}), moment2 = m.f({10});
         backend.adamw_step(p, m.f({10}), moment1, moment2, AdamWOptions{}, m.d({kStepControlSize}),
                            m.d({kStepResultSize}), none);
       }},
  };
}

void expect_refused(RecordingBackend& backend, const std::string& op, const std::string& argument,
                    const std::function<void()>& call) {
  backend.clear();
  try {
    call();
    ADD_FAILURE() << op << ": no std::invalid_argument naming '" << argument << "'";
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(op + ":", 0), 0u) << message;
    EXPECT_NE(message.find("'" + argument + "'"), std::string::npos) << message;
  }
  EXPECT_TRUE(backend.calls().empty()) << op << " reached the backend";
}

TEST(BackendChecks, OneBadArgumentPerOpIsRefusedNamingItBeforeTheBackend) {
  RecordingBackend backend(Device::cpu, {DType::f32, DType::f64});
  const std::vector<BadCall> calls = bad_calls(backend);
  EXPECT_EQ(calls.size(), valid_calls(backend).size()) << "one bad call per op";
  for (const BadCall& c : calls) expect_refused(backend, c.op, c.argument, c.call);
}

TEST(BackendChecks, SamplingFiltersOutOfRangeAreRefusedNamingTheFilter) {
  RecordingBackend backend(Device::cpu, {DType::f32});
  const Maker m{backend};
  Tensor seen = m.i({2, 7}), ids = m.i({2});
  const std::vector<std::pair<TokenFilters, std::string>> bad = {
      {{0.0, false, 1.0, 0, 1.0}, "repetition penalty"},
      {{1.0, false, 0.0, 0, 1.0}, "temperature"},
      {{1.0, false, 1.0, -1, 1.0}, "top_k"},
      {{1.0, false, 1.0, 0, 0.0}, "top_p"},
      {{1.0, false, 1.0, 0, 1.5}, "top_p"},
  };
  for (const auto& [filters, named] : bad) {
    backend.clear();
    try {
      backend.sample_tokens(m.f({2, 7}), filters, m.d({2}), seen, ids);
      ADD_FAILURE() << "accepted filters that should name " << named;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(named), std::string::npos) << e.what();
    }
    EXPECT_TRUE(backend.calls().empty());
  }
  // Greedy needs no draws and ignores the temperature.
  backend.clear();
  EXPECT_NO_THROW(backend.sample_tokens(m.f({2, 7}), {1.0, true, 0.0, 0, 1.0}, Tensor{}, seen, ids));
  EXPECT_EQ(backend.calls(), std::vector<std::string>{"sample_tokens"});
}

TEST(BackendChecks, TensorsOfAnotherDeviceAreRefused) {
  RecordingBackend backend(Device::cpu, {DType::f32});
  const Tensor on_gpu = RecordingBackend::on(Device::cuda, {4}, DType::f32);
  Tensor y = backend.empty({4}, DType::f32);
  expect_refused(backend, "add", "x", [&] { backend.add(y, on_gpu); });
  Tensor rstd = backend.empty({3}, DType::f32), out = backend.empty({3, 4}, DType::f32);
  const Tensor x_gpu = RecordingBackend::on(Device::cuda, {3, 4}, DType::f32);
  expect_refused(backend, "rmsnorm_forward", "x",
                 [&] { backend.rmsnorm_forward(x_gpu, backend.empty({4}, DType::f32), 1e-5, out, rstd); });
  // copy is the one op between devices: from a device this backend does not drive, it refuses too.
  expect_refused(backend, "copy", "src", [&] { backend.copy(on_gpu, y); });
}

// A GPU-like backend: bf16 compute operands with f32 statistics, gradients and master weights.
TEST(BackendChecks, Bfloat16ComputeTakesFloat32StatisticsOnADevice) {
  RecordingBackend gpu(Device::cuda, {DType::f32, DType::bf16});
  const Maker m{gpu};
  Tensor y = m.b({3, 4}), rstd = m.f({3});
  gpu.rmsnorm_forward(m.b({3, 4}), m.b({4}), 1e-5, y, rstd);
  Tensor logits32 = m.f({3, 5});
  gpu.matmul(m.b({3, 4}), false, m.b({5, 4}), true, logits32, false);  // bf16 products into f32
  Tensor d_table = m.f({5, 4});
  gpu.embedding_backward(m.i({3}), m.b({3, 4}), d_table);
  Tensor losses = m.f({3}), lse = m.f({3});
  gpu.cross_entropy_forward(m.b({3, 5}), m.i({3}), losses, lse);
  Tensor y_moe = m.b({3, 4});
  gpu.moe_combine_forward(m.b({6, 4}), m.f({3, 2}), m.i({3, 2}), y_moe);
  Tensor out = m.b({1, 2, 2, 4}), attention_lse = m.f({1, 2, 2});
  AttentionOptions options;
  options.num_keys = 2;
  gpu.attention_forward(m.b({1, 2, 2, 4}), m.b({1, 2, 1, 4}), m.b({1, 2, 1, 4}), Tensor(), options, out,
                        attention_lse);
  Tensor params = m.f({10}), moment1 = m.f({10}), moment2 = m.f({10}), compute = m.b({10});
  gpu.adamw_step(params, m.f({10}), moment1, moment2, AdamWOptions{}, m.d({kStepControlSize}),
                 m.d({kStepResultSize}), compute);
  Tensor from_host = m.b({3});
  gpu.copy(Tensor::zeros({3}, DType::f32), from_host);  // host f32 into device bf16
  Tensor to_host = Tensor::zeros({3}, DType::f64);
  gpu.copy(from_host, to_host);
  EXPECT_EQ(gpu.calls().size(), 9u);

  Tensor rstd_bf16 = m.b({3});
  expect_refused(gpu, "rmsnorm_forward", "rstd", [&] {
    gpu.rmsnorm_forward(m.b({3, 4}), m.b({4}), 1e-5, y, rstd_bf16);
  });
  Tensor out_bf16 = m.b({3, 5});
  expect_refused(gpu, "matmul", "out", [&] {
    gpu.matmul(m.f({3, 4}), false, m.f({5, 4}), true, out_bf16, false);
  });  // f32 into bf16
  Tensor d_table_bf16 = m.b({5, 4});
  expect_refused(gpu, "embedding_backward", "d_table", [&] {
    gpu.embedding_backward(m.i({3}), m.b({3, 4}), d_table_bf16);
  });
  Tensor scores = m.b({3, 4}), index = m.i({3, 2}), weight = m.b({3, 2});
  expect_refused(gpu, "moe_router_forward", "logits", [&] {
    gpu.moe_router_forward(m.b({3, 4}), true, scores, index, weight);
  });  // a statistic
  Tensor params_bf16 = m.b({10});
  expect_refused(gpu, "adamw_step", "params", [&] {
    gpu.adamw_step(params_bf16, m.b({10}), moment1, moment2, AdamWOptions{}, m.d({kStepControlSize}),
                   m.d({kStepResultSize}), compute);
  });
  Tensor doubles = m.d({4});
  expect_refused(gpu, "scale", "y", [&] { gpu.scale(doubles, 2.0); });  // no f64 compute on this device
  Tensor host_y = Tensor::zeros({3, 4}, DType::f32);
  expect_refused(gpu, "rmsnorm_forward", "y", [&] {
    gpu.rmsnorm_forward(m.f({3, 4}), m.f({4}), 1e-5, host_y, rstd);
  });
  const std::string message = testing::invalid_argument_message([&] { gpu.add(host_y, host_y); });
  EXPECT_NE(message.find("should be on cuda"), std::string::npos) << message;
}

}  // namespace
}  // namespace minimind
