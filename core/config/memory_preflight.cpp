// The verdict and its message. The suggestions search the estimate itself (it grows with batch and length),
// so they hold for whatever produced it: the CPU plan today, a GPU's mixed-precision plan later.
#include "config/memory_preflight.h"

#include <cmath>
#include <limits>

#include "io/system_memory.h"
#include "text/byte_size.h"

namespace minimind {

namespace {

// The largest x in [low, high] for which `fits` holds, given that it holds for every x below one that does.
template <typename Fits>
std::optional<int64_t> largest_fitting(int64_t low, int64_t high, const Fits& fits) {
  if (high < low || !fits(low)) return std::nullopt;
  while (low < high) {
    const int64_t middle = low + (high - low + 1) / 2;
    if (fits(middle))
      low = middle;
    else
      high = middle - 1;
  }
  return low;
}

// "activations 3.7 TiB, AdamW state 8.4 GiB, weights 4.2 GiB": the three biggest parts.
std::string biggest_parts(const MemoryEstimate& estimate) {
  std::string text;
  const std::vector<MemoryEstimate::Part> parts = estimate.parts();
  for (size_t i = 0; i < parts.size() && i < 3; ++i)
    text += (i ? ", " : "") + std::string(parts[i].name) + " " + format_bytes(parts[i].bytes);
  return text;
}

std::string sized(const std::string& name, int64_t value) {
  return name + " " + std::to_string(value);
}

std::string margin_text(const MemoryMargin& margin) {
  return std::to_string(std::lround(margin.fraction * 100)) + "% + " + format_bytes(margin.reserve_bytes);
}

std::string suggestion(const MemoryRequest& r, const MemoryVerdict& v) {
  const int64_t sequences = r.batch * r.accumulation_steps;
  const std::string keep = v.suggested_accumulation_steps
                               ? sized(r.accumulation_name, *v.suggested_accumulation_steps) + " to keep " +
                                     std::to_string(sequences) + " sequences per optimizer step"
                               : "";
  if (v.largest_batch) {
    std::string text = "The largest " + r.batch_name + " that fits at " + sized(r.length_name, r.length) +
                       " is " + std::to_string(*v.largest_batch);
    if (v.accumulation_batch) text += "; " + sized(r.batch_name, *v.accumulation_batch) + " with " + keep;
    return text + ".";
  }
  if (v.largest_length) {
    std::string text = "Not even " + sized(r.batch_name, 1) + " fits at " + sized(r.length_name, r.length) +
                       "; the longest " + r.length_name + " that fits at " + sized(r.batch_name, 1) + " is " +
                       std::to_string(*v.largest_length);
    if (v.suggested_accumulation_steps) text += ", with " + keep;
    return text + ".";
  }
  const MemoryEstimate smallest = r.estimate(1, 1);
  return "Not even " + sized(r.batch_name, 1) + " x " + sized(r.length_name, 1) +
         " fits: the model alone needs " + format_bytes(smallest.total()) + " (" + biggest_parts(smallest) +
         "); choose a smaller model (fewer layers, a smaller hidden_size or vocabulary).";
}

}  // namespace

AvailableMemory available_system_memory() {
  const SystemMemory memory = read_system_memory();
  return {memory.available_bytes(), memory.describe()};
}

int64_t MemoryMargin::with_margin(int64_t estimate_bytes) const {
  const double with_fraction = static_cast<double>(estimate_bytes) * (1.0 + fraction);
  if (with_fraction >= 9.2e18) return std::numeric_limits<int64_t>::max();  // saturate below INT64_MAX
  return saturating_add(static_cast<int64_t>(with_fraction), reserve_bytes);
}

MemoryVerdict check_memory(const MemoryRequest& r, const AvailableMemory& available,
                           const MemoryMargin& margin) {
  MemoryVerdict v;
  v.estimate = r.estimate(r.batch, r.length);
  v.needed_bytes = margin.with_margin(v.estimate.total());
  v.available_bytes = available.bytes;
  v.fits = v.needed_bytes <= available.bytes;
  if (v.fits) return v;

  auto fits = [&](int64_t batch, int64_t length) {
    return margin.with_margin(r.estimate(batch, length).total()) <= available.bytes;
  };
  v.largest_batch = largest_fitting(1, r.batch - 1, [&](int64_t batch) { return fits(batch, r.length); });
  if (!v.largest_batch)
    v.largest_length = largest_fitting(1, r.length - 1, [&](int64_t length) { return fits(1, length); });
  const std::optional<int64_t> smaller_batch = v.largest_batch                   ? v.largest_batch
                                               : v.largest_length && r.batch > 1 ? std::optional<int64_t>(1)
                                                                                 : std::nullopt;
  if (r.accumulation_steps > 0 && smaller_batch) {
    // The largest fitting batch that divides the sequences per optimizer step, so the step stays the same
    // size.
    const int64_t sequences = r.batch * r.accumulation_steps;
    int64_t batch = *smaller_batch;
    while (sequences % batch != 0) --batch;
    v.accumulation_batch = batch;
    v.suggested_accumulation_steps = sequences / batch;
  }

  v.message = r.workload + " at " + sized(r.batch_name, r.batch) + " x " + sized(r.length_name, r.length) +
              " needs " + format_bytes(v.estimate.total()) + " (" + biggest_parts(v.estimate) + "), " +
              format_bytes(v.needed_bytes) + " with the safety margin (" + margin_text(margin) + "), but " +
              format_bytes(available.bytes) + " is available (" + available.source + ").\n" +
              suggestion(r, v);
  return v;
}

std::string out_of_memory_advice(const MemoryRequest& r, const AvailableMemory& capacity,
                                 const MemoryMargin& margin) {
  const MemoryVerdict verdict = check_memory(r, capacity, margin);
  if (!verdict.fits) return verdict.message;
  return r.workload + " at " + sized(r.batch_name, r.batch) + " x " + sized(r.length_name, r.length) +
         " needs " + format_bytes(verdict.needed_bytes) + " with the safety margin, which fits in " +
         format_bytes(capacity.bytes) + " (" + capacity.source +
         ") when nothing else holds any of it: other processes or models held the rest. Free that memory, "
         "or lower the " +
         r.batch_name + ".";
}

}  // namespace minimind
