// One JSONL line made a record. References: nlohmann::json, run on the same lines through the same record
// logic (the fast parser must agree with it on every line here: the record, or the reason it is refused), and
// escapes decoded by hand from RFC 8259.
#include "data/jsonl_record.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace minimind {
namespace {

std::string describe(const std::optional<RecordIssue>& issue, const Document& document) {
  if (issue) return std::string(issue->category);
  std::string result = "text=" + document.text;
  for (const ChatMessage& message : document.conversation)
    result += " [" + message.role + "]" + message.content;
  return result;
}

void expect_parsers_agree(const std::string& line, SourceKind kind) {
  Document fast, reference;
  const auto fast_issue = parse_jsonl_record(line, kind, fast, JsonParser::fast);
  const auto reference_issue = parse_jsonl_record(line, kind, reference, JsonParser::nlohmann);
  EXPECT_EQ(describe(fast_issue, fast), describe(reference_issue, reference)) << "line: " << line;
}

TEST(JsonlRecord, FastParserAgreesWithNlohmann) {
  const std::vector<std::string> pretrain_lines = {
      R"({"text": "plain"})",
      R"(  {"text":"no spaces"}  )",
      "{\"text\": \"tab\\tnewline\\nquote\\\"slash\\/back\\\\\"}\r",
      R"({"text": "\u00e9\u4e2d\ud83d\ude00\u0000end"})",
      R"({"text": "a", "text": "a key twice is refused"})",
      R"({"text": 1, "text": "still refused at the first"})",
      R"({"n": [0, -0, 1.5, -2e-3, 3E+7, 12345678901234567890123], "text": "numbers"})",
      R"({"deep": [[[[[{"text": 1}]]]]], "text": "nested text keys do not count"})",
      R"({"text": "x", "more": {"a": {"b": [true, false, null]}}})",
      R"({})",
      R"([])",
      R"("text")",
      R"(42)",
      R"(null)",
      R"({"text": "unterminated)",
      R"({"text": "bad escape \q"})",
      R"({"text": "lone \udc00"})",
      R"({"text": "high \ud800 alone"})",
      R"({"text": "high \ud800\u0041"})",
      R"({"text": "short \u12"})",
      "{\"text\": \"control \x01 char\"}",
      R"({"text": 01})",
      R"({"text": 1.})",
      R"({"text": .5})",
      R"({"text": -})",
      R"({"text": +1})",
      R"({"text": tru})",
      R"({"text": nul})",
      R"({"text" "missing colon"})",
      R"({"text": "a",})",
      R"({"text": "a"]})",
      R"({"text": "a"} {"text": "b"})",
      R"({text: "unquoted key"})",
      R"({"text": ""})",
      R"({"text": "  "})",
      "",
      "   ",
  };
  for (const std::string& line : pretrain_lines) expect_parsers_agree(line, SourceKind::pretrain_jsonl);
  const std::vector<std::string> sft_lines = {
      R"({"conversations": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})",
      R"({"conversations": [{"content": "q", "extra": {"role": 5}}, {"content": "a"}]})",
      R"({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]})",
      R"({"conversations": [{"role": "user", "content": "q", "role": "system"}]})",
      R"({"conversations": [], "conversations": [{"content": "a key twice is refused"}]})",
      R"({"conversations": []})",
      R"({"conversations": {}})",
      R"({"conversations": [[]]})",
      R"({"conversations": [{"role": null, "content": "x"}]})",
      R"({"conversations": [{"role": "user", "content": ["x"]}]})",
      R"({"conversations": [{"role": "tool", "content": "x"}]})",
      R"({"conversations": [{"role": "user"}]})",
      R"({"conversations": [{"role": "user", "content": "x"}, 3]})",
      R"({"messages": []})",
  };
  for (const std::string& line : sft_lines) expect_parsers_agree(line, SourceKind::sft_jsonl);
}

TEST(JsonlRecord, DecodesEscapes) {
  Document document;
  ASSERT_FALSE(parse_jsonl_record(R"({"text": "\u00e9\u4e2d\ud83d\ude00\/\b\f\r\t\"\\"})",
                                  SourceKind::pretrain_jsonl, document));
  EXPECT_EQ(document.text, "\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80/\b\f\r\t\"\\");
}

// Nesting is capped at kMaxJsonNesting (64) levels, the line's object being the first: deeper lines are
// refused under their own reason, by both parsers, however deep (100,000 levels) and whether or not they
// close.
TEST(JsonlRecord, NestingPastTheCapIsRefused) {
  const auto nested = [](int levels, bool closed) {
    const std::string inner(static_cast<size_t>(levels - 1), '[');
    return "{\"text\": \"ok\", \"x\": " + inner + (closed ? std::string(inner.size(), ']') + "}" : "");
  };
  for (JsonParser parser : {JsonParser::fast, JsonParser::nlohmann}) {
    Document document;
    EXPECT_FALSE(parse_jsonl_record(nested(64, true), SourceKind::pretrain_jsonl, document, parser));
    EXPECT_EQ(document.text, "ok");
    for (const std::string& line : {nested(65, true), nested(100000, true), nested(100000, false)}) {
      const auto issue = parse_jsonl_record(line, SourceKind::pretrain_jsonl, document, parser);
      ASSERT_TRUE(issue);
      EXPECT_EQ(issue->category, input_issue::kTooDeep);
      EXPECT_EQ(issue->detail, "arrays or objects nested more than 64 levels deep");
    }
  }
  const std::string deep_sft = R"({"conversations": [{"content": "q"}], "x": )" + std::string(100000, '[');
  Document document;
  const auto issue = parse_jsonl_record(deep_sft, SourceKind::sft_jsonl, document);
  ASSERT_TRUE(issue);
  EXPECT_EQ(issue->category, input_issue::kTooDeep);
}

// A key given twice in one object is refused, naming it: which of the two a reader keeps differs between
// JSON libraries (nlohmann and Python keep the last), so the record would depend on the reader. The same
// key in two different objects is fine.
TEST(JsonlRecord, DuplicateKeysAreRefusedNamingTheKey) {
  const std::vector<std::pair<std::string, SourceKind>> refused = {
      {R"({"text": "a", "text": "b"})", SourceKind::pretrain_jsonl},
      {R"({"text": "a", "meta": {"source": 1, "id": 2, "source": 3}})", SourceKind::pretrain_jsonl},
      {R"({"conversations": [{"role": "user", "content": "q", "role": "assistant"}]})",
       SourceKind::sft_jsonl},
  };
  const char* keys[] = {"text", "source", "role"};
  for (size_t i = 0; i < refused.size(); ++i) {
    for (JsonParser parser : {JsonParser::fast, JsonParser::nlohmann}) {
      Document document;
      const auto issue = parse_jsonl_record(refused[i].first, refused[i].second, document, parser);
      ASSERT_TRUE(issue) << refused[i].first;
      EXPECT_EQ(issue->category, input_issue::kDuplicateKey);
      EXPECT_EQ(issue->detail, std::string("the key \"") + keys[i] + "\" appears twice in one object");
    }
  }
  Document document;
  EXPECT_FALSE(parse_jsonl_record(R"({"a": {"id": 1}, "b": {"id": 2}, "text": "same key, two objects"})",
                                  SourceKind::pretrain_jsonl, document));
  EXPECT_FALSE(parse_jsonl_record(
      R"({"conversations": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})",
      SourceKind::sft_jsonl, document));
  EXPECT_EQ(document.conversation.size(), 2u);
}

TEST(JsonlRecord, DetailsSayWhere) {
  Document document;
  const auto issue = parse_jsonl_record(R"({"text": "a" "b"})", SourceKind::pretrain_jsonl, document);
  ASSERT_TRUE(issue);
  EXPECT_EQ(issue->category, input_issue::kMalformedJson);
  EXPECT_EQ(issue->detail, "syntax error at byte 13: expected ',' or '}'");
  const auto invalid = parse_jsonl_record("{\"text\": \"\xC3\"}", SourceKind::pretrain_jsonl, document);
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->category, input_issue::kInvalidUtf8);
  EXPECT_EQ(invalid->detail, "at byte 10 of the line");
}

}  // namespace
}  // namespace minimind
