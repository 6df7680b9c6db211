// parse_strict_json: nlohmann's parser with a callback that keeps the keys of every open object and refuses
// nesting past the cap; parse_json_document and describe_json_value on top of it.
#include "io/strict_json.h"

#include <set>
#include <utility>
#include <vector>

namespace minimind {

namespace {

using json = nlohmann::json;

std::string describe(StrictJsonError::Kind kind, const std::string& key, int depth) {
  if (kind == StrictJsonError::Kind::duplicate_key)
    return "the key \"" + key + "\" appears twice in one object";
  return "arrays or objects nested more than " + std::to_string(depth) + " levels deep";
}

// At most `max_bytes` of `text`, cut at a character boundary (the text is UTF-8: the parser checks it).
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

// A string as a JSON literal, cut to `max_bytes` of its text ("abc..." when cut). Strings built in memory may
// hold invalid UTF-8: those bytes are replaced rather than thrown on.
std::string quoted(const std::string& text, std::size_t max_bytes) {
  const std::string_view kept = utf8_prefix(text, max_bytes);
  std::string literal = json(std::string(kept)).dump(-1, ' ', false, json::error_handler_t::replace);
  if (kept.size() < text.size()) literal.insert(literal.size() - 1, "...");
  return literal;
}

// Scalars print as JSON (strings cut); arrays and objects never reach here.
std::string describe_scalar(const json& value, std::size_t max_string_bytes) {
  if (value.is_string()) return quoted(value.get_ref<const std::string&>(), max_string_bytes);
  if (value.is_binary()) return "binary of " + std::to_string(value.get_binary().size()) + " bytes";
  return value.dump();  // null, a boolean or a number: no recursion
}

std::string count(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

StrictJsonError::StrictJsonError(Kind kind, std::string key, std::string outer_key, int depth)
    : std::runtime_error(describe(kind, key, depth)),
      kind(kind),
      key(std::move(key)),
      outer_key(std::move(outer_key)),
      depth(depth) {}

nlohmann::json parse_strict_json(std::string_view text, int max_nesting) {
  std::vector<std::set<std::string>> keys_of_open_objects;
  std::string outer_key;
  // `depth` counts the arrays and objects open around the event's value (0 for the outermost one, which is
  // level 1), so a container at `depth` is at level depth + 1.
  auto check = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= max_nesting)
          throw StrictJsonError(StrictJsonError::Kind::too_deep, "", outer_key, depth);
        if (event == json::parse_event_t::object_start) keys_of_open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys_of_open_objects.empty()) keys_of_open_objects.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string& key = parsed.get_ref<const std::string&>();
        if (keys_of_open_objects.size() == 1) outer_key = key;
        if (!keys_of_open_objects.empty() && !keys_of_open_objects.back().insert(key).second) {
          throw StrictJsonError(StrictJsonError::Kind::duplicate_key, key, outer_key,
                                static_cast<int>(keys_of_open_objects.size()));
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  return json::parse(text.begin(), text.end(), check);
}

nlohmann::json parse_json_document(std::string_view text, const std::string& source) {
  try {
    return parse_strict_json(text, kMaxJsonNesting);
  } catch (const StrictJsonError& error) {
    throw JsonDocumentError(source + ": " + error.what());
  } catch (const json::exception& error) {
    throw JsonDocumentError(source + ": not valid JSON: " + error.what());
  }
}

std::string describe_json_value(const nlohmann::json& value) {
  constexpr std::size_t kMaxStringBytes = 64;
  constexpr std::size_t kMaxElementStringBytes = 16;
  constexpr std::size_t kMaxListedElements = 8;
  if (value.is_object()) return "object of " + count(value.size(), "key", "keys");
  if (value.is_array()) {
    bool all_scalars = value.size() <= kMaxListedElements;
    for (std::size_t i = 0; all_scalars && i < value.size(); ++i) all_scalars = value[i].is_primitive();
    if (!all_scalars) return "array of " + count(value.size(), "element", "elements");
    std::string listed = "array [";
    for (std::size_t i = 0; i < value.size(); ++i)
      listed += (i ? ", " : "") + describe_scalar(value[i], kMaxElementStringBytes);
    return listed + "]";
  }
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    std::string described = "string " + quoted(text, kMaxStringBytes);
    if (text.size() > kMaxStringBytes) described += " (" + std::to_string(text.size()) + " bytes)";
    return described;
  }
  return describe_scalar(value, kMaxStringBytes);
}

}  // namespace minimind
