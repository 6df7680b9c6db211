// The strict JSON entry point and the bounded description of values. References: nesting levels and
// duplicate keys counted by hand in small documents; 100,000-deep documents (the depth that overflowed the
// stack through recursive json::dump()) must be refused or described, never crash.
#include "io/strict_json.h"

#include <gtest/gtest.h>

#include <string>

namespace minimind {
namespace {

// `levels` arrays nested in each other, closed or not.
std::string nested_arrays(size_t levels, bool closed = true) {
  return std::string(levels, '[') + (closed ? std::string(levels, ']') : "");
}

std::string document_error(const std::string& text) {
  try {
    parse_json_document(text, "settings.json");
  } catch (const JsonDocumentError& error) {
    return error.what();
  }
  ADD_FAILURE() << "accepted " << text.substr(0, 80);
  return "";
}

TEST(StrictJson, NestingIsCappedAt64Levels) {
  EXPECT_NO_THROW(parse_strict_json(nested_arrays(64)));
  for (const std::string& text : {nested_arrays(65), nested_arrays(100000), nested_arrays(100000, false),
                                  "{\"a\": " + nested_arrays(64) + "}"}) {
    try {
      parse_strict_json(text);
      ADD_FAILURE() << "accepted " << text.size() << " bytes of nesting";
    } catch (const StrictJsonError& error) {
      EXPECT_EQ(error.kind, StrictJsonError::Kind::too_deep);
      EXPECT_EQ(error.depth, 64);
      EXPECT_STREQ(error.what(), "arrays or objects nested more than 64 levels deep");
    }
  }
  EXPECT_NO_THROW(parse_strict_json(nested_arrays(8), 8));
  EXPECT_THROW(parse_strict_json(nested_arrays(9), 8), StrictJsonError);
}

TEST(StrictJson, DocumentErrorsStartWithTheSourceAndSayWhy) {
  EXPECT_EQ(parse_json_document(R"({"a": [1, {"b": 2}], "c": {"b": 3}})", "settings.json")["c"]["b"], 3);
  EXPECT_EQ(document_error(nested_arrays(100000)),
            "settings.json: arrays or objects nested more than 64 levels deep");
  EXPECT_EQ(document_error(R"({"a": 1, "b": {"x": 1, "x": 2}})"),
            "settings.json: the key \"x\" appears twice in one object");
  EXPECT_EQ(document_error(R"({"a": 1, "a": 1})"),
            "settings.json: the key \"a\" appears twice in one object");
  EXPECT_EQ(document_error("{\"a\": ").rfind("settings.json: not valid JSON: ", 0), 0u);
}

TEST(StrictJson, DescriptionsAreShortAndBounded) {
  using json = nlohmann::json;
  EXPECT_EQ(describe_json_value(json(nullptr)), "null");
  EXPECT_EQ(describe_json_value(json(true)), "true");
  EXPECT_EQ(describe_json_value(json(512)), "512");
  EXPECT_EQ(describe_json_value(json(-3)), "-3");
  EXPECT_EQ(describe_json_value(json(512.5)), "512.5");
  EXPECT_EQ(describe_json_value(json("512")), "string \"512\"");
  EXPECT_EQ(describe_json_value(json("quote \" and\nnewline")), "string \"quote \\\" and\\nnewline\"");
  EXPECT_EQ(describe_json_value(json(std::string(100000, 'x'))),
            "string \"" + std::string(64, 'x') + "...\" (100000 bytes)");
  // Cut at a character boundary: 22 three-byte characters fill 66 bytes, 21 of them fit in 64.
  std::string chinese;
  for (int i = 0; i < 22; ++i) chinese += "\xE4\xB8\xAD";
  EXPECT_EQ(describe_json_value(json(chinese)), "string \"" + chinese.substr(0, 63) + "...\" (66 bytes)");
  EXPECT_EQ(describe_json_value(json::array()), "array []");
  EXPECT_EQ(describe_json_value(json::array({0, 8})), "array [0, 8]");
  EXPECT_EQ(describe_json_value(json::array({"2", nullptr, std::string(40, 'y')})),
            "array [\"2\", null, \"yyyyyyyyyyyyyyyy...\"]");
  EXPECT_EQ(describe_json_value(json::array({1, 2, 3, 4, 5, 6, 7, 8, 9})), "array of 9 elements");
  EXPECT_EQ(describe_json_value(json::array({json::array()})), "array of 1 element");
  EXPECT_EQ(describe_json_value(json::object()), "object of 0 keys");
  EXPECT_EQ(describe_json_value(json{{"a", 1}}), "object of 1 key");
  // nlohmann's parser is iterative, so this builds; dump() on it would overflow the stack.
  const json deep = json::parse(nested_arrays(100000));
  EXPECT_EQ(describe_json_value(deep), "array of 1 element");
}

}  // namespace
}  // namespace minimind
