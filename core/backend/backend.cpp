// The public ops of Backend: each checks its arguments once, here, against the contract of backend.h (shapes,
// dtypes by role, devices), then calls the backend's do_ op, which may assume them valid. Index values (ids,
// targets, expert indices, slots, offsets) are not read: they may live on the device, and the caller checks
// them where they are made.
#include "backend/backend.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "backend/argument_check.h"

namespace minimind {
namespace {

// The dimensions of an attention call, checked against q, k, v, the key mask and the options.
struct AttentionDims {
  int64_t batch, queries, q_heads, kv_heads, head_dim, cache_rows, keys;
};

AttentionDims check_attention(const ArgumentCheck& check, const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& key_mask, const AttentionOptions& options, DType compute) {
  check.rank(q, 4, "q");
  check.rank(k, 4, "k");
  const AttentionDims dims{q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3), k.dim(1), options.num_keys};
  if (dims.head_dim <= 0 || dims.q_heads <= 0)
    check.fail("q", "has no heads or no head dim: " + q.describe());
  if (k.dim(0) != dims.batch || k.dim(3) != dims.head_dim || dims.kv_heads <= 0)
    check.fail("k", "should have shape [" + std::to_string(dims.batch) + ", S_cap, Hkv, " +
                        std::to_string(dims.head_dim) + "], got " + k.describe());
  if (dims.q_heads % dims.kv_heads != 0)
    check.fail("the " + std::to_string(dims.q_heads) + " query heads do not split into groups over " +
               std::to_string(dims.kv_heads) + " kv heads");
  check.tensor(q, q.shape(), compute, "q");
  check.tensor(k, k.shape(), compute, "k");
  check.tensor(v, k.shape(), compute, "v");
  check.optional(key_mask, {dims.batch, dims.cache_rows}, DType::i32, "key_mask");
  if (dims.keys < 1 || dims.keys > dims.cache_rows)
    check.fail("options.num_keys should be in [1, " + std::to_string(dims.cache_rows) +
               "] (the rows of k/v), got " + std::to_string(dims.keys));
  if (options.query_offset < 0)
    check.fail("options.query_offset should be >= 0, got " + std::to_string(options.query_offset));
  return dims;
}

// rope_split's head layout: D even and positive (rotate-half), tables S [P, D] covering `last_position`.
void check_rope_tables(const ArgumentCheck& check, const Tensor& cos, const Tensor& sin, DType statistic,
                       int64_t head_dim, int64_t last_position) {
  if (head_dim <= 0 || head_dim % 2 != 0)
    check.fail("the head dim must be even and positive for rotate-half, got " + std::to_string(head_dim));
  check.rank(cos, 2, "cos");
  check.tensor(cos, cos.shape(), statistic, "cos");
  check.tensor(sin, cos.shape(), statistic, "sin");
  if (cos.dim(1) != head_dim)
    check.fail("cos", "rows should have the head dim " + std::to_string(head_dim) + " entries, got " +
                          cos.describe());
  if (last_position >= cos.dim(0))
    check.fail("position " + std::to_string(last_position) + " is outside the rope table of " +
               std::to_string(cos.dim(0)) + " positions");
}

// topk_index i32 [rows, K]; returns K.
int64_t check_topk_index(const ArgumentCheck& check, const Tensor& topk_index, int64_t rows) {
  check.rank(topk_index, 2, "topk_index");
  check.indices(topk_index, {rows, topk_index.dim(1)}, "topk_index");
  return topk_index.dim(1);
}

// slot_of i32 [rows, K]; returns K.
int64_t check_slot_of(const ArgumentCheck& check, const Tensor& slot_of, int64_t rows) {
  check.rank(slot_of, 2, "slot_of");
  check.indices(slot_of, {rows, slot_of.dim(1)}, "slot_of");
  return slot_of.dim(1);
}

void check_aux_loss_rows(const ArgumentCheck& check, int64_t rows, int64_t k, int64_t batch) {
  if (rows < 1 || k < 1)
    check.fail("needs at least one row and one chosen expert, got " + std::to_string(rows) + " rows of " +
               std::to_string(k));
  if (batch < 1 || rows % batch != 0)
    check.fail("batch " + std::to_string(batch) + " must divide the " + std::to_string(rows) +
               " rows into sequences of equal length");
}

}  // namespace

// ---- memory ----

void Backend::zero(Tensor& t) {
  ArgumentCheck(*this, "zero").on_device(t, "t");
  do_zero(t);
}

void Backend::copy(const Tensor& src, Tensor& dst) {
  const ArgumentCheck check(*this, "copy");
  expect_defined(src, "copy", "src");
  expect_defined(dst, "copy", "dst");
  for (const auto& [t, arg] : {std::pair<const Tensor*, const char*>{&src, "src"}, {&dst, "dst"}})
    if (t->device() != Device::cpu && t->device() != device())
      check.fail(arg, "should be on the host or on " + std::string(device_name(device())) + ", got " +
                          t->describe());
  if (dst.numel() != src.numel())
    check.fail("dst", dst.describe() + " should hold the " + std::to_string(src.numel()) +
                          " elements of 'src' " + src.describe());
  if (src.dtype() != dst.dtype()) {
    if (!ArgumentCheck::floating(src.dtype()) || !ArgumentCheck::floating(dst.dtype()))
      check.fail("dst", "should be " + std::string(dtype_name(src.dtype())) + " like 'src' (only f64, f32, " +
                            "bf16 and f16 convert), got " + dst.describe());
    if (ArgumentCheck::overlap(src, dst)) check.fail("dst", "shares memory with 'src' but has another dtype");
  }
  do_copy(src, dst);
}

// ---- elementwise and reductions ----

void Backend::add(Tensor& y, const Tensor& x) {
  const ArgumentCheck check(*this, "add");
  const DType dtype = check.compute(y, y.rank(), "y");
  check.tensor(x, y.shape(), dtype, "x");
  do_add(y, x);
}

void Backend::scale(Tensor& y, double factor) {
  ArgumentCheck(*this, "scale").compute(y, y.rank(), "y");
  do_scale(y, factor);
}

void Backend::sum_squares(const Tensor& x, Tensor& out) {
  const ArgumentCheck check(*this, "sum_squares");
  check.compute(x, x.rank(), "x");
  check.scalars(out, 1, "out");
  do_sum_squares(x, out);
}

void Backend::dropout(Tensor& x, const Dropout& dropout) {
  const ArgumentCheck check(*this, "dropout");
  check.compute(x, x.rank(), "x");
  check.dropout(dropout, "dropout");
  if (dropout.active()) do_dropout(x, dropout);
}

// ---- matmul ----

void Backend::matmul(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, Tensor& out,
                     bool accumulate) {
  const ArgumentCheck check(*this, "matmul");
  const DType dtype = check.compute(a, 2, "a");
  check.rank(b, 2, "b");
  expect_dtype(b, dtype, "matmul", "b");
  check.rank(out, 2, "out");
  if (!(out.dtype() == dtype || (dtype == DType::bf16 && out.dtype() == DType::f32)))
    check.fail("out", "should be " + std::string(dtype_name(dtype)) +
                          (dtype == DType::bf16 ? " or f32" : "") + ", got " + out.describe());
  const int64_t rows = transpose_a ? a.dim(1) : a.dim(0);
  const int64_t inner = transpose_a ? a.dim(0) : a.dim(1);
  const int64_t b_inner = transpose_b ? b.dim(1) : b.dim(0);
  const int64_t columns = transpose_b ? b.dim(0) : b.dim(1);
  if (b_inner != inner)
    check.fail("b", b.describe() + (transpose_b ? " (transposed)" : "") + " has inner dimension " +
                        std::to_string(b_inner) + ", but 'a' " + a.describe() +
                        (transpose_a ? " (transposed)" : "") + " has " + std::to_string(inner));
  expect_shape(out, {rows, columns}, "matmul", "out");
  if (ArgumentCheck::overlap(out, a) || ArgumentCheck::overlap(out, b))
    check.fail("out", out.describe() + " shares memory with an operand");
  do_matmul(a, transpose_a, b, transpose_b, out, accumulate);
}

// ---- embedding ----

void Backend::embedding_forward(const Tensor& ids, const Tensor& table, Tensor& out) {
  const ArgumentCheck check(*this, "embedding_forward");
  check.rank(ids, 1, "ids");
  check.indices(ids, ids.shape(), "ids");
  const DType dtype = check.compute(table, 2, "table");
  check.tensor(out, {ids.dim(0), table.dim(1)}, dtype, "out");
  do_embedding_forward(ids, table, out);
}

void Backend::embedding_backward(const Tensor& ids, const Tensor& d_out, Tensor& d_table) {
  const ArgumentCheck check(*this, "embedding_backward");
  check.rank(ids, 1, "ids");
  check.indices(ids, ids.shape(), "ids");
  const DType dtype = check.compute(d_out, 2, "d_out");
  check.rank(d_table, 2, "d_table");
  expect_dtype(d_table, wide_dtype(dtype), "embedding_backward", "d_table");
  check.tensor(d_out, {ids.dim(0), d_table.dim(1)}, dtype, "d_out");
  do_embedding_backward(ids, d_out, d_table);
}

// ---- rmsnorm ----

void Backend::rmsnorm_forward(const Tensor& x, const Tensor& weight, double eps, Tensor& y, Tensor& rstd) {
  const ArgumentCheck check(*this, "rmsnorm_forward");
  const DType dtype = check.compute(x, 2, "x");
  const int64_t rows = x.dim(0), hidden = x.dim(1);
  check.tensor(weight, {hidden}, dtype, "weight");
  check.tensor(y, {rows, hidden}, dtype, "y");
  check.tensor(rstd, {rows}, wide_dtype(dtype), "rstd");
  do_rmsnorm_forward(x, weight, eps, y, rstd);
}

void Backend::rmsnorm_backward(const Tensor& d_y, const Tensor& x, const Tensor& weight, const Tensor& rstd,
                               Tensor& d_x, Tensor& d_weight) {
  const ArgumentCheck check(*this, "rmsnorm_backward");
  const DType dtype = check.compute(d_y, 2, "d_y");
  check.rank(x, 2, "x");
  const int64_t rows = x.dim(0), hidden = x.dim(1);
  check.tensor(x, x.shape(), dtype, "x");
  check.tensor(d_y, {rows, hidden}, dtype, "d_y");
  check.tensor(weight, {hidden}, dtype, "weight");
  check.tensor(rstd, {rows}, wide_dtype(dtype), "rstd");
  check.tensor(d_x, {rows, hidden}, dtype, "d_x");
  check.tensor(d_weight, {hidden}, wide_dtype(dtype), "d_weight");
  do_rmsnorm_backward(d_y, x, weight, rstd, d_x, d_weight);
}

// ---- rope + qkv split ----

void Backend::rope_split_forward(const Tensor& qkv, const Tensor& cos, const Tensor& sin, int64_t kv_offset,
                                 Tensor& q, Tensor& k, Tensor& v) {
  const ArgumentCheck check(*this, "rope_split_forward");
  const DType dtype = check.compute(qkv, 3, "qkv");
  check.rank(q, 4, "q");
  check.rank(k, 4, "k");
  const int64_t batch = qkv.dim(0), seq = qkv.dim(1), q_heads = q.dim(2), kv_heads = k.dim(2),
                head_dim = q.dim(3), cache_rows = k.dim(1);
  check_rope_tables(check, cos, sin, wide_dtype(dtype), head_dim, kv_offset + seq - 1);
  check.tensor(q, {batch, seq, q_heads, head_dim}, dtype, "q");
  if (q_heads <= 0) check.fail("q", "should have at least one head, got " + q.describe());
  if (k.dim(0) != batch || k.dim(3) != head_dim || kv_heads <= 0)
    check.fail("k", "should have shape [" + std::to_string(batch) + ", S_cap, Hkv, " +
                        std::to_string(head_dim) + "], got " + k.describe());
  check.tensor(k, k.shape(), dtype, "k");
  check.tensor(v, k.shape(), dtype, "v");
  const int64_t width = (q_heads + 2 * kv_heads) * head_dim;
  if (qkv.dim(2) != width)
    check.fail("qkv", "last dim should be (Hq + 2 Hkv) D = (" + std::to_string(q_heads) + " + 2 * " +
                          std::to_string(kv_heads) + ") * " + std::to_string(head_dim) + " = " +
                          std::to_string(width) + ", got " + qkv.describe());
  if (kv_offset < 0 || kv_offset + seq > cache_rows)
    check.fail("rows " + std::to_string(kv_offset) + " .. " + std::to_string(kv_offset + seq - 1) +
               " do not fit k/v with " + std::to_string(cache_rows) + " rows");
  do_rope_split_forward(qkv, cos, sin, kv_offset, q, k, v);
}

void Backend::rope_split_backward(const Tensor& d_q, const Tensor& d_k, const Tensor& d_v, const Tensor& cos,
                                  const Tensor& sin, Tensor& d_qkv) {
  const ArgumentCheck check(*this, "rope_split_backward");
  const DType dtype = check.compute(d_q, 4, "d_q");
  check.rank(d_k, 4, "d_k");
  const int64_t batch = d_q.dim(0), seq = d_q.dim(1), q_heads = d_q.dim(2), kv_heads = d_k.dim(2),
                head_dim = d_q.dim(3);
  check_rope_tables(check, cos, sin, wide_dtype(dtype), head_dim, seq - 1);
  check.tensor(d_k, {batch, seq, kv_heads, head_dim}, dtype, "d_k");
  check.tensor(d_v, d_k.shape(), dtype, "d_v");
  check.tensor(d_qkv, {batch, seq, (q_heads + 2 * kv_heads) * head_dim}, dtype, "d_qkv");
  do_rope_split_backward(d_q, d_k, d_v, cos, sin, d_qkv);
}

// ---- attention ----

void Backend::attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                const AttentionOptions& options, Tensor& out, Tensor& lse) {
  const ArgumentCheck check(*this, "attention_forward");
  const DType dtype = check.compute(q, 4, "q");
  const AttentionDims dims = check_attention(check, q, k, v, key_mask, options, dtype);
  check.dropout(options.dropout, "options.dropout");
  check.tensor(out, q.shape(), dtype, "out");
  check.optional(lse, {dims.batch, dims.q_heads, dims.queries}, wide_dtype(dtype), "lse");
  do_attention_forward(q, k, v, key_mask, options, out, lse);
}

void Backend::attention_probs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                              const AttentionOptions& options, Tensor& probs) {
  const ArgumentCheck check(*this, "attention_probs");
  const DType dtype = check.compute(q, 4, "q");
  const AttentionDims dims = check_attention(check, q, k, v, key_mask, options, dtype);
  check.tensor(probs, {dims.batch, dims.q_heads, dims.queries, dims.keys}, wide_dtype(dtype), "probs");
  do_attention_probs(q, k, v, key_mask, options, probs);
}

void Backend::attention_backward(const Tensor& d_out, const Tensor& q, const Tensor& k, const Tensor& v,
                                 const Tensor& out, const Tensor& lse, const Tensor& key_mask,
                                 const AttentionOptions& options, Tensor& d_q, Tensor& d_k, Tensor& d_v) {
  const ArgumentCheck check(*this, "attention_backward");
  const DType dtype = check.compute(d_out, 4, "d_out");
  const AttentionDims dims = check_attention(check, q, k, v, key_mask, options, dtype);
  if (dims.cache_rows != dims.queries || dims.keys != dims.queries || options.query_offset != 0)
    check.fail("the backward takes training shapes only (S = S_cap = T, query_offset 0), got T = " +
               std::to_string(dims.queries) + ", S_cap = " + std::to_string(dims.cache_rows) +
               ", num_keys = " + std::to_string(dims.keys) +
               ", query_offset = " + std::to_string(options.query_offset));
  check.dropout(options.dropout, "options.dropout");
  check.tensor(d_out, q.shape(), dtype, "d_out");
  check.tensor(out, q.shape(), dtype, "out");
  check.tensor(lse, {dims.batch, dims.q_heads, dims.queries}, wide_dtype(dtype), "lse");
  check.tensor(d_q, q.shape(), dtype, "d_q");
  check.tensor(d_k, k.shape(), dtype, "d_k");
  check.tensor(d_v, k.shape(), dtype, "d_v");
  do_attention_backward(d_out, q, k, v, out, lse, key_mask, options, d_q, d_k, d_v);
}

// ---- swiglu ----

namespace {
// The width I of the gate (and of the up) half of gate_up [N, 2I].
int64_t gate_width(const ArgumentCheck& check, const Tensor& gate_up) {
  if (gate_up.dim(1) % 2 != 0)
    check.fail("gate_up", "should have an even number of columns (gate, then up), got " + gate_up.describe());
  return gate_up.dim(1) / 2;
}
}  // namespace

void Backend::swiglu_forward(const Tensor& gate_up, Tensor& out) {
  const ArgumentCheck check(*this, "swiglu_forward");
  const DType dtype = check.compute(gate_up, 2, "gate_up");
  check.tensor(out, {gate_up.dim(0), gate_width(check, gate_up)}, dtype, "out");
  do_swiglu_forward(gate_up, out);
}

void Backend::swiglu_backward(const Tensor& d_out, const Tensor& gate_up, Tensor& d_gate_up) {
  const ArgumentCheck check(*this, "swiglu_backward");
  const DType dtype = check.compute(d_out, 2, "d_out");
  check.rank(gate_up, 2, "gate_up");
  check.tensor(gate_up, gate_up.shape(), dtype, "gate_up");
  check.tensor(d_out, {gate_up.dim(0), gate_width(check, gate_up)}, dtype, "d_out");
  check.tensor(d_gate_up, gate_up.shape(), dtype, "d_gate_up");
  do_swiglu_backward(d_out, gate_up, d_gate_up);
}

// ---- cross entropy and the loss ----

void Backend::cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& losses,
                                    Tensor& logsumexp) {
  const ArgumentCheck check(*this, "cross_entropy_forward");
  const DType dtype = check.compute(logits, 2, "logits");
  const int64_t rows = logits.dim(0);
  check.indices(targets, {rows}, "targets");
  check.tensor(losses, {rows}, wide_dtype(dtype), "losses");
  check.tensor(logsumexp, {rows}, wide_dtype(dtype), "logsumexp");
  do_cross_entropy_forward(logits, targets, losses, logsumexp);
}

void Backend::cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& logsumexp,
                                     const Tensor& d_losses, Tensor& d_logits) {
  const ArgumentCheck check(*this, "cross_entropy_backward");
  const DType dtype = check.compute(logits, 2, "logits");
  const int64_t rows = logits.dim(0);
  check.indices(targets, {rows}, "targets");
  check.tensor(logsumexp, {rows}, wide_dtype(dtype), "logsumexp");
  check.tensor(d_losses, {rows}, wide_dtype(dtype), "d_losses");
  check.tensor(d_logits, logits.shape(), dtype, "d_logits");
  do_cross_entropy_backward(logits, targets, logsumexp, d_losses, d_logits);
}

void Backend::masked_loss_totals(const Tensor& losses, const Tensor& loss_mask, Tensor& totals) {
  const ArgumentCheck check(*this, "masked_loss_totals");
  const DType dtype = check.statistic(losses, 1, "losses");
  check.optional(loss_mask, losses.shape(), dtype, "loss_mask");
  check.scalars(totals, kLossTotalsSize, "totals");
  do_masked_loss_totals(losses, loss_mask, totals);
}

void Backend::masked_loss_backward(const Tensor& loss_mask, const Tensor& totals, const Tensor& scale,
                                   Tensor& d_losses) {
  const ArgumentCheck check(*this, "masked_loss_backward");
  const DType dtype = check.statistic(d_losses, 1, "d_losses");
  check.optional(loss_mask, d_losses.shape(), dtype, "loss_mask");
  check.scalars(totals, kLossTotalsSize, "totals");
  check.scalars(scale, 1, "scale");
  do_masked_loss_backward(loss_mask, totals, scale, d_losses);
}

// ---- mixture of experts ----

void Backend::moe_router_forward(const Tensor& logits, bool normalize, Tensor& scores, Tensor& topk_index,
                                 Tensor& topk_weight) {
  const ArgumentCheck check(*this, "moe_router_forward");
  const DType dtype = check.statistic(logits, 2, "logits");
  const int64_t rows = logits.dim(0), experts = logits.dim(1);
  check.tensor(scores, logits.shape(), dtype, "scores");
  const int64_t k = check_topk_index(check, topk_index, rows);
  if (k < 1 || k > experts)
    check.fail("top-k " + std::to_string(k) + " must lie in [1, " + std::to_string(experts) +
               "] (number of experts)");
  check.tensor(topk_weight, {rows, k}, dtype, "topk_weight");
  do_moe_router_forward(logits, normalize, scores, topk_index, topk_weight);
}

void Backend::moe_router_backward(const Tensor& d_topk_weight, const Tensor& d_scores, const Tensor& scores,
                                  const Tensor& topk_index, bool normalize, Tensor& d_logits) {
  const ArgumentCheck check(*this, "moe_router_backward");
  const DType dtype = check.statistic(d_topk_weight, 2, "d_topk_weight");
  check.rank(scores, 2, "scores");
  const int64_t rows = scores.dim(0), experts = scores.dim(1);
  check.tensor(scores, scores.shape(), dtype, "scores");
  const int64_t k = check_topk_index(check, topk_index, rows);
  if (k < 1 || k > experts)
    check.fail("top-k " + std::to_string(k) + " must lie in [1, " + std::to_string(experts) +
               "] (number of experts)");
  check.tensor(d_topk_weight, {rows, k}, dtype, "d_topk_weight");
  check.optional(d_scores, scores.shape(), dtype, "d_scores");
  check.tensor(d_logits, scores.shape(), dtype, "d_logits");
  do_moe_router_backward(d_topk_weight, d_scores, scores, topk_index, normalize, d_logits);
}

void Backend::moe_aux_loss_forward(const Tensor& scores, const Tensor& topk_index, int64_t batch,
                                   bool seq_aux, double alpha, Tensor& aux) {
  const ArgumentCheck check(*this, "moe_aux_loss_forward");
  check.statistic(scores, 2, "scores");
  const int64_t k = check_topk_index(check, topk_index, scores.dim(0));
  check_aux_loss_rows(check, scores.dim(0), k, batch);
  check.scalars(aux, 1, "aux");
  do_moe_aux_loss_forward(scores, topk_index, batch, seq_aux, alpha, aux);
}

void Backend::moe_aux_loss_backward(const Tensor& topk_index, int64_t batch, bool seq_aux, double alpha,
                                    const Tensor& d_aux, Tensor& d_scores) {
  const ArgumentCheck check(*this, "moe_aux_loss_backward");
  check.statistic(d_scores, 2, "d_scores");
  const int64_t k = check_topk_index(check, topk_index, d_scores.dim(0));
  check_aux_loss_rows(check, d_scores.dim(0), k, batch);
  check.scalars(d_aux, 1, "d_aux");
  do_moe_aux_loss_backward(topk_index, batch, seq_aux, alpha, d_aux, d_scores);
}

void Backend::moe_plan(const Tensor& topk_index, int64_t num_experts, Tensor& expert_offsets,
                       Tensor& slot_of) {
  const ArgumentCheck check(*this, "moe_plan");
  check.rank(topk_index, 2, "topk_index");
  check.indices(topk_index, topk_index.shape(), "topk_index");
  if (num_experts < 1) check.fail("num_experts must be positive, got " + std::to_string(num_experts));
  if (topk_index.numel() > INT32_MAX)
    check.fail("topk_index", topk_index.describe() + " has more slots than i32 holds");
  check.indices(expert_offsets, {num_experts + 1}, "expert_offsets");
  check.indices(slot_of, topk_index.shape(), "slot_of");
  do_moe_plan(topk_index, num_experts, expert_offsets, slot_of);
}

void Backend::moe_gather(const Tensor& x, const Tensor& slot_of, Tensor& sorted) {
  const ArgumentCheck check(*this, "moe_gather");
  const DType dtype = check.compute(x, 2, "x");
  const int64_t k = check_slot_of(check, slot_of, x.dim(0));
  check.tensor(sorted, {x.dim(0) * k, x.dim(1)}, dtype, "sorted");
  do_moe_gather(x, slot_of, sorted);
}

void Backend::moe_gather_backward(const Tensor& d_sorted, const Tensor& slot_of, Tensor& d_x) {
  const ArgumentCheck check(*this, "moe_gather_backward");
  const DType dtype = check.compute(d_sorted, 2, "d_sorted");
  check.rank(d_x, 2, "d_x");
  check.tensor(d_x, d_x.shape(), dtype, "d_x");
  const int64_t k = check_slot_of(check, slot_of, d_x.dim(0));
  check.tensor(d_sorted, {d_x.dim(0) * k, d_x.dim(1)}, dtype, "d_sorted");
  do_moe_gather_backward(d_sorted, slot_of, d_x);
}

void Backend::moe_combine_forward(const Tensor& expert_out, const Tensor& topk_weight, const Tensor& slot_of,
                                  Tensor& y) {
  const ArgumentCheck check(*this, "moe_combine_forward");
  const DType dtype = check.compute(expert_out, 2, "expert_out");
  check.rank(y, 2, "y");
  check.tensor(y, y.shape(), dtype, "y");
  const int64_t rows = y.dim(0), k = check_slot_of(check, slot_of, rows);
  check.tensor(expert_out, {rows * k, y.dim(1)}, dtype, "expert_out");
  check.tensor(topk_weight, {rows, k}, wide_dtype(dtype), "topk_weight");
  do_moe_combine_forward(expert_out, topk_weight, slot_of, y);
}

void Backend::moe_combine_backward(const Tensor& d_y, const Tensor& expert_out, const Tensor& topk_weight,
                                   const Tensor& slot_of, Tensor& d_expert_out, Tensor& d_topk_weight) {
  const ArgumentCheck check(*this, "moe_combine_backward");
  const DType dtype = check.compute(d_y, 2, "d_y");
  const int64_t rows = d_y.dim(0), k = check_slot_of(check, slot_of, rows);
  check.tensor(expert_out, {rows * k, d_y.dim(1)}, dtype, "expert_out");
  check.tensor(topk_weight, {rows, k}, wide_dtype(dtype), "topk_weight");
  check.tensor(d_expert_out, expert_out.shape(), dtype, "d_expert_out");
  check.tensor(d_topk_weight, {rows, k}, wide_dtype(dtype), "d_topk_weight");
  do_moe_combine_backward(d_y, expert_out, topk_weight, slot_of, d_expert_out, d_topk_weight);
}

void Backend::expert_matmul(const Tensor& x, const ExpertWeights& weights, const Tensor& expert_offsets,
                            Tensor& out) {
  const ArgumentCheck check(*this, "expert_matmul");
  const DType dtype = check.compute(x, 2, "x");
  check.expert_weights(weights, dtype, "weights");
  if (weights.shape[1] != x.dim(1))
    check.fail("weights", "matrices " + shape_string(weights.shape) + " should take the " +
                              std::to_string(x.dim(1)) + " columns of 'x' " + x.describe());
  check.indices(expert_offsets, {weights.count + 1}, "expert_offsets");
  check.tensor(out, {x.dim(0), weights.shape[0]}, dtype, "out");
  if (ArgumentCheck::overlap(out, x) || ArgumentCheck::overlap(out, weights.block))
    check.fail("out", out.describe() + " shares memory with an operand");
  do_expert_matmul(x, weights, expert_offsets, out);
}

void Backend::expert_matmul_backward(const Tensor& d_out, const Tensor& x, const ExpertWeights& weights,
                                     const Tensor& expert_offsets, Tensor& d_x,
                                     const ExpertWeights& d_weights) {
  const ArgumentCheck check(*this, "expert_matmul_backward");
  const DType dtype = check.compute(d_out, 2, "d_out");
  check.expert_weights(weights, dtype, "weights");
  const int64_t rows = d_out.dim(0), out_features = weights.shape[0], in_features = weights.shape[1];
  check.tensor(d_out, {rows, out_features}, dtype, "d_out");
  check.tensor(x, {rows, in_features}, dtype, "x");
  check.indices(expert_offsets, {weights.count + 1}, "expert_offsets");
  check.tensor(d_x, {rows, in_features}, dtype, "d_x");
  check.expert_weights(d_weights, wide_dtype(dtype), "d_weights");
  if (d_weights.shape != weights.shape || d_weights.count != weights.count)
    check.fail("d_weights", "should hold " + std::to_string(weights.count) + " matrices of " +
                                shape_string(weights.shape) + " like 'weights', got " +
                                std::to_string(d_weights.count) + " of " + shape_string(d_weights.shape));
  if (ArgumentCheck::overlap(d_x, d_out) || ArgumentCheck::overlap(d_x, x) ||
      ArgumentCheck::overlap(d_x, weights.block))
    check.fail("d_x", d_x.describe() + " shares memory with an operand");
  if (ArgumentCheck::overlap(d_weights.block, d_out) || ArgumentCheck::overlap(d_weights.block, x))
    check.fail("d_weights", d_weights.block.describe() + " shares memory with an operand");
  do_expert_matmul_backward(d_out, x, weights, expert_offsets, d_x, d_weights);
}

// ---- sampling ----

void Backend::sample_tokens(const Tensor& logits, const TokenFilters& filters, const Tensor& uniforms,
                            Tensor& seen, Tensor& ids) {
  const ArgumentCheck check(*this, "sample_tokens");
  check.compute(logits, 2, "logits");
  const int64_t rows = logits.dim(0), vocab = logits.dim(1);
  if (vocab < 1 || vocab > INT32_MAX)
    check.fail("logits", "should have 1 to 2^31 - 1 columns, got " + logits.describe());
  check.indices(seen, logits.shape(), "seen");
  check.indices(ids, {rows}, "ids");
  if (!filters.greedy) check.tensor(uniforms, {rows}, DType::f64, "uniforms");
  if (!(filters.repetition_penalty > 0) || !std::isfinite(filters.repetition_penalty))
    check.fail("the repetition penalty should be > 0, got " + std::to_string(filters.repetition_penalty));
  if (!filters.greedy && (!(filters.temperature > 0) || !std::isfinite(filters.temperature)))
    check.fail("the temperature should be > 0 (greedy: argmax), got " + std::to_string(filters.temperature));
  if (filters.top_k < 0) check.fail("top_k should be >= 0, got " + std::to_string(filters.top_k));
  if (!(filters.top_p > 0 && filters.top_p <= 1))
    check.fail("top_p should be in (0, 1], got " + std::to_string(filters.top_p));
  do_sample_tokens(logits, filters, uniforms, seen, ids);
}

// ---- the optimizer step ----

void Backend::update_decision(const Tensor& sum_squares, const Tensor& micro_totals, const Tensor& control,
                              Tensor& result) {
  const ArgumentCheck check(*this, "update_decision");
  check.scalars(sum_squares, 1, "sum_squares");
  check.rank(micro_totals, 2, "micro_totals");
  if (micro_totals.dim(0) < 1)
    check.fail("micro_totals", "should hold at least one micro-step, got " + micro_totals.describe());
  check.tensor(micro_totals, {micro_totals.dim(0), kLossTotalsSize}, DType::f64, "micro_totals");
  check.scalars(control, kStepControlSize, "control");
  check.scalars(result, kStepResultSize, "result");
  do_update_decision(sum_squares, micro_totals, control, result);
}

void Backend::adamw_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v,
                         const AdamWOptions& options, const Tensor& control, const Tensor& result,
                         Tensor& compute_params) {
  const ArgumentCheck check(*this, "adamw_step");
  const DType dtype = check.statistic(params, params.rank(), "params");
  check.tensor(grads, params.shape(), dtype, "grads");
  check.tensor(m, params.shape(), dtype, "m");
  check.tensor(v, params.shape(), dtype, "v");
  check.scalars(control, kStepControlSize, "control");
  check.scalars(result, kStepResultSize, "result");
  if (compute_params.defined()) {
    check.on_device(compute_params, "compute_params");
    expect_shape(compute_params, params.shape(), "adamw_step", "compute_params");
    if (!supports_compute(compute_params.dtype()) || wide_dtype(compute_params.dtype()) != dtype)
      check.fail("compute_params", "should be a compute dtype whose master dtype is " +
                                       std::string(dtype_name(dtype)) + ", got " + compute_params.describe());
  }
  if (!(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1))
    check.fail("options.beta1 and options.beta2 should be in [0, 1), got " + std::to_string(options.beta1) +
               " and " + std::to_string(options.beta2));
  do_adamw_step(params, grads, m, v, options, control, result, compute_params);
}

}  // namespace minimind
