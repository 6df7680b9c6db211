// Byte-level BPE training, step for step as Hugging Face's BpeTrainer (tokenizers/src/models/bpe/trainer.rs)
// so that the vocab and merges come out identical:
//   1. special tokens, in order; 2. the alphabet (the 256 byte characters) sorted by code point;
//   3. each distinct pre-token becomes a word of symbol ids with its count;
//   4. pair counts and, per pair, the words containing it; one heap entry per pair;
//   5. pop the best entry (count, then the smaller (left id, right id)); an entry whose count went stale is
//      pushed back with the current count; merge the pair in the entry's words, apply the neighbour changes,
//      and push one new entry per pair that gained occurrences, holding just the words where it gained them.
// Quirks kept on purpose because they shape the result: the merged pair's own count is not decremented (only
// its neighbours' are), a merge whose token string already exists reuses that id (the vocab does not grow,
// the merge is still listed), and a pair merged twice keeps only its last rank, as Hugging Face's merge map
// does. Counts are 64-bit where Hugging Face uses 32-bit ones; they differ only past 2^31 occurrences.
#include "tokenizer/bpe_trainer.h"

#include <algorithm>
#include <array>
#include <numeric>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"

namespace minimind {
namespace {

// (left id, right id) packed so that the integer order is the pair order Hugging Face breaks ties with.
using PairKey = uint64_t;
PairKey make_pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
int32_t pair_left(PairKey pair) {
  return static_cast<int32_t>(pair >> 32);
}
int32_t pair_right(PairKey pair) {
  return static_cast<int32_t>(pair & 0xFFFFFFFFu);
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
using WordCounts = std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>>;

// A heap entry: a pair, its count when pushed, and the words to merge it in (each once).
struct MergeCandidate {
  int64_t count = 0;
  PairKey pair = 0;
  uint64_t sequence = 0;  // push order: breaks ties between entries of the same pair and count
  std::vector<uint32_t> word_indices;
};

// Max-heap order: the larger count first, then the smaller pair, then the earlier push.
struct PopsLater {
  bool operator()(const MergeCandidate& a, const MergeCandidate& b) const {
    if (a.count != b.count) return a.count < b.count;
    if (a.pair != b.pair) return a.pair > b.pair;
    return a.sequence > b.sequence;
  }
};

// All words' symbols in one buffer; a word shrinks in place as its pairs merge.
struct Words {
  std::vector<int32_t> symbols;
  std::vector<uint32_t> begin;
  std::vector<uint32_t> length;
  std::vector<int64_t> count;

  // Merges every non-overlapping (left, right), scanning left to right as Hugging Face's Word::merge does,
  // and reports the neighbour pairs lost (-1) and formed (+1) around each merge.
  template <typename OnChange>
  void merge(uint32_t word, int32_t left, int32_t right, int32_t merged, OnChange&& on_change) {
    int32_t* s = symbols.data() + begin[word];
    const uint32_t n = length[word];
    uint32_t write = 0;
    uint32_t read = 0;
    while (read < n) {
      if (s[read] == left && read + 1 < n && s[read + 1] == right) {
        if (write > 0) {
          on_change(make_pair_key(s[write - 1], left), -1);
          on_change(make_pair_key(s[write - 1], merged), +1);
        }
        if (read + 2 < n) {
          on_change(make_pair_key(right, s[read + 2]), -1);
          on_change(make_pair_key(merged, s[read + 2]), +1);
        }
        s[write++] = merged;
        read += 2;
      } else {
        s[write++] = s[read++];
      }
    }
    length[word] = write;
  }
};

// Reports a stage's progress at most every `stride` steps, plus its last step.
class StageProgress {
 public:
  StageProgress(const BpeTrainerOptions& options, std::string_view stage, int64_t total, int64_t stride)
      : callback_(options.progress), stage_(stage), total_(total), stride_(std::max<int64_t>(1, stride)) {}
  void report(int64_t done) {
    if (callback_ && (done - last_reported_ >= stride_ || done == total_) && done != last_reported_) {
      callback_(stage_, done, total_);
      last_reported_ = done;
    }
  }
  void finish(int64_t done) {
    if (callback_ && done != last_reported_) callback_(stage_, done, total_);
    last_reported_ = done;
  }

 private:
  const std::function<void(std::string_view, int64_t, int64_t)>& callback_;
  std::string_view stage_;
  int64_t total_;
  int64_t stride_;
  int64_t last_reported_ = -1;
};

}  // namespace

struct BpeTrainer::Impl {
  BpeTrainerOptions options;
  ByteLevelPreTokenizer pre_tokenizer;
  ByteLevelPreTokenizer::Cursor cursor{pre_tokenizer, std::string_view()};  // keeps its match buffer
  WordCounts word_counts;  // raw bytes of each pre-token -> occurrences (the byte mapping is a bijection)
};

BpeTrainer::BpeTrainer(BpeTrainerOptions options) : impl_(std::make_unique<Impl>()) {
  if (options.vocab_size < 0) {
    throw std::invalid_argument("BpeTrainer: vocab_size must be >= 0, found " +
                                std::to_string(options.vocab_size));
  }
  if (options.min_frequency < 0) {
    throw std::invalid_argument("BpeTrainer: min_frequency must be >= 0, found " +
                                std::to_string(options.min_frequency));
  }
  for (size_t i = 0; i < options.special_tokens.size(); ++i) {
    if (options.special_tokens[i].empty()) {
      throw std::invalid_argument("BpeTrainer: special token " + std::to_string(i) + " is empty");
    }
  }
  impl_->options = std::move(options);
}

BpeTrainer::~BpeTrainer() = default;
BpeTrainer::BpeTrainer(BpeTrainer&&) noexcept = default;
BpeTrainer& BpeTrainer::operator=(BpeTrainer&&) noexcept = default;

void BpeTrainer::feed(std::string_view text) {
  WordCounts& counts = impl_->word_counts;
  ByteLevelPreTokenizer::Cursor& cursor = impl_->cursor;
  cursor.reset(text);
  std::string_view piece;
  while (cursor.next(piece)) {
    const auto found = counts.find(piece);
    if (found != counts.end()) {
      ++found->second;
    } else {
      counts.emplace(std::string(piece), 1);
    }
  }
}

int64_t BpeTrainer::unique_words() const {
  return static_cast<int64_t>(impl_->word_counts.size());
}

BpeModel BpeTrainer::train() const {
  const BpeTrainerOptions& options = impl_->options;
  const WordCounts& word_counts = impl_->word_counts;

  std::vector<std::string> id_to_token;
  std::unordered_map<std::string, int32_t> token_to_id;
  const auto find_or_add = [&](const std::string& token) {
    const auto [where, inserted] = token_to_id.try_emplace(token, static_cast<int32_t>(id_to_token.size()));
    if (inserted) id_to_token.push_back(token);
    return where->second;
  };

  // 1. Special tokens first, in the order given.
  BpeModel model;
  for (const std::string& special : options.special_tokens) {
    const size_t before = id_to_token.size();
    const int32_t id = find_or_add(special);
    if (id_to_token.size() > before) {
      AddedToken added;
      added.id = id;
      added.content = special;
      model.added_tokens.push_back(std::move(added));
    }
  }

  // 2. The alphabet: every byte's character, by code point (a special token spelled the same keeps its id).
  std::array<int, 256> bytes_by_codepoint;
  std::iota(bytes_by_codepoint.begin(), bytes_by_codepoint.end(), 0);
  std::sort(bytes_by_codepoint.begin(), bytes_by_codepoint.end(), [](int a, int b) {
    return byte_to_unicode(static_cast<uint8_t>(a)) < byte_to_unicode(static_cast<uint8_t>(b));
  });
  std::array<int32_t, 256> byte_id;
  for (const int byte : bytes_by_codepoint) {
    std::string token;
    const char raw = static_cast<char>(byte);
    append_byte_level(std::string_view(&raw, 1), token);
    byte_id[byte] = find_or_add(token);
  }
  const int64_t initial_vocab_size = static_cast<int64_t>(id_to_token.size());

  // 3. Words as symbol ids.
  Words words;
  {
    StageProgress progress(options, "Tokenize words", static_cast<int64_t>(word_counts.size()), 4096);
    size_t total_bytes = 0;
    for (const auto& entry : word_counts) total_bytes += entry.first.size();
    words.symbols.reserve(total_bytes);
    words.begin.reserve(word_counts.size());
    words.length.reserve(word_counts.size());
    words.count.reserve(word_counts.size());
    for (const auto& [bytes, count] : word_counts) {
      words.begin.push_back(static_cast<uint32_t>(words.symbols.size()));
      words.length.push_back(static_cast<uint32_t>(bytes.size()));
      words.count.push_back(count);
      for (const char byte : bytes) words.symbols.push_back(byte_id[static_cast<unsigned char>(byte)]);
      progress.report(static_cast<int64_t>(words.count.size()));
    }
    progress.finish(static_cast<int64_t>(words.count.size()));
  }
  const auto num_words = static_cast<uint32_t>(words.count.size());

  // 4. Pair counts and where each pair occurs.
  std::unordered_map<PairKey, int64_t> pair_counts;
  std::unordered_map<PairKey, std::vector<uint32_t>> where_to_update;
  {
    StageProgress progress(options, "Count pairs", num_words, 4096);
    for (uint32_t w = 0; w < num_words; ++w) {
      const int32_t* s = words.symbols.data() + words.begin[w];
      for (uint32_t i = 0; i + 1 < words.length[w]; ++i) {
        const PairKey pair = make_pair_key(s[i], s[i + 1]);
        pair_counts[pair] += words.count[w];
        std::vector<uint32_t>& where = where_to_update[pair];
        if (where.empty() || where.back() != w) where.push_back(w);
      }
      progress.report(w + 1);
    }
    progress.finish(num_words);
  }
  uint64_t next_sequence = 0;
  std::vector<MergeCandidate> heap;
  heap.reserve(where_to_update.size());
  for (auto& [pair, word_indices] : where_to_update) {
    const int64_t count = pair_counts.at(pair);
    if (count > 0) heap.push_back({count, pair, next_sequence++, std::move(word_indices)});
  }
  where_to_update.clear();
  std::make_heap(heap.begin(), heap.end(), PopsLater{});

  // 5. Merges until the vocab is big enough, the pairs run out or the best pair is too rare.
  std::vector<PairKey> merges;  // in the order made
  StageProgress progress(options, "Compute merges",
                         std::max<int64_t>(0, options.vocab_size - initial_vocab_size), 1);
  const auto push_candidate = [&heap](MergeCandidate candidate) {
    heap.push_back(std::move(candidate));
    std::push_heap(heap.begin(), heap.end(), PopsLater{});
  };
  while (static_cast<int64_t>(id_to_token.size()) < options.vocab_size && !heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), PopsLater{});
    MergeCandidate top = std::move(heap.back());
    heap.pop_back();
    const int64_t current_count = pair_counts.at(top.pair);
    if (top.count != current_count) {
      top.count = current_count;
      top.sequence = next_sequence++;
      push_candidate(std::move(top));
      continue;
    }
    if (top.count < 1 || options.min_frequency > top.count) break;

    const int32_t left = pair_left(top.pair);
    const int32_t right = pair_right(top.pair);
    const int32_t merged = find_or_add(id_to_token[left] + id_to_token[right]);
    merges.push_back(top.pair);

    for (const uint32_t w : top.word_indices) {
      const int64_t word_count = words.count[w];
      words.merge(w, left, right, merged, [&](PairKey pair, int delta) {
        pair_counts[pair] += delta * word_count;
        if (delta > 0) {
          std::vector<uint32_t>& where = where_to_update[pair];
          if (where.empty() || where.back() != w) where.push_back(w);
        }
      });
    }
    for (auto& [pair, word_indices] : where_to_update) {
      const int64_t count = pair_counts.at(pair);
      if (count > 0) push_candidate({count, pair, next_sequence++, std::move(word_indices)});
    }
    where_to_update.clear();
    progress.report(static_cast<int64_t>(id_to_token.size()) - initial_vocab_size);
  }
  progress.finish(static_cast<int64_t>(id_to_token.size()) - initial_vocab_size);

  // A pair merged more than once keeps its last rank, as in Hugging Face's merge map.
  std::unordered_set<PairKey> seen;
  std::vector<std::pair<std::string, std::string>> ranked;
  ranked.reserve(merges.size());
  for (auto merge = merges.rbegin(); merge != merges.rend(); ++merge) {
    if (!seen.insert(*merge).second) continue;
    ranked.emplace_back(id_to_token[pair_left(*merge)], id_to_token[pair_right(*merge)]);
  }
  std::reverse(ranked.begin(), ranked.end());
  model.merges = std::move(ranked);
  model.vocab = std::move(token_to_id);
  return model;
}

}  // namespace minimind
