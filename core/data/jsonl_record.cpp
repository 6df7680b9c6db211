// Turning one JSONL line into a record: UTF-8 check, a SAX pass that keeps only the fields a record needs
// (so a line costs no more memory than its text, whatever else it holds) and refuses a key given twice in one
// object or nesting past kMaxJsonNesting, then the checks on those fields.
#include "data/jsonl_record.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "data/json_sax_parser.h"
#include "io/strict_json.h"
#include "text/utf8.h"

namespace minimind {
namespace {

constexpr size_t kMaxDetailBytes = 200;

// At most max_bytes of `text`, cut at a character boundary, with "..." when something was cut.
std::string shorten(std::string_view text, size_t max_bytes = kMaxDetailBytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "...";
}

bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\n\r\f\v") == std::string_view::npos;
}

const char* json_type_name(nlohmann::json::value_t type) {
  switch (type) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::binary:
      return "binary";
    case nlohmann::json::value_t::discarded:
      return "discarded";
    default:
      return "a number";
  }
}

// The keys of every open object, to find a key given twice in one object. The keys lie back to back in one
// buffer and an object's keys are compared only when it closes, by sorting views of them: a line of a
// million short keys costs about twice their bytes, not a hash node each.
class OpenObjectKeys {
 public:
  void open() { first_key_.push_back(key_begins_.size()); }

  void add(std::string_view key) {
    if (first_key_.empty()) return;
    key_begins_.push_back(bytes_.size());
    bytes_.append(key);
  }

  // Closes the innermost open object; returns a key it holds more than once, if any.
  std::optional<std::string> close() {
    if (first_key_.empty()) return std::nullopt;
    const std::size_t first = first_key_.back();
    first_key_.pop_back();
    std::optional<std::string> duplicate;
    if (key_begins_.size() - first > 1) {
      std::vector<std::string_view> keys;
      keys.reserve(key_begins_.size() - first);
      for (std::size_t i = first; i < key_begins_.size(); ++i) {
        const std::size_t end = i + 1 < key_begins_.size() ? key_begins_[i + 1] : bytes_.size();
        keys.emplace_back(bytes_.data() + key_begins_[i], end - key_begins_[i]);
      }
      std::sort(keys.begin(), keys.end());
      const auto repeated = std::adjacent_find(keys.begin(), keys.end());
      if (repeated != keys.end()) duplicate = std::string(*repeated);
    }
    if (first < key_begins_.size()) bytes_.resize(key_begins_[first]);
    key_begins_.resize(first);
    return duplicate;
  }

 private:
  std::string bytes_;                    // the keys of the open objects, outermost first
  std::vector<std::size_t> key_begins_;  // where each key starts in bytes_
  std::vector<std::size_t> first_key_;   // per open object: the index of its first key in key_begins_
};

// Collects the fields a record needs from SAX events (of either parser) and skips everything else unstored.
// Depths: 0 the line's value, 1 the values of its fields, 2 the elements of "conversations", 3 the fields of
// a message. A failure stops the parse at once. A key given twice in one object (nlohmann's DOM and Python
// keep the last, other readers the first) and nesting past kMaxJsonNesting levels are refused.
class RecordSax {
 public:
  using json = nlohmann::json;
  using Type = json::value_t;

  struct Message {
    std::string role, content, from, value;
    bool has_role = false, has_content = false, has_from = false, has_value = false;
  };

  explicit RecordSax(bool sft) : sft_(sft) {}

  bool null() { return on_value(Type::null, nullptr); }
  bool boolean(bool) { return on_value(Type::boolean, nullptr); }
  bool number_integer(json::number_integer_t) { return on_value(Type::number_integer, nullptr); }
  bool number_unsigned(json::number_unsigned_t) { return on_value(Type::number_unsigned, nullptr); }
  bool number_float(json::number_float_t, const json::string_t&) {
    return on_value(Type::number_float, nullptr);
  }
  bool string(json::string_t& value) { return on_value(Type::string, &value); }
  bool binary(json::binary_t&) { return on_value(Type::binary, nullptr); }

  bool start_object(std::size_t) {
    if (!open_container(Type::object)) return false;
    keys_.open();
    return true;
  }
  bool end_object() {
    if (--depth_ == 2) in_message_ = false;
    if (const std::optional<std::string> key = keys_.close())
      return fail(input_issue::kDuplicateKey,
                  "the key \"" + shorten(*key, 40) + "\" appears twice in one object");
    return true;
  }
  bool start_array(std::size_t) { return open_container(Type::array); }
  bool end_array() {
    if (--depth_ == 1) in_conversations_ = false;
    return true;
  }
  bool key(json::string_t& key) {
    keys_.add(key);
    if (depth_ == 1) top_key_ = std::move(key);
    if (depth_ == 3 && in_message_) message_key_ = std::move(key);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const json::exception& error) {
    return fail(input_issue::kMalformedJson, error.what());
  }

  bool failed() const { return !failure_category_.empty(); }
  std::string_view failure_category() const { return failure_category_; }
  const std::string& failure_detail() const { return failure_detail_; }

  bool has_text = false;
  std::string text;
  bool has_conversations = false;
  std::vector<Message> messages;

 private:
  bool fail(std::string_view category, std::string detail) {
    if (!failed()) {
      failure_category_ = category;
      failure_detail_ = shorten(detail);
    }
    return false;
  }

  bool open_container(Type type) {
    if (depth_ >= kMaxJsonNesting) {
      return fail(input_issue::kTooDeep,
                  "arrays or objects nested more than " + std::to_string(kMaxJsonNesting) + " levels deep");
    }
    if (!on_value(type, nullptr)) return false;
    ++depth_;
    return true;
  }

  bool on_value(Type type, json::string_t* value) {
    switch (depth_) {
      case 0:
        if (type != Type::object)
          return fail(input_issue::kNotAnObject, std::string("the line holds ") + json_type_name(type));
        return true;
      case 1:
        if (!sft_ && top_key_ == "text") {
          if (type != Type::string) {
            return fail(input_issue::kWrongType,
                        std::string("\"text\" is ") + json_type_name(type) + ", expected a string");
          }
          text = std::move(*value);
          has_text = true;
        } else if (sft_ && top_key_ == "conversations") {
          if (type != Type::array) {
            return fail(input_issue::kWrongType,
                        std::string("\"conversations\" is ") + json_type_name(type) + ", expected an array");
          }
          has_conversations = true;
          messages.clear();
          in_conversations_ = true;
        }
        return true;
      case 2:
        if (in_conversations_) {
          if (type != Type::object) {
            return fail(input_issue::kWrongType, "conversations[" + std::to_string(messages.size()) +
                                                     "] is " + json_type_name(type) + ", expected an object");
          }
          messages.emplace_back();
          in_message_ = true;
        }
        return true;
      case 3:
        if (in_message_) {
          Message& message = messages.back();
          std::string* field = nullptr;
          bool* present = nullptr;
          if (message_key_ == "role") field = &message.role, present = &message.has_role;
          if (message_key_ == "content") field = &message.content, present = &message.has_content;
          if (message_key_ == "from") field = &message.from, present = &message.has_from;
          if (message_key_ == "value") field = &message.value, present = &message.has_value;
          if (field) {
            if (type != Type::string) {
              return fail(input_issue::kWrongType, "conversations[" + std::to_string(messages.size() - 1) +
                                                       "]." + message_key_ + " is " + json_type_name(type) +
                                                       ", expected a string");
            }
            *field = std::move(*value);
            *present = true;
          }
        }
        return true;
      default:
        return true;
    }
  }

  bool sft_;
  int depth_ = 0;  // containers open
  std::string top_key_;
  std::string message_key_;
  bool in_conversations_ = false;  // inside the "conversations" array (depth 2)
  bool in_message_ = false;        // inside one of its message objects (depth 3)
  OpenObjectKeys keys_;
  std::string_view failure_category_;  // one of the input_issue constants (static storage)
  std::string failure_detail_;
};

// The roles a message may name: the chat format's three, and ShareGPT's names for two of them.
std::optional<std::string> canonical_role(const std::string& role) {
  if (role == "system" || role == "user" || role == "assistant") return role;
  if (role == "human") return "user";
  if (role == "gpt") return "assistant";
  return std::nullopt;
}

}  // namespace

std::optional<RecordIssue> parse_jsonl_record(std::string_view line, SourceKind kind, Document& document,
                                              JsonParser parser) {
  const utf8::Validation validation = utf8::validate(line);
  if (validation.valid_bytes != line.size()) {
    return RecordIssue{input_issue::kInvalidUtf8,
                       "at byte " + std::to_string(validation.valid_bytes) + " of the line"};
  }
  const bool sft = kind == SourceKind::sft_jsonl;
  RecordSax record(sft);
  bool parsed = false;
  std::string syntax_error;
  if (parser == JsonParser::fast) {
    parsed = parse_json_sax(line, record, syntax_error);
  } else {
    try {
      parsed = nlohmann::json::sax_parse(line.data(), line.data() + line.size(), &record);
    } catch (const nlohmann::json::exception& error) {
      return RecordIssue{input_issue::kMalformedJson, shorten(error.what())};
    }
  }
  if (record.failed()) return RecordIssue{record.failure_category(), record.failure_detail()};
  if (!parsed) return RecordIssue{input_issue::kMalformedJson, shorten(syntax_error)};

  document.text.clear();
  document.conversation.clear();
  if (!sft) {
    if (!record.has_text) return RecordIssue{input_issue::kMissingField, "no \"text\" field"};
    if (is_blank(record.text)) {
      return RecordIssue{input_issue::kEmptyText,
                         record.text.empty() ? "\"text\" is \"\"" : "\"text\" is only whitespace"};
    }
    document.text = std::move(record.text);
    return std::nullopt;
  }
  if (!record.has_conversations) return RecordIssue{input_issue::kMissingField, "no \"conversations\" field"};
  if (record.messages.empty()) return RecordIssue{input_issue::kEmptyConversation, "\"conversations\" is []"};
  for (size_t i = 0; i < record.messages.size(); ++i) {
    RecordSax::Message& message = record.messages[i];
    const std::string where = "conversations[" + std::to_string(i) + "]";
    if (!message.has_content && !message.has_value) {
      document.conversation.clear();
      return RecordIssue{input_issue::kMissingField, where + " has no \"content\""};
    }
    const std::string named_role = message.has_role   ? message.role
                                   : message.has_from ? message.from
                                   : i % 2 == 0       ? "user"
                                                      : "assistant";
    const std::optional<std::string> role = canonical_role(named_role);
    if (!role) {
      document.conversation.clear();
      return RecordIssue{input_issue::kUnknownRole, where + " has role \"" + shorten(named_role, 40) +
                                                        "\" (expected system, user or assistant)"};
    }
    document.conversation.push_back(
        {*role, std::move(message.has_content ? message.content : message.value)});
  }
  return std::nullopt;
}

}  // namespace minimind
