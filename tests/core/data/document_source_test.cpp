// Reading corpora from disk. References: files written byte by byte into a scratch directory -- GBK and
// GB18030 bytes taken from the code tables (checked against iconv(1)), BOMs, CRLF and lone CR, empty,
// undecodable and overlong input -- with the documents, line numbers and issue counts worked out by hand.
#include "data/document_source.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "support/file_contents.h"
#include "support/scratch_directory.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;

std::vector<Document> read_all(DocumentSource& source) {
  std::vector<Document> documents;
  Document document;
  while (source.next(document)) documents.push_back(document);
  return documents;
}

std::vector<Document> read_all(SourceKind kind, const fs::path& path,
                               OnBadInput on_bad_input = OnBadInput::skip,
                               int64_t max_line_bytes = DocumentSource::kDefaultMaxLineBytes) {
  auto source = DocumentSource::open(kind, path, on_bad_input, max_line_bytes);
  return read_all(*source);
}

int64_t count_of(const SourceReport& report, std::string_view reason) {
  const auto found = report.skipped_by_reason.find(std::string(reason));
  return found == report.skipped_by_reason.end() ? 0 : found->second;
}

// ---------------------------------------------------------------------------------------------------------
// Text folders

TEST(DocumentSourceText, DecodesUtf8AndGbk) {
  ScratchDirectory scratch;
  write_file(scratch / "a_utf8.txt", "中文你好\n");
  write_file(scratch / "b_gbk.txt", "\xD6\xD0\xCE\xC4\xC4\xE3\xBA\xC3\n");  // 中文你好 in GBK (GB2312 range)
  write_file(scratch / "c_gb18030.txt", "smile \x94\x39\xFC\x36!");  // U+1F600, a four-byte GB18030 form
  auto source = DocumentSource::open(SourceKind::text_folder, scratch.path(), OnBadInput::stop);
  const std::vector<Document> documents = read_all(*source);
  ASSERT_EQ(documents.size(), 3u);
  EXPECT_EQ(documents[0].text, "中文你好\n");
  EXPECT_EQ(documents[1].text, "中文你好\n");
  EXPECT_EQ(documents[2].text, "smile 😀!");
  EXPECT_EQ(documents[1].file, (scratch / "b_gbk.txt").string());
  EXPECT_EQ(documents[1].line, 1);
  EXPECT_EQ(source->report().documents, 3);
  EXPECT_EQ(source->report().bytes, 13 + 13 + 11);
  EXPECT_EQ(source->report().skipped(), 0);
}

TEST(DocumentSourceText, StripsBomAndNormalisesLineEnds) {
  ScratchDirectory scratch;
  write_file(scratch / "bom.txt", "\xEF\xBB\xBFline one\r\nline two\rline three\r\n\r\nend\r");
  const std::vector<Document> documents = read_all(SourceKind::text_folder, scratch.path());
  ASSERT_EQ(documents.size(), 1u);
  EXPECT_EQ(documents[0].text, "line one\nline two\nline three\n\nend\n");
}

TEST(DocumentSourceText, ReportsEmptyAndUndecodableFilesAndSkipsThem) {
  ScratchDirectory scratch;
  write_file(scratch / "1_empty.txt", "");
  write_file(scratch / "2_blank.txt", " \r\n\n\t");
  write_file(scratch / "3_bad.txt", "fine line\nthen \xFF\xFE bytes that are neither encoding\n");
  write_file(scratch / "4_good.txt", "kept");
  auto source = DocumentSource::open(SourceKind::text_folder, scratch.path(), OnBadInput::skip);
  const std::vector<Document> documents = read_all(*source);
  ASSERT_EQ(documents.size(), 1u);
  EXPECT_EQ(documents[0].text, "kept");
  const SourceReport& report = source->report();
  EXPECT_EQ(count_of(report, input_issue::kEmptyFile), 2);
  EXPECT_EQ(count_of(report, input_issue::kUndecodableText), 1);
  EXPECT_EQ(report.skipped(), 3);
  ASSERT_EQ(report.first_issues.size(), 3u);
  EXPECT_EQ(report.first_issues[0].file, (scratch / "1_empty.txt").string());
  EXPECT_EQ(report.first_issues[0].line, 0);
  EXPECT_EQ(report.first_issues[1].file, (scratch / "2_blank.txt").string());
  EXPECT_EQ(report.first_issues[2].file, (scratch / "3_bad.txt").string());
  EXPECT_EQ(report.first_issues[2].line, 2);  // where GB18030 decoding failed
  EXPECT_NE(report.first_issues[2].reason.find("undecodable text"), std::string::npos);
  EXPECT_EQ(source->bytes_read(), source->total_bytes());
}

TEST(DocumentSourceText, CharacterCutOffAtTheEndIsReported) {
  // Files whose last character is cut off: in a file read as UTF-8 ("中" first), as GBK ("中" in GBK
  // first), or still undecided (ASCII, then a lead byte that starts a character in neither encoding).
  for (const std::string bytes : {"\xE4\xB8\xAD\n\xE4\xB8", "\xD6\xD0\n\xC4", "abc\n\xE4", "abc\xC4"}) {
    auto source = DocumentSource::from_memory(SourceKind::text_folder, bytes, "cut.txt", OnBadInput::skip, 2);
    read_all(*source);
    EXPECT_EQ(count_of(source->report(), input_issue::kUndecodableText), 1) << bytes;
  }
}

TEST(DocumentSourceText, StopThrowsNamingTheFile) {
  ScratchDirectory scratch;
  write_file(scratch / "a.txt", "good");
  write_file(scratch / "b.txt", "x\ny\n\xFF");
  auto source = DocumentSource::open(SourceKind::text_folder, scratch.path(), OnBadInput::stop);
  Document document;
  ASSERT_TRUE(source->next(document));
  try {
    source->next(document);
    FAIL() << "expected a DataError";
  } catch (const DataError& error) {
    EXPECT_EQ(error.file(), (scratch / "b.txt").string());
    EXPECT_EQ(error.line(), 3);
    EXPECT_NE(std::string(error.what()).find("b.txt:3: undecodable text"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(source->next(document));
  EXPECT_EQ(count_of(source->report(), input_issue::kUndecodableText), 1);
}

TEST(DocumentSourceText, EmptyFileStops) {
  ScratchDirectory scratch;
  write_file(scratch / "empty.txt", "");
  auto source = DocumentSource::open(SourceKind::text_folder, scratch.path(), OnBadInput::stop);
  Document document;
  EXPECT_THROW(source->next(document), DataError);
}

TEST(DocumentSourceText, SortedRecursiveOrderAndOnlyTxt) {
  ScratchDirectory scratch;
  for (const char* name : {"b.txt", "a/z.txt", "c.TXT", "a/b/c.txt", "notes.md", "a/data.jsonl"}) {
    write_file(scratch / name, std::string("text of ") + name);
  }
  const std::vector<Document> documents = read_all(SourceKind::text_folder, scratch.path());
  std::vector<std::string> files;
  for (const Document& document : documents) files.push_back(fs::relative(document.file, scratch.path()));
  EXPECT_EQ(files, (std::vector<std::string>{"a/b/c.txt", "a/z.txt", "b.txt", "c.TXT"}));
  EXPECT_EQ(documents[0].text, "text of a/b/c.txt");
}

TEST(DocumentSourceText, LargeFileComesInParagraphBlocks) {
  // With a 64-byte limit the 10 paragraphs (a 3-line paragraph of 24 bytes each, blank line between) come in
  // pieces cut after "\n\n", each with the line it starts at, and together they are the whole text.
  ScratchDirectory scratch;
  std::string text;
  for (int paragraph = 0; paragraph < 10; ++paragraph) {
    text += "para " + std::to_string(paragraph) + " a\nline b\nline c\n\n";
  }
  write_file(scratch / "novel.txt", text);
  const std::vector<Document> documents =
      read_all(SourceKind::text_folder, scratch.path(), OnBadInput::stop, 64);
  ASSERT_GT(documents.size(), 3u);
  std::string joined;
  int64_t expected_line = 1;
  for (const Document& document : documents) {
    EXPECT_EQ(document.line, expected_line);
    EXPECT_LE(document.text.size(), 64u);
    if (&document != &documents.back()) {
      EXPECT_TRUE(document.text.ends_with("\n\n")) << document.text;
    }
    expected_line += std::count(document.text.begin(), document.text.end(), '\n');
    joined += document.text;
  }
  EXPECT_EQ(joined, text);
}

TEST(DocumentSourceText, SmallFileUpToTheLimitIsOneDocument) {
  ScratchDirectory scratch;
  write_file(scratch / "exact.txt",
             std::string(31, 'a') + "\n\n" + std::string(31, 'b'));  // exactly 64 bytes
  const std::vector<Document> documents =
      read_all(SourceKind::text_folder, scratch.path(), OnBadInput::stop, 64);
  ASSERT_EQ(documents.size(), 1u);
  EXPECT_EQ(documents[0].text.size(), 64u);
}

TEST(DocumentSourceText, BlockReadsNeverCutCharactersOrCrlf) {
  // Blocks of 7 bytes cut GBK characters, UTF-8 characters and CRLF pairs in every possible place; the
  // decoded text must come out whole, the same as from one read.
  std::string gbk, utf8, expected;
  for (int i = 0; i < 40; ++i) {
    gbk += "\xD6\xD0\xCE\xC4" + std::string(i % 3, 'x') + "\r\n";  // 中文 + x... + CRLF
    utf8 += "中文" + std::string(i % 3, 'x') + "\r\n";
    expected += "中文" + std::string(i % 3, 'x') + "\n";
  }
  // Starting with a GBK character decides the file GBK at once; the end is text (a file's trailing
  // whitespace may be left out when it comes alone in the last block).
  gbk = "\xD6\xD0" + gbk + "end";
  utf8 = "中" + utf8 + "end";
  expected += "end";
  for (const auto& [name, bytes] : {std::pair{"gbk", gbk}, std::pair{"utf8", utf8}}) {
    for (int64_t block : {5, 7, 11, 64}) {
      auto source =
          DocumentSource::from_memory(SourceKind::text_folder, bytes, name, OnBadInput::stop, block);
      std::string joined;
      for (const Document& document : read_all(*source)) joined += document.text;
      EXPECT_EQ(joined, "中" + expected) << name << ", block " << block;
    }
  }
}

TEST(DocumentSourceText, AsciiStartThenGbkSwitchesToGbk) {
  // The first blocks are ASCII (which reads the same in both encodings); a later GBK byte decides the file.
  const std::string bytes = std::string(100, 'a') + "\n" + "\xC4\xE3\xBA\xC3";  // 你好
  auto source = DocumentSource::from_memory(SourceKind::text_folder, bytes, "late.txt", OnBadInput::stop, 16);
  std::string joined;
  for (const Document& document : read_all(*source)) joined += document.text;
  EXPECT_EQ(joined, std::string(100, 'a') + "\n你好");
}

TEST(DocumentSourceText, ProgressBytes) {
  ScratchDirectory scratch;
  write_file(scratch / "a.txt", std::string(300, 'a'));
  write_file(scratch / "b.txt", std::string(500, 'b'));
  auto source = DocumentSource::open(SourceKind::text_folder, scratch.path(), OnBadInput::stop, 100);
  EXPECT_EQ(source->total_bytes(), 800);
  EXPECT_EQ(source->bytes_read(), 0);
  Document document;
  int64_t previous = 0;
  while (source->next(document)) {
    EXPECT_GE(source->bytes_read(), previous);
    EXPECT_LE(source->bytes_read(), source->total_bytes());
    previous = source->bytes_read();
  }
  EXPECT_EQ(source->bytes_read(), 800);
  EXPECT_EQ(source->report().bytes, 800);
}

TEST(DocumentSourceText, MissingPathOrNoFilesIsAnError) {
  ScratchDirectory scratch;
  EXPECT_THROW(DocumentSource::open(SourceKind::text_folder, scratch / "absent", OnBadInput::skip),
               DataError);
  write_file(scratch / "only.md", "x");
  EXPECT_THROW(DocumentSource::open(SourceKind::text_folder, scratch.path(), OnBadInput::skip), DataError);
  EXPECT_THROW(DocumentSource::open(SourceKind::text_folder, scratch.path(), OnBadInput::skip, 0),
               std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------------------
// Pretraining JSONL

TEST(DocumentSourcePretrain, ReadsTextWithLineNumbers) {
  ScratchDirectory scratch;
  write_file(
      scratch / "data.jsonl",
      "\xEF\xBB\xBF{\"text\": \"first\"}\r\n"
      "\n"
      "   \n"
      "{\"id\": 7, \"text\": \"中\\u6587\\n\\\"quoted\\\"\", \"meta\": {\"text\": 1, \"deep\": [[[[{}]]]]}}\n"
      "{\"text\": \"last, no newline\"}");
  auto source = DocumentSource::open(SourceKind::pretrain_jsonl, scratch / "data.jsonl", OnBadInput::stop);
  const std::vector<Document> documents = read_all(*source);
  ASSERT_EQ(documents.size(), 3u);
  EXPECT_EQ(documents[0].text, "first");
  EXPECT_EQ(documents[0].line, 1);
  EXPECT_EQ(documents[1].text, "中文\n\"quoted\"");
  EXPECT_EQ(documents[1].line, 4);
  EXPECT_EQ(documents[2].text, "last, no newline");
  EXPECT_EQ(documents[2].line, 5);
  EXPECT_TRUE(documents[2].conversation.empty());
  EXPECT_EQ(source->report().skipped(), 0);  // blank lines are no issue
  EXPECT_EQ(source->bytes_read(), source->total_bytes());
}

TEST(DocumentSourcePretrain, CountsEveryKindOfBadLine) {
  ScratchDirectory scratch;
  write_file(scratch / "bad.jsonl",
             "{\"text\": \"ok 1\"}\n"        // 1
             "{\"text\": \"unterminated\n"   // 2 malformed
             "[1, 2]\n"                      // 3 not an object
             "\"just a string\"\n"           // 4 not an object
             "{\"txt\": \"typo\"}\n"         // 5 missing field
             "{\"text\": 5}\n"               // 6 wrong type
             "{\"text\": null}\n"            // 7 wrong type
             "{\"text\": \"\"}\n"            // 8 empty text
             "{\"text\": \"\xFF\"}\n"        // 9 invalid UTF-8
             "{\"text\": \"a\"} trailing\n"  // 10 malformed
             "{\"text\": \"\\ud800\"}\n"     // 11 malformed (lone surrogate escape)
             "{\"text\": \"ok 2\"}\n");      // 12
  auto source = DocumentSource::open(SourceKind::pretrain_jsonl, scratch / "bad.jsonl", OnBadInput::skip);
  const std::vector<Document> documents = read_all(*source);
  ASSERT_EQ(documents.size(), 2u);
  EXPECT_EQ(documents[0].text, "ok 1");
  EXPECT_EQ(documents[1].text, "ok 2");
  EXPECT_EQ(documents[1].line, 12);
  const SourceReport& report = source->report();
  EXPECT_EQ(count_of(report, input_issue::kMalformedJson), 3);
  EXPECT_EQ(count_of(report, input_issue::kNotAnObject), 2);
  EXPECT_EQ(count_of(report, input_issue::kMissingField), 1);
  EXPECT_EQ(count_of(report, input_issue::kWrongType), 2);
  EXPECT_EQ(count_of(report, input_issue::kEmptyText), 1);
  EXPECT_EQ(count_of(report, input_issue::kInvalidUtf8), 1);
  EXPECT_EQ(report.skipped(), 10);
  ASSERT_EQ(report.first_issues.size(), 10u);
  const std::vector<int64_t> expected_lines = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  for (size_t i = 0; i < expected_lines.size(); ++i) {
    EXPECT_EQ(report.first_issues[i].line, expected_lines[i]) << report.first_issues[i].reason;
    EXPECT_EQ(report.first_issues[i].file, (scratch / "bad.jsonl").string());
  }
  EXPECT_EQ(report.first_issues[4].reason, "wrong type: \"text\" is a number, expected a string");
  EXPECT_EQ(report.first_issues[3].reason, "missing field: no \"text\" field");
}

TEST(DocumentSourcePretrain, StopThrowsAtTheFirstBadLine) {
  ScratchDirectory scratch;
  write_file(scratch / "data.jsonl",
             "{\"text\": \"ok\"}\n{\"text\": [\"no\"]}\n{\"text\": \"never read\"}\n");
  auto source = DocumentSource::open(SourceKind::pretrain_jsonl, scratch.path(), OnBadInput::stop);
  Document document;
  ASSERT_TRUE(source->next(document));
  try {
    source->next(document);
    FAIL() << "expected a DataError";
  } catch (const DataError& error) {
    EXPECT_EQ(error.file(), (scratch / "data.jsonl").string());
    EXPECT_EQ(error.line(), 2);
    EXPECT_EQ(error.reason(), "wrong type: \"text\" is an array, expected a string");
  }
  EXPECT_FALSE(source->next(document));
  EXPECT_EQ(source->report().documents, 1);
  EXPECT_EQ(count_of(source->report(), input_issue::kWrongType), 1);
}

// A duplicate key and nesting past 64 levels are reported with file and line like any bad line; under stop,
// the first one ends the read.
TEST(DocumentSourcePretrain, DuplicateKeysAndDeepNestingNameFileAndLine) {
  ScratchDirectory scratch;
  write_file(scratch / "data.jsonl",
             "{\"text\": \"ok\"}\n{\"text\": \"a\", \"text\": \"b\"}\n{\"text\": \"x\", \"deep\": " +
                 std::string(100000, '[') + std::string(100000, ']') + "}\n");
  auto source = DocumentSource::open(SourceKind::pretrain_jsonl, scratch.path(), OnBadInput::skip);
  EXPECT_EQ(read_all(*source).size(), 1u);
  const SourceReport& report = source->report();
  EXPECT_EQ(count_of(report, input_issue::kDuplicateKey), 1);
  EXPECT_EQ(count_of(report, input_issue::kTooDeep), 1);
  ASSERT_EQ(report.first_issues.size(), 2u);
  EXPECT_EQ(report.first_issues[0].line, 2);
  EXPECT_EQ(report.first_issues[0].reason, "duplicate key: the key \"text\" appears twice in one object");
  EXPECT_EQ(report.first_issues[1].line, 3);
  EXPECT_EQ(report.first_issues[1].reason,
            "nested too deep: arrays or objects nested more than 64 levels deep");

  auto stopping = DocumentSource::open(SourceKind::pretrain_jsonl, scratch.path(), OnBadInput::stop);
  Document document;
  ASSERT_TRUE(stopping->next(document));
  try {
    stopping->next(document);
    FAIL() << "expected a DataError";
  } catch (const DataError& error) {
    EXPECT_EQ(std::string(error.what()),
              (scratch / "data.jsonl").string() +
                  ":2: duplicate key: the key \"text\" appears twice in one object");
  }
}

TEST(DocumentSourcePretrain, HundredMegabyteLineIsSkippedWithoutHoldingIt) {
  ScratchDirectory scratch;
  const fs::path path = scratch / "huge.jsonl";
  {
    std::ofstream out(path, std::ios::binary);
    out << "{\"text\": \"before\"}\n{\"text\": \"";
    const std::string block(1 << 20, 'a');
    for (int i = 0; i < 100; ++i) out.write(block.data(), static_cast<std::streamsize>(block.size()));
    out << "\"}\n{\"text\": \"after\"}\n";
  }
  const auto start = std::chrono::steady_clock::now();
  auto source = DocumentSource::open(SourceKind::pretrain_jsonl, path, OnBadInput::skip);
  const std::vector<Document> documents = read_all(*source);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(documents.size(), 2u);
  EXPECT_EQ(documents[0].text, "before");
  EXPECT_EQ(documents[1].text, "after");
  EXPECT_EQ(documents[1].line, 3);
  const SourceReport& report = source->report();
  EXPECT_EQ(count_of(report, input_issue::kLineTooLong), 1);
  ASSERT_EQ(report.first_issues.size(), 1u);
  EXPECT_EQ(report.first_issues[0].line, 2);
  EXPECT_EQ(report.first_issues[0].file, path.string());
  EXPECT_NE(report.first_issues[0].reason.find("104857612 bytes"), std::string::npos)
      << report.first_issues[0].reason;
  EXPECT_EQ(source->bytes_read(), source->total_bytes());
  RecordProperty("read_seconds", std::to_string(seconds));
}

TEST(DocumentSourcePretrain, ReadBlockSizeDoesNotChangeTheDocuments) {
  std::string bytes;
  for (int i = 0; i < 50; ++i) {
    bytes += "{\"text\": \"line " + std::to_string(i) + " " + std::string(i % 17, 'x') + "\"}";
    bytes += i % 5 == 0 ? "\r\n" : i % 7 == 0 ? "\n\n" : "\n";
    if (i % 9 == 0) bytes += "{\"text\": " + std::string(40, ' ') + "\"long enough to be cut off\"}\n";
  }
  auto reference =
      DocumentSource::from_memory(SourceKind::pretrain_jsonl, bytes, "mem", OnBadInput::skip, 60);
  const std::vector<Document> expected = read_all(*reference);
  ASSERT_EQ(count_of(reference->report(), input_issue::kLineTooLong), 6);
  for (int64_t block : {1, 2, 3, 7, 16, 61, 1000}) {
    auto source =
        DocumentSource::from_memory(SourceKind::pretrain_jsonl, bytes, "mem", OnBadInput::skip, 60, block);
    const std::vector<Document> documents = read_all(*source);
    ASSERT_EQ(documents.size(), expected.size()) << "block " << block;
    for (size_t i = 0; i < documents.size(); ++i) {
      EXPECT_EQ(documents[i].text, expected[i].text);
      EXPECT_EQ(documents[i].line, expected[i].line);
    }
    EXPECT_EQ(source->report().skipped_by_reason, reference->report().skipped_by_reason);
    EXPECT_EQ(source->bytes_read(), static_cast<int64_t>(bytes.size()));
  }
}

TEST(DocumentSourcePretrain, EmptyFilesAreReported) {
  ScratchDirectory scratch;
  write_file(scratch / "a.jsonl", "");
  write_file(scratch / "b.jsonl", "\n  \n\r\n");
  write_file(scratch / "c.jsonl", "{\"text\": \"x\"}");
  auto source = DocumentSource::open(SourceKind::pretrain_jsonl, scratch.path(), OnBadInput::skip);
  const std::vector<Document> documents = read_all(*source);
  ASSERT_EQ(documents.size(), 1u);
  EXPECT_EQ(documents[0].file, (scratch / "c.jsonl").string());
  EXPECT_EQ(count_of(source->report(), input_issue::kEmptyFile), 2);
}

TEST(DocumentSourcePretrain, KeepsTheFirstHundredIssuesAndCountsAll) {
  std::string bytes;
  for (int i = 0; i < 150; ++i) bytes += "not json\n";
  auto source = DocumentSource::from_memory(SourceKind::pretrain_jsonl, bytes, "mem", OnBadInput::skip);
  EXPECT_TRUE(read_all(*source).empty());
  EXPECT_EQ(count_of(source->report(), input_issue::kMalformedJson), 150);
  ASSERT_EQ(source->report().first_issues.size(), SourceReport::kMaxRecordedIssues);
  EXPECT_EQ(source->report().first_issues.back().line, 100);
}

// ---------------------------------------------------------------------------------------------------------
// SFT JSONL

TEST(DocumentSourceSft, ParsesConversations) {
  const std::string bytes =
      "{\"conversations\": [{\"role\": \"system\", \"content\": \"be brief\"}, "
      "{\"role\": \"user\", \"content\": \"你好\"}, {\"role\": \"assistant\", \"content\": \"hi\\n\", "
      "\"reasoning\": {\"steps\": [1, 2]}}], \"id\": 3}\n"
      // MiniMind's earlier form: no roles, turns alternate user / assistant
      "{\"conversations\": [{\"content\": \"q\"}, {\"content\": \"a\"}, {\"content\": \"q2\"}]}\n"
      // ShareGPT's names
      "{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": "
      "\"a\"}]}\n";
  auto source = DocumentSource::from_memory(SourceKind::sft_jsonl, bytes, "sft.jsonl", OnBadInput::stop);
  const std::vector<Document> documents = read_all(*source);
  ASSERT_EQ(documents.size(), 3u);
  EXPECT_EQ(documents[0].conversation,
            (std::vector<ChatMessage>{{"system", "be brief"}, {"user", "你好"}, {"assistant", "hi\n"}}));
  EXPECT_TRUE(documents[0].text.empty());
  EXPECT_EQ(documents[1].conversation,
            (std::vector<ChatMessage>{{"user", "q"}, {"assistant", "a"}, {"user", "q2"}}));
  EXPECT_EQ(documents[1].line, 2);
  EXPECT_EQ(documents[2].conversation, (std::vector<ChatMessage>{{"user", "q"}, {"assistant", "a"}}));
  EXPECT_EQ(source->report().bytes, 8 + 6 + 3 + 1 + 1 + 2 + 1 + 1);
}

TEST(DocumentSourceSft, ReportsBadConversations) {
  const std::string bytes =
      "{\"text\": \"pretraining line\"}\n"                                   // 1 missing field
      "{\"conversations\": \"hello\"}\n"                                     // 2 wrong type
      "{\"conversations\": []}\n"                                            // 3 empty conversation
      "{\"conversations\": [\"user: hi\"]}\n"                                // 4 wrong type
      "{\"conversations\": [{\"role\": \"user\", \"content\": 42}]}\n"       // 5 wrong type
      "{\"conversations\": [{\"role\": \"user\"}]}\n"                        // 6 missing field
      "{\"conversations\": [{\"role\": \"tool\", \"content\": \"x\"}]}\n"    // 7 unknown role
      "{\"conversations\": [{\"role\": \"user\", \"content\": \"ok\"}]}\n";  // 8
  auto source = DocumentSource::from_memory(SourceKind::sft_jsonl, bytes, "sft.jsonl", OnBadInput::skip);
  const std::vector<Document> documents = read_all(*source);
  ASSERT_EQ(documents.size(), 1u);
  EXPECT_EQ(documents[0].line, 8);
  const SourceReport& report = source->report();
  EXPECT_EQ(count_of(report, input_issue::kMissingField), 2);
  EXPECT_EQ(count_of(report, input_issue::kWrongType), 3);
  EXPECT_EQ(count_of(report, input_issue::kEmptyConversation), 1);
  EXPECT_EQ(count_of(report, input_issue::kUnknownRole), 1);
  ASSERT_EQ(report.first_issues.size(), 7u);
  EXPECT_EQ(report.first_issues[3].reason, "wrong type: conversations[0] is a string, expected an object");
  EXPECT_EQ(report.first_issues[4].reason,
            "wrong type: conversations[0].content is a number, expected a string");
  EXPECT_EQ(report.first_issues[5].reason, "missing field: conversations[0] has no \"content\"");
  EXPECT_EQ(report.first_issues[6].line, 7);
}

}  // namespace
}  // namespace minimind
