// The Data view: the sample's coloured tokens are exactly Tokenizer::encode's (count, ids, boundaries, the
// text they cover), the summary shows the numbers and skipped reasons pushed in, the request follows the
// controls, and the buttons emit their requests.
#include "data_view.h"

#include <gtest/gtest.h>

#include <QComboBox>
#include <QCoreApplication>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMouseEvent>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QSpinBox>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextDocument>
#include <QTextEdit>

#include "config/resources.h"

namespace minimind {
namespace {

std::shared_ptr<const Tokenizer> default_tokenizer() {
  static const auto tokenizer =
      std::make_shared<const Tokenizer>(Tokenizer::load(default_tokenizer_dir() / "tokenizer.json"));
  return tokenizer;
}

template <typename T>
T* child(const DataView& view, const char* name) {
  T* found = view.findChild<T*>(name);
  EXPECT_NE(found, nullptr) << name;
  return found;
}

// The checks of a sample against the tokenizer run directly on its UTF-8 bytes.
void expect_spans_match_tokenizer(const DataView& view, const Tokenizer& tokenizer) {
  const QString text = view.sample_text();
  const std::string utf8 = text.toStdString();
  const std::vector<int32_t> ids = tokenizer.encode(utf8);
  const auto spans = view.sample_token_spans();
  ASSERT_EQ(spans.size(), ids.size());
  EXPECT_EQ(view.sample_token_ids(), ids);

  // Contiguous, covering the text; the pieces put together are the text.
  QString joined;
  int expected_begin = 0;
  for (const auto& [begin, end] : spans) {
    EXPECT_EQ(begin, expected_begin);
    EXPECT_LE(begin, end);
    joined += text.mid(begin, end - begin);
    expected_begin = end;
  }
  EXPECT_EQ(expected_begin, text.size());
  EXPECT_EQ(joined, text);

  // Where the decoded bytes of tokens 0..i end on a whole character, the span of token i ends exactly there.
  std::string prefix;
  int checked = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    prefix += tokenizer.token_bytes(ids[i]);
    const QString decoded = QString::fromUtf8(prefix);
    if (decoded.toUtf8() != QByteArray::fromStdString(prefix)) continue;  // ends inside a character
    EXPECT_EQ(spans[i].second, decoded.size()) << "token " << i;
    ++checked;
  }
  EXPECT_GT(checked, static_cast<int>(ids.size()) / 2);

  // Neighbouring tokens are shown in different colours.
  const auto* display = view.findChild<QTextEdit*>("sample_view");
  ASSERT_NE(display, nullptr);
  int previous_token = -1;
  QColor previous_colour;
  int fragments = 0;
  for (QTextBlock block = display->document()->begin(); block.isValid(); block = block.next()) {
    for (auto it = block.begin(); !it.atEnd(); ++it) {
      const QTextFragment fragment = it.fragment();
      const int token = fragment.charFormat().property(QTextFormat::UserProperty).toInt();
      const QColor colour = fragment.charFormat().background().color();
      EXPECT_EQ(fragment.text(), text.mid(fragment.position(), fragment.length()));
      EXPECT_GE(fragment.position(), spans[token].first);
      EXPECT_LE(fragment.position() + fragment.length(), spans[token].second);
      if (previous_token >= 0 && token != previous_token) {
        EXPECT_NE(colour, previous_colour) << "token " << token;
      }
      previous_token = token;
      previous_colour = colour;
      ++fragments;
    }
  }
  EXPECT_GE(fragments, 2);
}

TEST(DataView, SampleTokensAreTheTokenizersEnglishAndChinese) {
  DataView view;
  const auto tokenizer = default_tokenizer();
  EXPECT_TRUE(view.sample_token_spans().empty());  // no tokenizer yet
  view.set_tokenizer(tokenizer);
  EXPECT_TRUE(view.sample_text().contains("brain"));
  EXPECT_TRUE(view.sample_text().contains(QString::fromUtf8("秋云")));
  expect_spans_match_tokenizer(view, *tokenizer);

  // The statistics: token count and bytes per token, computed here from the encoding.
  const std::string utf8 = view.sample_text().toStdString();
  const size_t tokens = tokenizer->encode(utf8).size();
  const QString stats = view.sample_statistics();
  EXPECT_TRUE(stats.startsWith(QLocale().toString(static_cast<qint64>(tokens)) + " tokens"))
      << stats.toStdString();
  EXPECT_TRUE(
      stats.endsWith(QString::number(static_cast<double>(utf8.size()) / tokens, 'f', 2) + " bytes per token"))
      << stats.toStdString();

  // A token's tooltip gives its id and text.
  const std::vector<int32_t> ids = view.sample_token_ids();
  const QString tip = view.sample_token_tooltip(1);
  EXPECT_TRUE(tip.contains(QString("id %1,").arg(ids[1]))) << tip.toStdString();
  EXPECT_TRUE(tip.contains(
      "\"" + QString::fromUtf8(tokenizer->token_bytes(ids[1])).replace(' ', QChar(0x2423)) + "\""))
      << tip.toStdString();

  // Hovering a token reads it out: the mouse just right of where a token's first character starts.
  view.resize(900, 700);
  view.show();
  QCoreApplication::processEvents();
  auto* display = child<QTextEdit>(view, "sample_view");
  const auto spans = view.sample_token_spans();
  for (int token : {1, 5}) {
    QTextCursor cursor(display->document());
    cursor.setPosition(spans[token].first);
    const QPointF point = display->cursorRect(cursor).center() + QPointF(2, 0);
    QMouseEvent move(QEvent::MouseMove, point, display->viewport()->mapToGlobal(point), Qt::NoButton,
                     Qt::NoButton, Qt::NoModifier);
    QCoreApplication::sendEvent(display->viewport(), &move);
    EXPECT_EQ(child<QLabel>(view, "token_readout")->text().toStdString(),
              view.sample_token_tooltip(token).section('\n', 0, 0).toStdString());
  }

  // Editing the sample retokenizes it, special tokens and characters the tokenizer splits included.
  view.set_sample_text(QString::fromUtf8("<|im_start|>Hello, world!\n鬱鬱蒼蒼 🙂<|im_end|>"));
  expect_spans_match_tokenizer(view, *tokenizer);
  EXPECT_EQ(view.sample_token_ids().front(), *tokenizer->token_to_id("<|im_start|>"));
  EXPECT_TRUE(view.sample_token_tooltip(0).contains("(special)"));
}

TEST(DataView, SummaryShowsTheNumbersAndSkippedReasons) {
  DataView view;
  PrepareSummary summary;
  summary.source.documents = 12345;
  summary.source.skipped_by_reason = {{"malformed JSON", 2}, {"missing field", 1}};
  summary.source.first_issues = {{"/corpus/a.jsonl", 3, "malformed JSON: unexpected end of input"},
                                 {"/corpus/a.jsonl", 7, "missing field: no \"text\""},
                                 {"/corpus/b.jsonl", 1, "malformed JSON: invalid literal"}};
  summary.train_documents = 12000;
  summary.validation_documents = 345;
  summary.train_tokens = 987654;
  summary.validation_tokens = 4321;
  summary.text_bytes = 2500000;
  summary.text_tokens = 1000000;
  summary.seconds = 1.3;
  summary.train_shard = "/data/train.shard";
  summary.validation_shard = "/data/validation.shard";
  view.show_error("an old error");
  view.show_summary(summary);

  const QLocale locale;
  EXPECT_EQ(view.summary_field("Documents"),
            locale.toString(12345) + " read: " + locale.toString(12000) + " train, 345 validation");
  EXPECT_EQ(view.summary_field("Tokens"),
            locale.toString(987654) + " train, " + locale.toString(4321) + " validation");
  EXPECT_EQ(view.summary_field("Bytes per token"), "2.500");  // 2,500,000 bytes / 1,000,000 tokens
  EXPECT_EQ(view.summary_field("Skipped"), "3 inputs");
  EXPECT_EQ(view.summary_field("Time"), "1.3 s");
  EXPECT_TRUE(view.summary_field("Shards").contains("/data/train.shard"));
  const QStringList lines = view.skipped_lines();
  EXPECT_EQ(lines, (QStringList{"2 inputs: malformed JSON", "1 input: missing field",
                                "/corpus/a.jsonl:3: malformed JSON: unexpected end of input",
                                "/corpus/a.jsonl:7: missing field: no \"text\"",
                                "/corpus/b.jsonl:1: malformed JSON: invalid literal"}));
  EXPECT_TRUE(view.error_text().isEmpty());

  // A clean preparation clears the list.
  summary.source.skipped_by_reason.clear();
  summary.source.first_issues.clear();
  view.show_summary(summary);
  EXPECT_EQ(view.summary_field("Skipped"), "none");
  EXPECT_TRUE(view.skipped_lines().isEmpty());
}

TEST(DataView, RequestFollowsTheControls) {
  DataView view;
  EXPECT_EQ(view.request(), DataRequest{});  // the built-in corpus, pretrain, default tokenizer, 1 %
  EXPECT_FALSE(child<QLineEdit>(view, "corpus_path")->isEnabled());

  child<QRadioButton>(view, "corpus_jsonl")->click();
  EXPECT_TRUE(child<QLineEdit>(view, "corpus_path")->isEnabled());
  child<QLineEdit>(view, "corpus_path")->setText("/corpus/chat.jsonl");
  auto* mode = child<QComboBox>(view, "mode");
  mode->setCurrentIndex(mode->findData("sft"));
  child<QDoubleSpinBox>(view, "validation_percent")->setValue(5.0);
  child<QRadioButton>(view, "tokenizer_file")->click();
  child<QLineEdit>(view, "tokenizer_path")->setText("/tokenizers/mine/tokenizer.json");
  DataRequest request = view.request();
  EXPECT_EQ(request.corpus_kind, DataRequest::CorpusKind::jsonl);
  EXPECT_EQ(request.corpus_path, "/corpus/chat.jsonl");
  EXPECT_EQ(request.mode, "sft");
  EXPECT_DOUBLE_EQ(request.validation_fraction, 0.05);
  EXPECT_EQ(request.tokenizer_path, "/tokenizers/mine/tokenizer.json");
  EXPECT_FALSE(request.stop_at_bad_input);

  // A new tokenizer: the request names the file training writes.
  child<QRadioButton>(view, "tokenizer_train")->click();
  child<QLineEdit>(view, "tokenizer_out_dir")->setText("/tokenizers/new");
  EXPECT_EQ(view.request().tokenizer_path, "/tokenizers/new/tokenizer.json");

  // set_request round-trips.
  DataRequest folder;
  folder.corpus_kind = DataRequest::CorpusKind::folder;
  folder.corpus_path = "/corpus/books";
  folder.validation_fraction = 0.1;
  folder.stop_at_bad_input = true;
  view.set_request(folder);
  EXPECT_EQ(view.request(), folder);
  EXPECT_TRUE(child<QRadioButton>(view, "corpus_folder")->isChecked());
  EXPECT_TRUE(child<QRadioButton>(view, "tokenizer_default")->isChecked());
}

TEST(DataView, ButtonsEmitTheirRequests) {
  DataView view;
  std::vector<DataRequest> prepares;
  std::vector<std::tuple<DataRequest, int, QString>> trainings;
  QStringList chosen;
  int cancels = 0;
  QObject::connect(&view, &DataView::prepare_requested, [&](const DataRequest& r) { prepares.push_back(r); });
  QObject::connect(
      &view, &DataView::train_tokenizer_requested,
      [&](const DataRequest& r, int vocab, const QString& out) { trainings.emplace_back(r, vocab, out); });
  QObject::connect(&view, &DataView::tokenizer_chosen, [&](const QString& path) { chosen << path; });
  QObject::connect(&view, &DataView::cancel_requested, [&] { ++cancels; });

  auto* prepare = child<QPushButton>(view, "prepare_button");
  auto* train = child<QPushButton>(view, "train_tokenizer_button");
  auto* cancel = child<QPushButton>(view, "cancel_button");
  EXPECT_FALSE(train->isEnabled());  // only with "train a new tokenizer"
  EXPECT_FALSE(cancel->isEnabled());
  prepare->click();
  ASSERT_EQ(prepares.size(), 1u);
  EXPECT_EQ(prepares[0], view.request());

  child<QRadioButton>(view, "corpus_folder")->click();
  child<QLineEdit>(view, "corpus_path")->setText("/corpus/books");
  child<QRadioButton>(view, "tokenizer_train")->click();
  child<QSpinBox>(view, "vocab_size")->setValue(1024);
  child<QLineEdit>(view, "tokenizer_out_dir")->setText("/tokenizers/books");
  EXPECT_TRUE(train->isEnabled());
  train->click();
  ASSERT_EQ(trainings.size(), 1u);
  EXPECT_EQ(std::get<0>(trainings[0]).corpus_path, "/corpus/books");
  EXPECT_EQ(std::get<1>(trainings[0]), 1024);
  EXPECT_EQ(std::get<2>(trainings[0]), "/tokenizers/books");

  view.set_busy(true);
  EXPECT_FALSE(prepare->isEnabled());
  EXPECT_FALSE(train->isEnabled());
  EXPECT_FALSE(child<QLineEdit>(view, "corpus_path")->isEnabled());
  EXPECT_TRUE(cancel->isEnabled());
  cancel->click();
  EXPECT_EQ(cancels, 1);
  view.show_progress("Compute merges", 250, 1000);
  EXPECT_EQ(child<QProgressBar>(view, "progress_bar")->value(), 250);
  EXPECT_EQ(view.stage_text(), "Compute merges: 250 of " + QLocale().toString(1000) + " (25.0 %)");
  view.set_busy(false);
  EXPECT_TRUE(prepare->isEnabled());
  EXPECT_FALSE(cancel->isEnabled());

  // A trained tokenizer becomes the chosen one.
  view.show_trained_tokenizer("/tokenizers/books/tokenizer.json");
  EXPECT_EQ(chosen, QStringList{"/tokenizers/books/tokenizer.json"});
  EXPECT_EQ(view.request().tokenizer_path, "/tokenizers/books/tokenizer.json");
  child<QRadioButton>(view, "tokenizer_default")->click();
  EXPECT_EQ(chosen.back(), QString());

  view.show_error("The corpus folder /corpus/books does not exist");
  EXPECT_EQ(view.error_text(), "The corpus folder /corpus/books does not exist");
}

}  // namespace
}  // namespace minimind
