// parse_strict_json: nlohmann's parser with a callback that keeps the keys of every open object.
#include "io/strict_json.h"

#include <set>
#include <utility>
#include <vector>

namespace minimind {

namespace {

std::string describe(StrictJsonError::Kind kind, const std::string& key, int depth) {
  if (kind == StrictJsonError::Kind::duplicate_key)
    return "the key \"" + key + "\" appears twice in one object";
  return "an array or object nested inside " + std::to_string(depth) + " others";
}

}  // namespace

StrictJsonError::StrictJsonError(Kind kind, std::string key, std::string outer_key, int depth)
    : std::runtime_error(describe(kind, key, depth)),
      kind(kind),
      key(std::move(key)),
      outer_key(std::move(outer_key)),
      depth(depth) {}

nlohmann::json parse_strict_json(std::string_view text, int max_nesting) {
  using json = nlohmann::json;
  std::vector<std::set<std::string>> keys_of_open_objects;
  std::string outer_key;
  // `depth` counts the arrays and objects open around the event's value (0 for the outermost one).
  auto check = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth > max_nesting) throw StrictJsonError(StrictJsonError::Kind::too_deep, "", outer_key, depth);
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

}  // namespace minimind
