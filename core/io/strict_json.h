// JSON for files whose meaning must not depend on the parser that reads them: nlohmann::json::parse, except
// that a key given twice in one object (nlohmann would silently keep the last) and nesting past a limit are
// refused. The safetensors header and tokenizer.json are read this way.
#pragma once

#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace minimind {

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
                          // too_deep: the arrays and objects open around the one refused
};

// Throws StrictJsonError for a duplicate key or for an array or object inside more than `max_nesting` others,
// and nlohmann::json::parse_error for text that is not JSON.
nlohmann::json parse_strict_json(std::string_view text, int max_nesting = std::numeric_limits<int>::max());

}  // namespace minimind
