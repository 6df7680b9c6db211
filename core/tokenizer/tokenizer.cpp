// Encoding and decoding. Encoding follows Hugging Face's order: added tokens are cut out of the raw text
// first (leftmost-longest, tokens with normalized=false in a first pass and normalized=true ones in a second
// pass over what is left, as its AddedVocabulary does), each remaining segment is split by the GPT-2 regex,
// and each piece is merged by BPE rank over its bytes. The pieces repeat a lot in real text, so a bounded
// cache maps a piece to its ids. Decoding concatenates the bytes of each token (precomputed per id).
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <bit>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "text/utf8.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"

namespace minimind {
namespace {

constexpr uint32_t kNoMerge = std::numeric_limits<uint32_t>::max();

// (left id, right id) -> (rank, merged id), open addressing with linear probing: the merge lookup is the
// inner loop of BPE.
class MergeTable {
 public:
  void reserve(std::size_t merges) {
    std::size_t capacity = 16;
    while (capacity < merges * 2) capacity *= 2;
    slots_.assign(capacity, Slot{kEmpty, 0, 0});
    mask_ = capacity - 1;
  }
  // A pair listed twice keeps its later rank, as Hugging Face's merge map does.
  void insert(int32_t left, int32_t right, uint32_t rank, int32_t merged) {
    const uint64_t key = pack(left, right);
    std::size_t slot = hash(key);
    while (slots_[slot].key != kEmpty && slots_[slot].key != key) slot = (slot + 1) & mask_;
    slots_[slot] = Slot{key, rank, merged};
  }
  // The rank of merging `left` and `right` (kNoMerge when there is no such merge) and the merged id.
  uint32_t find(int32_t left, int32_t right, int32_t& merged) const {
    const uint64_t key = pack(left, right);
    for (std::size_t slot = hash(key);; slot = (slot + 1) & mask_) {
      const Slot& candidate = slots_[slot];
      if (candidate.key == key) {
        merged = candidate.merged;
        return candidate.rank;
      }
      if (candidate.key == kEmpty) return kNoMerge;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are non-negative, so no pair packs to this
  struct Slot {
    uint64_t key;
    uint32_t rank;
    int32_t merged;
  };
  static uint64_t pack(int32_t left, int32_t right) {
    return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
  }
  std::size_t hash(uint64_t key) const { return std::size_t((key * 0x9E3779B97F4A7C15ull) >> 32) & mask_; }

  std::vector<Slot> slots_{Slot{kEmpty, 0, 0}};
  std::size_t mask_ = 0;
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

// Piece bytes -> ids, shared by every thread that encodes with one tokenizer: split in shards, each behind
// its own mutex, so that threads rarely wait on each other. A full shard is emptied and refilled, which keeps
// memory bounded and follows a text whose vocabulary drifts.
class WordCache {
 public:
  static constexpr std::size_t kMaxWordBytes = 256;  // longer pieces are merged every time, as in HF
  static constexpr std::size_t kEntriesPerShard = 4096;

  bool append_cached(std::string_view word, std::size_t hash, std::vector<int32_t>& ids) {
    Shard& shard = shards_[hash % kShards];
    std::lock_guard lock(shard.mutex);
    const auto found = shard.entries.find(word);
    if (found == shard.entries.end()) return false;
    const auto [begin, count] = found->second;
    ids.insert(ids.end(), shard.ids.begin() + begin, shard.ids.begin() + begin + count);
    return true;
  }

  void insert(std::string_view word, std::size_t hash, std::span<const int32_t> word_ids) {
    Shard& shard = shards_[hash % kShards];
    std::lock_guard lock(shard.mutex);
    if (shard.entries.size() >= kEntriesPerShard) {
      shard.entries.clear();
      shard.ids.clear();
    }
    const auto [it, inserted] =
        shard.entries.try_emplace(std::string(word), uint32_t(shard.ids.size()), uint32_t(word_ids.size()));
    if (inserted) shard.ids.insert(shard.ids.end(), word_ids.begin(), word_ids.end());
  }

 private:
  static constexpr std::size_t kShards = 16;
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, StringHash, std::equal_to<>> entries;
    std::vector<int32_t> ids;  // the ids of every entry, back to back
  };
  std::array<Shard, kShards> shards_;
};

// A byte trie over the added tokens of one pass that finds, from a position on, the leftmost match and at
// that position the longest one (Aho-Corasick's LeftmostLongest, which Hugging Face uses).
class AddedTokenTrie {
 public:
  bool empty() const { return nodes_.size() == 1; }

  void add(std::string_view content, int32_t token_index) {
    int32_t node = 0;
    for (const char c : content) {
      const auto byte = static_cast<uint8_t>(c);
      int32_t child = child_of(node, byte);
      if (child < 0) {
        child = static_cast<int32_t>(nodes_.size());
        nodes_.emplace_back();
        nodes_[node].edges.emplace_back(byte, child);
      }
      node = child;
    }
    nodes_[node].token_index = token_index;
    starts_[static_cast<uint8_t>(content.front())] = true;
  }

  // Finds the first match starting at or after `from`; sets [begin, end) and the token's index.
  bool find(std::string_view text, std::size_t from, std::size_t& begin, std::size_t& end,
            int32_t& token_index) const {
    for (std::size_t start = from; start < text.size(); ++start) {
      if (!starts_[static_cast<uint8_t>(text[start])]) continue;
      int32_t node = 0;
      int32_t best_token = -1;
      std::size_t best_end = 0;
      for (std::size_t i = start; i < text.size(); ++i) {
        node = child_of(node, static_cast<uint8_t>(text[i]));
        if (node < 0) break;
        if (nodes_[node].token_index >= 0) {
          best_token = nodes_[node].token_index;
          best_end = i + 1;
        }
      }
      if (best_token >= 0) {
        begin = start;
        end = best_end;
        token_index = best_token;
        return true;
      }
    }
    return false;
  }

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> edges;
    int32_t token_index = -1;
  };
  int32_t child_of(int32_t node, uint8_t byte) const {
    for (const auto& [edge_byte, child] : nodes_[node].edges) {
      if (edge_byte == byte) return child;
    }
    return -1;
  }
  std::vector<Node> nodes_{Node{}};
  std::array<bool, 256> starts_{};
};

// The code point that ends `text` (nullopt when it is empty or ends in an invalid sequence).
std::optional<char32_t> last_code_point(std::string_view text) {
  std::size_t begin = text.size();
  while (begin > 0 && text.size() - begin < 4) {
    --begin;
    if ((static_cast<uint8_t>(text[begin]) & 0xC0) != 0x80) break;
  }
  const std::string_view tail = text.substr(begin);
  if (tail.empty() || !utf8::is_valid(tail)) return std::nullopt;
  return utf8::first_code_point(tail);
}

}  // namespace

struct Tokenizer::Impl {
  BpeModel model;
  ByteLevelPreTokenizer pretokenizer;
  int32_t vocab_size = 0;
  std::array<int32_t, 256> byte_ids{};  // the id of each byte's one-character token, -1 where absent
  MergeTable merges;
  std::vector<std::string> id_tokens;  // id -> token string ("" where no token has the id)
  std::vector<std::string> id_bytes;   // id -> the bytes it decodes to
  std::vector<uint8_t> id_known;
  std::vector<uint8_t> id_special;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> added_ids;  // content -> id
  AddedTokenTrie raw_trie;         // added tokens with normalized=false, matched first
  AddedTokenTrie normalized_trie;  // normalized=true, matched in what the first pass leaves
  mutable WordCache cache;

  Impl(BpeModel bpe_model, const std::string& source);

  // Scratch space of one encode call, reused from piece to piece.
  struct Scratch {
    explicit Scratch(const ByteLevelPreTokenizer& pretokenizer) : cursor(pretokenizer, std::string_view()) {}
    ByteLevelPreTokenizer::Cursor cursor;
    std::vector<int32_t> symbols;
    std::vector<uint32_t> ranks;
    std::vector<int32_t> merged;
    std::string text;
    std::vector<uint64_t> starts;  // merge_long: bit p set where a symbol starts
    std::vector<uint64_t> best;    // merge_long: the tournament tree of (rank, position) keys
  };

  // Where the ids go, and (when `ends` is set) the end offset in the whole text of each id's span.
  struct Output {
    std::vector<int32_t>& ids;
    std::vector<std::size_t>* ends;
  };

  void encode(std::string_view text, Output out) const;
  // `segment` starts at byte `base` of the whole text.
  void encode_between_raw_tokens(std::string_view segment, std::size_t base, Output out,
                                 Scratch& scratch) const;
  void encode_segment(std::string_view segment, std::size_t base, Output out, Scratch& scratch) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>& ids, Scratch& scratch) const;
  // Each of these appends the ids of the piece (of scratch.symbols, the piece's byte symbols) to `ids`.
  void merge_piece(std::string_view piece, Scratch& scratch, std::vector<int32_t>& ids) const;
  void merge_short(Scratch& scratch, std::vector<int32_t>& ids) const;
  void merge_long(Scratch& scratch, std::vector<int32_t>& ids) const;

  // Cuts the added tokens of `trie` out of `text` (at byte `base` of the whole text), appending their ids
  // and calling on_segment(segment, its base) for the text between them.
  template <typename OnSegment>
  void split_added(std::string_view text, std::size_t base, const AddedTokenTrie& trie, Output out,
                   OnSegment&& on_segment) const;
};

Tokenizer::Impl::Impl(BpeModel bpe_model, const std::string& source) : model(std::move(bpe_model)) {
  auto fail = [&](const std::string& what) { throw TokenizerError(source + ": " + what); };
  auto quoted = [](const std::string& token) { return "\"" + token + "\""; };

  // Without a vocabulary every byte of every text would be dropped: such a file is broken, not a tokenizer.
  if (model.vocab.empty())
    fail("model.vocab: empty; a byte-level BPE vocabulary holds at least a token for each byte it encodes");

  // Ids: vocab first, then added tokens, each id naming one token.
  int32_t max_id = -1;
  for (const auto& [token, id] : model.vocab) {
    if (id < 0) fail("model.vocab: token " + quoted(token) + " has the negative id " + std::to_string(id));
    if (token.empty()) fail("model.vocab: the empty string is not a token");
    if (!utf8::is_valid(token)) fail("model.vocab: a token is not valid UTF-8");
    max_id = std::max(max_id, id);
  }
  for (const AddedToken& added : model.added_tokens) {
    if (added.id < 0) fail("added_tokens: " + quoted(added.content) + " has a negative id");
    max_id = std::max(max_id, added.id);
  }
  // Tables are indexed by id: ids far sparser than any trained vocabulary are refused rather than allocated
  // for.
  if (max_id >= 0 && std::size_t(max_id) >= 16 * (model.vocab.size() + model.added_tokens.size()) + 1024) {
    fail("ids: the largest id " + std::to_string(max_id) + " is far beyond the " +
         std::to_string(model.vocab.size() + model.added_tokens.size()) + " tokens");
  }
  vocab_size = max_id + 1;
  id_tokens.assign(vocab_size, std::string());
  id_known.assign(vocab_size, 0);
  id_special.assign(vocab_size, 0);
  for (const auto& [token, id] : model.vocab) {
    if (id_known[id]) {
      fail("model.vocab: tokens " + quoted(id_tokens[id]) + " and " + quoted(token) + " share the id " +
           std::to_string(id));
    }
    id_known[id] = 1;
    id_tokens[id] = token;
  }
  for (std::size_t i = 0; i < model.added_tokens.size(); ++i) {
    const AddedToken& added = model.added_tokens[i];
    const std::string where = "added_tokens[" + std::to_string(i) + "]";
    if (added.content.empty()) fail(where + ": the content is empty");
    if (!utf8::is_valid(added.content)) fail(where + ": the content is not valid UTF-8");
    if (!added_ids.emplace(added.content, added.id).second) {
      fail(where + ": " + quoted(added.content) + " is listed twice");
    }
    const auto in_vocab = model.vocab.find(added.content);
    if (in_vocab != model.vocab.end() && in_vocab->second != added.id) {
      fail(where + ": " + quoted(added.content) + " has id " + std::to_string(added.id) +
           " but model.vocab gives it " + std::to_string(in_vocab->second));
    }
    if (id_known[added.id] && id_tokens[added.id] != added.content) {
      fail(where + ": the id " + std::to_string(added.id) + " of " + quoted(added.content) +
           " already belongs to " + quoted(id_tokens[added.id]));
    }
    id_known[added.id] = 1;
    id_tokens[added.id] = added.content;
    id_special[added.id] = added.special ? 1 : 0;
    (added.normalized ? normalized_trie : raw_trie).add(added.content, static_cast<int32_t>(i));
  }

  // Decoding as the ByteLevel decoder does it: a token whose characters all lie in the byte alphabet gives
  // those bytes; any other token (an added token with a space, say) gives its own UTF-8 text.
  id_bytes.assign(vocab_size, std::string());
  for (int32_t id = 0; id < vocab_size; ++id) {
    if (!append_bytes_of_byte_level(id_tokens[id], id_bytes[id])) id_bytes[id] = id_tokens[id];
  }

  for (int byte = 0; byte < 256; ++byte) {
    std::string symbol;
    append_byte_level(std::string_view(reinterpret_cast<const char*>(&byte), 1), symbol);
    const auto found = model.vocab.find(symbol);
    byte_ids[byte] = found == model.vocab.end() ? -1 : found->second;
  }

  merges.reserve(model.merges.size());
  for (std::size_t rank = 0; rank < model.merges.size(); ++rank) {
    const auto& [left, right] = model.merges[rank];
    const std::string where = "model.merges[" + std::to_string(rank) + "]";
    const auto left_id = model.vocab.find(left);
    if (left_id == model.vocab.end()) fail(where + ": token " + quoted(left) + " is not in model.vocab");
    const auto right_id = model.vocab.find(right);
    if (right_id == model.vocab.end()) fail(where + ": token " + quoted(right) + " is not in model.vocab");
    const auto merged_id = model.vocab.find(left + right);
    if (merged_id == model.vocab.end()) {
      fail(where + ": the merged token " + quoted(left + right) + " is not in model.vocab");
    }
    merges.insert(left_id->second, right_id->second, static_cast<uint32_t>(rank), merged_id->second);
  }
}

template <typename OnSegment>
void Tokenizer::Impl::split_added(std::string_view text, std::size_t base, const AddedTokenTrie& trie,
                                  Output out, OnSegment&& on_segment) const {
  std::size_t segment_begin = 0;  // the start of the text no token has taken yet
  std::size_t search_from = 0;
  std::size_t begin = 0, end = 0;
  int32_t index = 0;
  while (trie.find(text, search_from, begin, end, index)) {
    search_from = end;
    const AddedToken& added = model.added_tokens[index];
    if (added.single_word) {  // only a whole word: no word character on either side
      const auto before = last_code_point(text.substr(0, begin));
      const auto after = end < text.size() ? utf8::first_code_point(text.substr(end)) : std::nullopt;
      if ((before && pretokenizer.is_word_character(*before)) ||
          (after && pretokenizer.is_word_character(*after))) {
        continue;
      }
    }
    if (added.lstrip) {  // the token takes the white space before it (not what an earlier token took)
      std::size_t stripped = begin;
      while (stripped > segment_begin) {
        const auto before = last_code_point(text.substr(0, stripped));
        if (!before || !ByteLevelPreTokenizer::is_white_space(*before)) break;
        stripped -= utf8::encoded_length(*before);
      }
      begin = stripped;
    }
    if (added.rstrip) {  // and the white space after it
      while (end < text.size()) {
        const auto after = utf8::first_code_point(text.substr(end));
        if (!after || !ByteLevelPreTokenizer::is_white_space(*after)) break;
        end += utf8::encoded_length(*after);
      }
      search_from = end;
    }
    if (segment_begin < begin)
      on_segment(text.substr(segment_begin, begin - segment_begin), base + segment_begin);
    out.ids.push_back(added.id);
    if (out.ends) out.ends->push_back(base + end);
    segment_begin = end;
  }
  if (segment_begin < text.size()) on_segment(text.substr(segment_begin), base + segment_begin);
}

void Tokenizer::Impl::encode(std::string_view text, Output out) const {
  Scratch scratch(pretokenizer);
  if (raw_trie.empty()) {
    encode_between_raw_tokens(text, 0, out, scratch);
    return;
  }
  split_added(text, 0, raw_trie, out, [&](std::string_view segment, std::size_t base) {
    encode_between_raw_tokens(segment, base, out, scratch);
  });
}

void Tokenizer::Impl::encode_between_raw_tokens(std::string_view segment, std::size_t base, Output out,
                                                Scratch& scratch) const {
  if (normalized_trie.empty()) {
    encode_segment(segment, base, out, scratch);
    return;
  }
  split_added(segment, base, normalized_trie, out, [&](std::string_view inner, std::size_t inner_base) {
    encode_segment(inner, inner_base, out, scratch);
  });
}

void Tokenizer::Impl::encode_segment(std::string_view segment, std::size_t base, Output out,
                                     Scratch& scratch) const {
  std::string prefixed;
  std::size_t prefix = 0;  // bytes in front of the segment that are not in the text
  if (model.add_prefix_space && !segment.empty() && segment.front() != ' ') {
    prefixed.reserve(segment.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(segment);
    segment = prefixed;
    prefix = 1;
  }
  scratch.cursor.reset(segment);
  std::string_view piece;
  while (scratch.cursor.next(piece)) {
    const std::size_t first = out.ids.size();
    encode_piece(piece, out.ids, scratch);
    if (out.ends == nullptr) continue;
    // Each id spans the bytes it decodes to; the last one ends where the piece ends.
    const std::size_t piece_begin = std::size_t(piece.data() - segment.data());
    const std::size_t piece_end = piece_begin + piece.size();
    std::size_t position = piece_begin;
    for (std::size_t k = first; k < out.ids.size(); ++k) {
      position = std::min(position + id_bytes[out.ids[k]].size(), piece_end);
      out.ends->push_back(base + std::max(position, prefix) - prefix);
    }
    if (out.ids.size() > first) out.ends->back() = base + std::max(piece_end, prefix) - prefix;
  }
}

void Tokenizer::Impl::encode_piece(std::string_view piece, std::vector<int32_t>& ids,
                                   Scratch& scratch) const {
  if (model.ignore_merges) {  // a piece that is a token as a whole skips the merges
    scratch.text.clear();
    append_byte_level(piece, scratch.text);
    const auto found = model.vocab.find(scratch.text);
    if (found != model.vocab.end()) {
      ids.push_back(found->second);
      return;
    }
  }
  if (piece.size() == 1) {  // one byte: nothing to merge
    const int32_t id = byte_ids[static_cast<uint8_t>(piece.front())];
    if (id >= 0) ids.push_back(id);
    return;
  }
  if (piece.size() > WordCache::kMaxWordBytes) {
    merge_piece(piece, scratch, ids);
    return;
  }
  const std::size_t hash = StringHash{}(piece);
  if (cache.append_cached(piece, hash, ids)) return;
  const std::size_t first = ids.size();
  merge_piece(piece, scratch, ids);
  cache.insert(piece, hash, std::span<const int32_t>(ids).subspan(first));
}

void Tokenizer::Impl::merge_piece(std::string_view piece, Scratch& scratch, std::vector<int32_t>& ids) const {
  // One symbol per byte. A byte whose one-character token is missing from the vocab is dropped, as Hugging
  // Face's BPE drops a character it cannot map when there is no unk_token (never the case for a byte-level
  // vocab, which holds all 256).
  scratch.symbols.clear();
  for (const char c : piece) {
    const int32_t id = byte_ids[static_cast<uint8_t>(c)];
    if (id >= 0) scratch.symbols.push_back(id);
  }
  // Short pieces: scan for the best pair each round; long ones: a tree of the best pair per block.
  constexpr std::size_t kShortPiece = 48;
  if (scratch.symbols.size() <= kShortPiece) {
    merge_short(scratch, ids);
  } else {
    merge_long(scratch, ids);
  }
}

// Repeatedly merges the adjacent pair of lowest rank (the leftmost among equals) until no pair has a merge.
void Tokenizer::Impl::merge_short(Scratch& scratch, std::vector<int32_t>& ids) const {
  std::vector<int32_t>& symbols = scratch.symbols;
  std::vector<uint32_t>& ranks = scratch.ranks;   // ranks[i]: the merge of symbols i and i + 1
  std::vector<int32_t>& merged = scratch.merged;  // merged[i]: its result
  const std::size_t n = symbols.size();
  if (n >= 2) {
    ranks.resize(n - 1);
    merged.resize(n - 1);
    for (std::size_t i = 0; i + 1 < n; ++i) ranks[i] = merges.find(symbols[i], symbols[i + 1], merged[i]);
    std::size_t count = n;
    while (count > 1) {
      std::size_t best = 0;
      for (std::size_t i = 1; i + 1 < count; ++i) {
        if (ranks[i] < ranks[best]) best = i;
      }
      if (ranks[best] == kNoMerge) break;
      symbols[best] = merged[best];
      symbols.erase(symbols.begin() + std::ptrdiff_t(best) + 1);
      ranks.erase(ranks.begin() + std::ptrdiff_t(best));
      merged.erase(merged.begin() + std::ptrdiff_t(best));
      --count;
      if (best > 0) ranks[best - 1] = merges.find(symbols[best - 1], symbols[best], merged[best - 1]);
      if (best + 1 < count) ranks[best] = merges.find(symbols[best], symbols[best + 1], merged[best]);
    }
  }
  ids.insert(ids.end(), symbols.begin(), symbols.end());
}

// The same merges in the same order as merge_short -- and as Hugging Face's Word::merge_all, a heap of
// (rank, position) candidates over a linked list of symbols -- in about 9 bytes per byte of the piece rather
// than the 30 of a heap and a list (a 60 MB line without a space took 1.8 GB):
//   symbols[p]  the id of the symbol starting at position p (a symbol of k bytes covers k positions: every
//               symbol here is made of byte symbols); its last position holds -(p + 1) when k > 1, so the
//               symbol before any start is found from the position before it;
//   ranks[p]    the rank of merging that symbol with the next one (kNoMerge: none);
//   starts      one bit per position, set where a symbol starts;
//   best        a tournament tree over blocks of 64 positions of the smallest key rank << 32 | position:
//               the root is the pair to merge next, the lowest rank and the leftmost among equals.
// Positions are held in 31 bits: a piece of 2 GiB or more is refused (a corpus line is capped far below).
void Tokenizer::Impl::merge_long(Scratch& scratch, std::vector<int32_t>& ids) const {
  std::vector<int32_t>& symbols = scratch.symbols;
  std::vector<uint32_t>& ranks = scratch.ranks;
  std::vector<uint64_t>& starts = scratch.starts;
  std::vector<uint64_t>& best = scratch.best;
  constexpr std::size_t kBlock = 64;
  constexpr uint64_t kNone = ~uint64_t{0};
  const std::size_t n = symbols.size();
  if (n > std::size_t{std::numeric_limits<int32_t>::max()})
    throw TokenizerError("cannot encode a piece of " + std::to_string(n) +
                         " bytes without a break: pieces are merged up to 2 GiB");
  const auto next_of = [&](std::size_t p) { return p + id_bytes[symbols[p]].size(); };
  const auto rank_after = [&](std::size_t p) {
    const std::size_t q = next_of(p);
    int32_t merged = 0;
    return q < n ? merges.find(symbols[p], symbols[q], merged) : kNoMerge;
  };
  const auto key = [&](std::size_t p) { return ranks[p] == kNoMerge ? kNone : uint64_t{ranks[p]} << 32 | p; };
  const auto block_key = [&](std::size_t block) {
    uint64_t smallest = kNone;
    for (uint64_t bits = starts[block]; bits != 0; bits &= bits - 1)
      smallest = std::min(smallest, key(block * kBlock + std::size_t(std::countr_zero(bits))));
    return smallest;
  };

  ranks.resize(n);
  for (std::size_t p = 0; p < n; ++p) ranks[p] = rank_after(p);
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  starts.assign(blocks, ~uint64_t{0});
  if (n % kBlock != 0) starts.back() = (uint64_t{1} << (n % kBlock)) - 1;
  std::size_t leaves = 1;
  while (leaves < blocks) leaves *= 2;
  best.assign(2 * leaves, kNone);
  for (std::size_t block = 0; block < blocks; ++block) best[leaves + block] = block_key(block);
  for (std::size_t node = leaves - 1; node >= 1; --node)
    best[node] = std::min(best[2 * node], best[2 * node + 1]);
  const auto set_block = [&](std::size_t block, uint64_t value) {
    std::size_t node = leaves + block;
    best[node] = value;
    for (node /= 2; node >= 1; node /= 2) {
      const uint64_t smallest = std::min(best[2 * node], best[2 * node + 1]);
      if (best[node] == smallest) break;
      best[node] = smallest;
    }
  };
  // After the key of `p` changed from `old_key`: a rescan of its block only when `p` held the block's best.
  const auto key_changed = [&](std::size_t p, uint64_t old_key) {
    const std::size_t block = p / kBlock;
    const uint64_t current = best[leaves + block];
    if (current == old_key)
      set_block(block, block_key(block));
    else if (key(p) < current)
      set_block(block, key(p));
  };

  while (best[1] != kNone) {
    const std::size_t p = std::size_t(best[1] & 0xFFFFFFFFu);
    const std::size_t q = next_of(p);
    int32_t merged = 0;
    merges.find(symbols[p], symbols[q], merged);
    const std::size_t last = q + id_bytes[symbols[q]].size() - 1;
    symbols[p] = merged;
    symbols[last] = -static_cast<int32_t>(p + 1);
    // The right symbol is gone: its start bit and key go, then the merged symbol gets its new pair.
    const uint64_t old_q_key = key(q);
    starts[q / kBlock] &= ~(uint64_t{1} << (q % kBlock));
    ranks[q] = kNoMerge;
    key_changed(q, old_q_key);
    const uint64_t old_p_key = key(p);
    ranks[p] = rank_after(p);
    key_changed(p, old_p_key);
    if (p > 0) {  // the symbol before now pairs with the merged one
      const int32_t before = symbols[p - 1];
      const std::size_t o = before >= 0 ? p - 1 : std::size_t(-(before + 1));
      const uint64_t old_o_key = key(o);
      ranks[o] = rank_after(o);
      key_changed(o, old_o_key);
    }
  }
  // The ids, compacted in place (each moves left or stays) and copied out in one piece, after the rest of
  // the scratch of a large piece is released so that the copy does not come on top of it.
  std::size_t count = 0;
  for (std::size_t p = 0; p < n;) {
    const std::size_t next = next_of(p);
    symbols[count++] = symbols[p];
    p = next;
  }
  if (n > (std::size_t{1} << 20)) {
    std::vector<uint32_t>().swap(ranks);
    std::vector<uint64_t>().swap(starts);
    std::vector<uint64_t>().swap(best);
  }
  ids.insert(ids.end(), symbols.begin(), symbols.begin() + std::ptrdiff_t(count));
}

Tokenizer::Tokenizer(BpeModel model) : Tokenizer(std::move(model), "BPE model") {}
Tokenizer::Tokenizer(BpeModel model, const std::string& source_name)
    : impl_(std::make_unique<Impl>(std::move(model), source_name)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  impl_->encode(text, Impl::Output{ids, nullptr});
  return ids;
}

void Tokenizer::encode_append(std::string_view text, std::vector<int32_t>& ids) const {
  impl_->encode(text, Impl::Output{ids, nullptr});
}

void Tokenizer::encode_append(std::string_view text, std::vector<int32_t>& ids,
                              std::vector<std::size_t>& token_ends) const {
  impl_->encode(text, Impl::Output{ids, &token_ends});
}

std::string Tokenizer::decode_bytes(std::span<const int32_t> ids, bool skip_special_tokens) const {
  // Ids that name no token are left out, as Hugging Face's decode leaves them out.
  std::size_t size = 0;
  for (const int32_t id : ids) {
    if (id >= 0 && id < impl_->vocab_size) size += impl_->id_bytes[id].size();
  }
  std::string bytes;
  bytes.reserve(size);
  for (const int32_t id : ids) {
    if (id < 0 || id >= impl_->vocab_size) continue;
    if (skip_special_tokens && impl_->id_special[id]) continue;
    bytes.append(impl_->id_bytes[id]);
  }
  return bytes;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  return utf8::replace_invalid(decode_bytes(ids, skip_special_tokens));
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= impl_->vocab_size) return std::string_view();
  return impl_->id_bytes[id];
}

int32_t Tokenizer::vocab_size() const {
  return impl_->vocab_size;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  const auto added = impl_->added_ids.find(token);
  if (added != impl_->added_ids.end()) return added->second;
  const auto found = impl_->model.vocab.find(std::string(token));
  if (found != impl_->model.vocab.end()) return found->second;
  return std::nullopt;
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || id >= impl_->vocab_size) return std::string();
  return impl_->id_tokens[id];
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < impl_->vocab_size && impl_->id_special[id] != 0;
}

const BpeModel& Tokenizer::model() const {
  return impl_->model;
}

}  // namespace minimind
