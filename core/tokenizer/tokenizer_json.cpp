// tokenizer.json in Hugging Face's format. Reading accepts exactly the configurations this tokenizer encodes
// the way Hugging Face does -- a BPE model, a ByteLevel pre-tokenizer (GPT-2 regex) and decoder, no
// normalizer, post-processor, truncation or padding -- and refuses anything else with an error naming the
// file and the field, rather than encoding differently. Writing produces the layout recent tokenizers
// versions write (2-space indentation, vocab in id order, merges as pairs).
#include <algorithm>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/atomic_file.h"
#include "io/strict_json.h"
#include "tokenizer/tokenizer.h"

namespace minimind {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr int kMaxNesting = 32;  // tokenizer.json nests 4 deep; anything far deeper is not one

class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw TokenizerError(source_ + ": " + field + ": " + what);
  }

  json parse(std::string_view text) const {
    try {
      return parse_strict_json(text, kMaxNesting);
    } catch (const StrictJsonError& error) {
      if (error.kind == StrictJsonError::Kind::too_deep)
        fail("(document)", "nested more than " + std::to_string(kMaxNesting) + " deep");
      fail("(document)", "the key \"" + error.key + "\" appears twice in one object");
    } catch (const json::exception& error) {
      fail("(document)", std::string("not valid JSON: ") + error.what());
    }
  }

  static std::string type_name(const json& value) {
    if (value.is_number_unsigned()) return "a non-negative integer";
    if (value.is_number_integer()) return "a negative integer";
    if (value.is_number_float()) return "a floating-point number";
    return std::string("a ") + value.type_name();
  }

  const json& object(const json& parent, const char* key, const std::string& field) const {
    const auto found = parent.find(key);
    if (found == parent.end()) fail(field, "missing");
    if (!found->is_object()) fail(field, "expected an object, found " + type_name(*found));
    return *found;
  }

  const json& array(const json& parent, const char* key, const std::string& field) const {
    const auto found = parent.find(key);
    if (found == parent.end()) fail(field, "missing");
    if (!found->is_array()) fail(field, "expected an array, found " + type_name(*found));
    return *found;
  }

  std::string string(const json& parent, const char* key, const std::string& field) const {
    const auto found = parent.find(key);
    if (found == parent.end()) fail(field, "missing");
    if (!found->is_string()) fail(field, "expected a string, found " + type_name(*found));
    return found->get<std::string>();
  }

  bool boolean(const json& parent, const char* key, const std::string& field, bool absent_value) const {
    const auto found = parent.find(key);
    if (found == parent.end()) return absent_value;
    if (!found->is_boolean()) fail(field, "expected true or false, found " + type_name(*found));
    return found->get<bool>();
  }

  int32_t id(const json& value, const std::string& field) const {
    if (!value.is_number_unsigned())
      fail(field, "expected a non-negative integer id, found " + type_name(value));
    const uint64_t id = value.get<uint64_t>();
    if (id > uint64_t(std::numeric_limits<int32_t>::max()))
      fail(field, "the id " + std::to_string(id) + " is too large");
    return static_cast<int32_t>(id);
  }

  // A field that must be null (or absent) because anything else would change the ids or is not supported.
  void require_null(const json& parent, const char* key, const std::string& field,
                    const std::string& why) const {
    const auto found = parent.find(key);
    if (found != parent.end() && !found->is_null()) fail(field, "must be null: " + why);
  }

  // A component (pre_tokenizer, decoder) that must be an object of type `type`.
  const json& component(const json& root, const char* key, const char* type, const std::string& why) const {
    const auto found = root.find(key);
    if (found == root.end() || found->is_null()) fail(key, std::string("missing; expected type ") + type);
    if (!found->is_object()) fail(key, "expected an object, found " + type_name(*found));
    const std::string found_type = string(*found, "type", std::string(key) + ".type");
    if (found_type != type) {
      fail(std::string(key) + ".type",
           "\"" + found_type + "\" is not supported: only " + type + " (" + why + ")");
    }
    return *found;
  }

 private:
  const std::string& source_;
};

void read_model(const Reader& reader, const json& root, BpeModel& bpe) {
  const json& model = reader.object(root, "model", "model");
  if (model.contains("type")) {
    const std::string type = reader.string(model, "type", "model.type");
    if (type != "BPE") reader.fail("model.type", "\"" + type + "\" is not supported: only BPE");
  } else if (!model.contains("merges")) {
    reader.fail("model.type", "missing (and no merges that would make it a BPE model)");
  }
  reader.require_null(model, "dropout", "model.dropout", "BPE dropout makes encoding random");
  reader.require_null(model, "unk_token", "model.unk_token", "a byte-level vocabulary has no unknown bytes");
  reader.require_null(model, "continuing_subword_prefix", "model.continuing_subword_prefix",
                      "byte-level BPE uses no subword prefix");
  reader.require_null(model, "end_of_word_suffix", "model.end_of_word_suffix",
                      "byte-level BPE uses no word suffix");
  reader.boolean(model, "fuse_unk", "model.fuse_unk", false);  // without an unk_token it changes nothing
  if (reader.boolean(model, "byte_fallback", "model.byte_fallback", false)) {
    reader.fail("model.byte_fallback", "must be false: byte fallback tokens are not supported");
  }
  bpe.ignore_merges = reader.boolean(model, "ignore_merges", "model.ignore_merges", false);

  const json& vocab = reader.object(model, "vocab", "model.vocab");
  bpe.vocab.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    bpe.vocab.emplace(token, reader.id(id, "model.vocab[\"" + token + "\"]"));
  }

  const json& merges = reader.array(model, "merges", "model.merges");
  bpe.merges.reserve(merges.size());
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const json& merge = merges[i];
    const std::string field = "model.merges[" + std::to_string(i) + "]";
    if (merge.is_string()) {  // the older encoding: "left right"
      const std::string& text = merge.get_ref<const std::string&>();
      const std::size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        reader.fail(field, "\"" + text + "\" is not two tokens separated by one space");
      }
      bpe.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else if (merge.is_array()) {  // the newer encoding: ["left", "right"]
      if (merge.size() != 2 || !merge[0].is_string() || !merge[1].is_string()) {
        reader.fail(field, "expected a pair of two token strings");
      }
      bpe.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      reader.fail(field,
                  "expected \"left right\" or [\"left\", \"right\"], found " + Reader::type_name(merge));
    }
  }
}

void read_added_tokens(const Reader& reader, const json& root, BpeModel& bpe) {
  if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return;
  const json& added_tokens = reader.array(root, "added_tokens", "added_tokens");
  for (std::size_t i = 0; i < added_tokens.size(); ++i) {
    const std::string field = "added_tokens[" + std::to_string(i) + "]";
    const json& entry = added_tokens[i];
    if (!entry.is_object()) reader.fail(field, "expected an object, found " + Reader::type_name(entry));
    AddedToken token;
    if (!entry.contains("id")) reader.fail(field + ".id", "missing");
    token.id = reader.id(entry["id"], field + ".id");
    token.content = reader.string(entry, "content", field + ".content");
    // Absent flags take the defaults of Hugging Face's AddedToken.
    token.single_word = reader.boolean(entry, "single_word", field + ".single_word", false);
    token.lstrip = reader.boolean(entry, "lstrip", field + ".lstrip", false);
    token.rstrip = reader.boolean(entry, "rstrip", field + ".rstrip", false);
    token.normalized = reader.boolean(entry, "normalized", field + ".normalized", true);
    token.special = reader.boolean(entry, "special", field + ".special", false);
    bpe.added_tokens.push_back(std::move(token));
  }
}

}  // namespace

Tokenizer Tokenizer::from_json(std::string_view json_text, const std::string& source_name) {
  const Reader reader(source_name);
  const json root = reader.parse(json_text);
  if (!root.is_object()) reader.fail("(document)", "expected an object, found " + Reader::type_name(root));
  if (root.contains("version") && !root["version"].is_string()) {
    reader.fail("version", "expected a string, found " + Reader::type_name(root["version"]));
  }
  reader.require_null(root, "truncation", "truncation", "truncating is left to the caller");
  reader.require_null(root, "padding", "padding", "padding is left to the caller");
  reader.require_null(root, "normalizer", "normalizer",
                      "only byte-level BPE without normalization is supported");
  reader.require_null(root, "post_processor", "post_processor", "no tokens are added around an encoding");

  BpeModel bpe;
  const json& pre_tokenizer =
      reader.component(root, "pre_tokenizer", "ByteLevel", "the GPT-2 split of byte-level BPE");
  bpe.add_prefix_space =
      reader.boolean(pre_tokenizer, "add_prefix_space", "pre_tokenizer.add_prefix_space", true);
  reader.boolean(pre_tokenizer, "trim_offsets", "pre_tokenizer.trim_offsets", true);  // offsets only
  if (!reader.boolean(pre_tokenizer, "use_regex", "pre_tokenizer.use_regex", true)) {
    reader.fail("pre_tokenizer.use_regex", "must be true: only the GPT-2 split is supported");
  }
  const json& decoder = reader.component(root, "decoder", "ByteLevel", "bytes back from byte-level tokens");
  for (const char* flag : {"add_prefix_space", "trim_offsets", "use_regex"}) {  // no effect on decoding
    reader.boolean(decoder, flag, std::string("decoder.") + flag, true);
  }

  read_model(reader, root, bpe);
  read_added_tokens(reader, root, bpe);
  return Tokenizer(std::move(bpe), source_name);
}

Tokenizer Tokenizer::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TokenizerError(path.string() + ": cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw TokenizerError(path.string() + ": reading the file failed");
  return from_json(text.str(), path.string());
}

std::string Tokenizer::to_json() const {
  const BpeModel& bpe = model();
  ordered_json root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;

  std::vector<const AddedToken*> added;
  for (const AddedToken& token : bpe.added_tokens) added.push_back(&token);
  std::stable_sort(added.begin(), added.end(),
                   [](const AddedToken* a, const AddedToken* b) { return a->id < b->id; });
  root["added_tokens"] = ordered_json::array();
  for (const AddedToken* token : added) {
    root["added_tokens"].push_back(ordered_json{{"id", token->id},
                                                {"content", token->content},
                                                {"single_word", token->single_word},
                                                {"lstrip", token->lstrip},
                                                {"rstrip", token->rstrip},
                                                {"normalized", token->normalized},
                                                {"special", token->special}});
  }
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = ordered_json{{"type", "ByteLevel"},
                                       {"add_prefix_space", bpe.add_prefix_space},
                                       {"trim_offsets", true},
                                       {"use_regex", true}};
  root["post_processor"] = nullptr;
  root["decoder"] = ordered_json{
      {"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};

  ordered_json model_json;
  model_json["type"] = "BPE";
  model_json["dropout"] = nullptr;
  model_json["unk_token"] = nullptr;
  model_json["continuing_subword_prefix"] = nullptr;
  model_json["end_of_word_suffix"] = nullptr;
  model_json["fuse_unk"] = false;
  model_json["byte_fallback"] = false;
  model_json["ignore_merges"] = bpe.ignore_merges;
  std::vector<std::pair<int32_t, const std::string*>> by_id;
  by_id.reserve(bpe.vocab.size());
  for (const auto& [token, id] : bpe.vocab) by_id.emplace_back(id, &token);
  std::sort(by_id.begin(), by_id.end());
  ordered_json vocab = ordered_json::object();
  // Appended to the object's underlying vector: operator[] would search the keys so far for each token.
  auto& vocab_entries = vocab.get_ref<ordered_json::object_t&>();
  vocab_entries.reserve(by_id.size());
  for (const auto& [id, token] : by_id) vocab_entries.emplace_back(*token, id);
  model_json["vocab"] = std::move(vocab);
  ordered_json merges = ordered_json::array();
  for (const auto& [left, right] : bpe.merges) merges.push_back(ordered_json::array({left, right}));
  model_json["merges"] = std::move(merges);
  root["model"] = std::move(model_json);
  return root.dump(2);
}

void Tokenizer::save(const std::filesystem::path& path) const {
  const std::string text = to_json();
  write_file_atomically(path, std::span<const char>(text.data(), text.size()));
}

}  // namespace minimind
