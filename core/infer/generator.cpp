// Batched generation. Prompts of different lengths are left-padded with id 0 and an attention mask of 0 on
// the padding, so every sequence's last prompt token sits at the same position and one forward of [B, 1]
// advances them all. The padding shifts a sequence's RoPE positions by its pad length; attention scores
// depend only on the distance between positions, so the result equals running the sequence alone up to
// rounding, and padded keys get -1e9 added before the softmax, which is exactly 0 after it.
#include "infer/generator.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "text/utf8.h"

namespace minimind {

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::stop_id:
      return "stop_id";
    case StopReason::stop_string:
      return "stop_string";
    case StopReason::max_new_tokens:
      return "max_new_tokens";
    case StopReason::context_full:
      return "context_full";
    case StopReason::callback:
      return "callback";
  }
  return "unknown";
}

namespace {

// The length of the prefix of `bytes` that can be turned into text now: everything but a trailing start of a
// character whose remaining bytes may still come. Invalid bytes before it are settled (they become U+FFFD
// exactly as decoding the whole would make them).
size_t settled_length(std::string_view bytes) {
  size_t position = 0;
  while (position < bytes.size()) {
    position += utf8::validate(bytes.substr(position)).valid_bytes;
    if (position == bytes.size()) break;
    const std::string_view rest = bytes.substr(position);
    const utf8::Validation tail = utf8::validate(rest);
    if (tail.valid_bytes == 0 && tail.truncated_tail) return position;
    position += utf8::invalid_sequence_length(rest);
  }
  return bytes.size();
}

struct SequenceState {
  Sampler sampler;
  std::vector<int32_t> context;  // the prompt and the generated ids, for the repetition penalty
  std::string pending_bytes;     // bytes of an unfinished character
  std::string text;              // settled text; text[emitted..] is held back as a possible stop-string start
  size_t emitted = 0;
  bool done = false;
};

// The length of the longest suffix of `text` (after `from`) that is a proper prefix of a stop string.
size_t stop_prefix_hold(const std::string& text, size_t from, const std::vector<std::string>& stop_strings) {
  size_t hold = 0;
  const size_t available = text.size() - from;
  for (const std::string& stop : stop_strings)
    for (size_t length = std::min(stop.size() - 1, available); length > hold; --length)
      if (text.compare(text.size() - length, length, stop, 0, length) == 0) {
        hold = length;
        break;
      }
  return hold;
}

template <typename T>
std::span<const T> logits_row(const Tensor& logits, int64_t row) {
  const int64_t vocab = logits.dim(1);
  return {logits.data<T>() + row * vocab, static_cast<size_t>(vocab)};
}

}  // namespace

Generator::Generator(MiniMindModel& model, const Tokenizer& tokenizer)
    : model_(model), tokenizer_(tokenizer) {}

std::vector<int32_t> Generator::default_stop_ids() const {
  std::vector<int32_t> ids;
  for (const char* token : {"<|endoftext|>", "<|im_end|>"})
    if (const auto id = tokenizer_.token_to_id(token)) ids.push_back(*id);
  return ids;
}

GenerationResult Generator::generate(const std::vector<std::vector<int32_t>>& prompts,
                                     const GenerationOptions& options, const TokenCallback& on_token) {
  if (!on_token) return generate(prompts, options, TokenCandidatesCallback{});
  return generate(prompts, options,
                  [&on_token](int64_t i, int32_t id, std::string_view piece, const std::vector<StageCandidates>&) {
                    return on_token(i, id, piece);
                  });
}

GenerationResult Generator::generate(const std::vector<std::vector<int32_t>>& prompts,
                                     const GenerationOptions& options, const TokenCandidatesCallback& on_token) {
  using Clock = std::chrono::steady_clock;
  const ModelConfig& config = model_.config();
  options.sampling.validate();
  if (prompts.empty()) throw std::invalid_argument("generate: no prompts");
  if (options.max_new_tokens < 0)
    throw std::invalid_argument("generate: max_new_tokens must be >= 0, got " +
                                std::to_string(options.max_new_tokens));
  for (const std::string& stop : options.stop_strings)
    if (stop.empty()) throw std::invalid_argument("generate: a stop string is empty");
  const int64_t batch = static_cast<int64_t>(prompts.size());
  int64_t longest = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty())
      throw std::invalid_argument("generate: prompt " + std::to_string(i) + " is empty");
    for (int32_t id : prompts[i])
      if (id < 0 || id >= config.vocab_size)
        throw std::invalid_argument("generate: prompt " + std::to_string(i) + " holds id " +
                                    std::to_string(id) + ", outside the model's vocabulary [0, " +
                                    std::to_string(config.vocab_size) + ")");
    longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts[i].size()));
  }
  if (longest > config.max_position_embeddings)
    throw std::invalid_argument("generate: a prompt of " + std::to_string(longest) +
                                " tokens exceeds max_position_embeddings " +
                                std::to_string(config.max_position_embeddings));

  GenerationResult result;
  result.sequences.resize(static_cast<size_t>(batch));
  result.prompt_tokens = longest;
  if (options.max_new_tokens == 0) return result;

  const std::vector<int32_t> stop_ids = options.stop_ids.value_or(default_stop_ids());
  std::vector<SequenceState> states;
  states.reserve(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i)
    states.push_back({Sampler(options.sampling, static_cast<uint64_t>(i)),
                      prompts[static_cast<size_t>(i)],
                      {},
                      {},
                      0,
                      false});

  // The last generated token is never fed back, hence max_new_tokens - 1 positions after the prompt.
  const int64_t capacity =
      std::min<int64_t>(config.max_position_embeddings, longest + options.max_new_tokens - 1);
  KvCache cache = model_.make_cache(batch, std::max<int64_t>(capacity, longest));

  Tensor input = Tensor::zeros({batch, longest}, DType::i32);
  Tensor mask = Tensor::zeros({batch, longest}, DType::i32);
  bool padded = false;
  for (int64_t i = 0; i < batch; ++i) {
    const std::vector<int32_t>& prompt = prompts[static_cast<size_t>(i)];
    const int64_t pad = longest - static_cast<int64_t>(prompt.size());
    padded = padded || pad > 0;
    std::copy(prompt.begin(), prompt.end(), input.data<int32_t>() + i * longest + pad);
    std::fill(mask.data<int32_t>() + i * longest + pad, mask.data<int32_t>() + (i + 1) * longest, 1);
  }

  const bool want_candidates = options.sampling.candidates > 0;
  std::vector<StageCandidates> stages;
  std::vector<int32_t> next_ids(static_cast<size_t>(batch), 0);

  // Takes sequence i's new token: records it, streams its text and decides whether the sequence ends.
  auto accept = [&](int64_t i, int32_t id) {
    SequenceState& s = states[static_cast<size_t>(i)];
    GeneratedSequence& out = result.sequences[static_cast<size_t>(i)];
    out.tokens.push_back(id);
    s.context.push_back(id);
    if (want_candidates) out.candidates.push_back(stages);
    next_ids[static_cast<size_t>(i)] = id;

    std::optional<StopReason> reason;
    if (std::find(stop_ids.begin(), stop_ids.end(), id) != stop_ids.end())
      reason = StopReason::stop_id;
    else
      s.pending_bytes += tokenizer_.token_bytes(id);
    if (!reason && static_cast<int64_t>(out.tokens.size()) >= options.max_new_tokens)
      reason = StopReason::max_new_tokens;
    if (!reason && cache.length() >= cache.capacity()) reason = StopReason::context_full;

    // Settle what can be decoded now; at the end, a cut-off character becomes U+FFFD as decode() makes it.
    const size_t settled = reason ? s.pending_bytes.size() : settled_length(s.pending_bytes);
    if (settled > 0) {
      s.text += utf8::replace_invalid(std::string_view(s.pending_bytes).substr(0, settled));
      s.pending_bytes.erase(0, settled);
    }
    size_t stop_at = std::string::npos;
    for (const std::string& stop : options.stop_strings)
      stop_at = std::min(stop_at, s.text.find(stop, s.emitted));
    size_t end = s.text.size();
    if (stop_at != std::string::npos) {
      reason = StopReason::stop_string;
      end = stop_at;
      s.text.resize(stop_at);
    } else if (!reason) {
      end -= stop_prefix_hold(s.text, s.emitted, options.stop_strings);
    }
    const std::string_view piece = std::string_view(s.text).substr(s.emitted, end - s.emitted);
    s.emitted = end;
    if (on_token && !on_token(i, id, piece, stages) && !reason) reason = StopReason::callback;
    if (reason) {
      s.done = true;
      s.text.resize(s.emitted);  // a callback stop drops what was held back
      out.text = std::move(s.text);
      out.stop_reason = *reason;
    }
  };

  // The next token of every unfinished sequence from its row of logits (device [B, V]). Sampling runs on the
  // model's device; only the ids come back. With candidates the rows come back instead and the host Sampler
  // picks, reporting each stage: both paths draw the same tokens from the same seed.
  Backend& backend = model_.backend();
  const int64_t vocab = config.vocab_size;
  const TokenFilters filters = options.sampling.filters();
  Tensor rows, seen, ids, uniforms, host_uniforms;
  if (want_candidates) {
    rows = Tensor::empty({batch, vocab}, model_.precision().statistic());
  } else {
    Tensor host_seen = Tensor::zeros({batch, vocab}, DType::i32);
    for (int64_t i = 0; i < batch; ++i)
      for (int32_t id : prompts[static_cast<size_t>(i)]) host_seen.data<int32_t>()[i * vocab + id] = 1;
    seen = backend.empty({batch, vocab}, DType::i32);
    backend.copy(host_seen, seen);
    ids = backend.empty({batch}, DType::i32);
    if (!filters.greedy) {
      uniforms = backend.empty({batch}, DType::f64);
      host_uniforms = Tensor::zeros({batch}, DType::f64);
    }
  }
  auto no_token = [](int64_t i) {
    return std::runtime_error("generate: the logits of sequence " + std::to_string(i) +
                              " hold a NaN or no finite value: the model's weights may have diverged");
  };
  auto sample_all = [&](const Tensor& logits) {
    if (want_candidates) {
      backend.copy(logits, rows);
      for (int64_t i = 0; i < batch; ++i) {
        SequenceState& s = states[static_cast<size_t>(i)];
        if (s.done) continue;
        int32_t id = 0;
        try {
          id = rows.dtype() == DType::f64 ? s.sampler.next(logits_row<double>(rows, i), s.context, &stages)
                                          : s.sampler.next(logits_row<float>(rows, i), s.context, &stages);
        } catch (const std::invalid_argument&) {
          throw no_token(i);
        }
        accept(i, id);
      }
      return;
    }
    if (!filters.greedy) {
      for (int64_t i = 0; i < batch; ++i) {
        SequenceState& s = states[static_cast<size_t>(i)];
        host_uniforms.data<double>()[i] = s.done ? 0.0 : s.sampler.draw_uniform();
      }
      backend.copy(host_uniforms, uniforms);
    }
    backend.sample_tokens(logits, filters, uniforms, seen, ids);
    const Tensor chosen = backend.to_host(ids);
    for (int64_t i = 0; i < batch; ++i) {
      if (states[static_cast<size_t>(i)].done) continue;
      const int32_t id = chosen.data<int32_t>()[i];
      if (id < 0) throw no_token(i);
      accept(i, id);
    }
  };
  auto all_done = [&] {
    return std::all_of(states.begin(), states.end(), [](const SequenceState& s) { return s.done; });
  };

  const auto prefill_start = Clock::now();
  sample_all(model_.forward_cached_last(input, cache, padded ? mask : Tensor{}));
  result.prefill_seconds = std::chrono::duration<double>(Clock::now() - prefill_start).count();

  const auto decode_start = Clock::now();
  Tensor step = Tensor::empty({batch, 1}, DType::i32);
  while (!all_done()) {
    // Finished sequences ride along (their last id is fed again) and their logits are ignored.
    std::copy(next_ids.begin(), next_ids.end(), step.data<int32_t>());
    const Tensor& logits = model_.forward_cached_last(step, cache);
    ++result.decode_steps;
    sample_all(logits);
  }
  result.decode_seconds = std::chrono::duration<double>(Clock::now() - decode_start).count();
  return result;
}

}  // namespace minimind
