// JSON for files whose meaning must not depend on the parser that reads them: nlohmann::json::parse, except
// that a key given twice in one object (nlohmann would silently keep the last) and nesting past a limit are
// refused. Every JSON file a user or a run directory supplies is read this way, and values read from such
// files are named in messages through describe_json_value, never through the recursive json::dump().
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace minimind {

// The deepest nesting of arrays and objects a file the lab reads may have (the outermost value is level 1).
// The lab's own files nest at most 5 deep; the cap bounds the work and stack any later step spends on a
// value, so that a hostile file is refused rather than crashing a recursive walk.
inline constexpr int kMaxJsonNesting = 64;

// Why parse_strict_json refused text that is otherwise valid JSON. Callers turn it into their own error,
// naming their file and field.
class StrictJsonError : public std::runtime_error {
 public:
  enum class Kind { duplicate_key, too_deep };
  StrictJsonError(Kind kind, std::string key, std::string outer_key, int depth);

  Kind kind;
  std::string key;        // duplicate_key: the key given twice
  std::string outer_key;  // the last key read in the outermost object (the entry the problem lies in)
  int depth;              // duplicate_key: the objects open around the key (1: the outermost object);
                          // too_deep: the arrays and objects open around the one refused (the cap)
};

// Throws StrictJsonError for a duplicate key or for an array or object nested more than `max_nesting`
// levels deep, and nlohmann::json::parse_error for text that is not JSON.
nlohmann::json parse_strict_json(std::string_view text, int max_nesting = kMaxJsonNesting);

// A JSON document refused by parse_json_document; the message starts with the document's name.
class JsonDocumentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The one entry point for the whole text of a JSON file: parse_strict_json with kMaxJsonNesting, every
// refusal turned into JsonDocumentError "<source>: <reason>" -- "not valid JSON: <where and why>", "the key
// "k" appears twice in one object", "arrays or objects nested more than 64 levels deep". Callers that throw
// their own error type catch it and keep its message.
nlohmann::json parse_json_document(std::string_view text, const std::string& source);

// A short description of `value` for an error message, bounded in length and computed without recursion
// (a hostile file may nest 100,000 deep): null, true, 512, 1e-05, string "text" (longer strings cut, with
// their length), array [0, 8] (up to 8 scalar elements), array of 3 elements, object of 2 keys.
std::string describe_json_value(const nlohmann::json& value);

}  // namespace minimind
