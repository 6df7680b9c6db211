// The Data view: corpus and tokenizer choices on the left, the preparation summary and the tokenized sample
// on the right. Token boundaries are shown by alternating background colours over the sample's characters.
#include "data_view.h"

#include <QAbstractTextDocumentLayout>
#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QEvent>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QHelpEvent>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMouseEvent>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QScrollBar>
#include <QSpinBox>
#include <QSplitter>
#include <QStringDecoder>
#include <QTextCursor>
#include <QTextDocument>
#include <QTextEdit>
#include <QToolTip>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <algorithm>

namespace minimind {

namespace {

// A few lines of the default corpus, English and Chinese, so the sample shows both scripts at once.
const char* const kDefaultSample =
    "The brain is a wonderful organ; it starts working the moment you get up\n"
    "in the morning, and does not stop until you get to school.\n"
    "漠漠秋云起，稍稍夜寒生。\n"
    "-- 白居易《微雨夜行》";

// Two light backgrounds that dark text reads well on, alternating from token to token.
const QColor kTokenColours[2] = {QColor(0xcf, 0xe3, 0xff), QColor(0xff, 0xe2, 0xa8)};

QString number(qint64 value) {
  return QLocale().toString(value);
}

// The bytes of a token as readable text: the characters, with white space made visible, or the hex bytes
// when the token holds part of a character.
QString token_text(std::string_view bytes) {
  QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
  QString text = decoder(QByteArrayView(bytes.data(), static_cast<qsizetype>(bytes.size())));
  if (decoder.hasError()) {
    QStringList hex;
    for (unsigned char byte : bytes) hex << QString("%1").arg(byte, 2, 16, QChar('0'));
    return "bytes " + hex.join(' ') + " (part of a character)";
  }
  text.replace(' ', QChar(0x2423)).replace('\n', "\\n").replace('\t', "\\t").replace('\r', "\\r");
  return "\"" + text + "\"";
}

}  // namespace

DataView::DataView(QWidget* parent) : QWidget(parent) {
  auto* left = new QWidget(this);
  auto* left_layout = new QVBoxLayout(left);
  choices_ = new QWidget(left);
  auto* choices_layout = new QVBoxLayout(choices_);
  choices_layout->setContentsMargins(0, 0, 0, 0);
  choices_layout->addWidget(build_corpus_group());
  choices_layout->addWidget(build_tokenizer_group());
  left_layout->addWidget(choices_);

  auto* buttons = new QHBoxLayout;
  train_button_ = new QPushButton("Train tokenizer", left);
  train_button_->setObjectName("train_tokenizer_button");
  train_button_->setToolTip(
      "Train a byte-level BPE tokenizer of the chosen size on the chosen corpus and write "
      "tokenizer.json and tokenizer_config.json into the output folder");
  prepare_button_ = new QPushButton("Prepare data", left);
  prepare_button_->setObjectName("prepare_button");
  prepare_button_->setToolTip(
      "Tokenize the corpus into train and validation token shards for training (a "
      "choice already prepared is reused at once)");
  cancel_button_ = new QPushButton("Cancel", left);
  cancel_button_->setObjectName("cancel_button");
  cancel_button_->setToolTip("Stop the running job; it leaves no partial shard or tokenizer behind");
  buttons->addWidget(train_button_);
  buttons->addWidget(prepare_button_);
  buttons->addStretch();
  buttons->addWidget(cancel_button_);
  left_layout->addLayout(buttons);

  progress_bar_ = new QProgressBar(left);
  progress_bar_->setObjectName("progress_bar");
  progress_bar_->setRange(0, 1000);
  progress_bar_->setValue(0);
  progress_bar_->setTextVisible(true);
  progress_bar_->setFormat("%p%");
  stage_label_ = new QLabel("Idle", left);
  stage_label_->setObjectName("stage_label");
  error_label_ = new QLabel(left);
  error_label_->setObjectName("error_label");
  error_label_->setWordWrap(true);
  error_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  error_label_->setStyleSheet("QLabel { color: #b00020; }");
  error_label_->hide();
  left_layout->addWidget(progress_bar_);
  left_layout->addWidget(stage_label_);
  left_layout->addWidget(error_label_);
  left_layout->addStretch();

  auto* right = new QWidget(this);
  auto* right_layout = new QVBoxLayout(right);
  right_layout->addWidget(build_summary_group(), 2);
  right_layout->addWidget(build_sample_group(), 3);

  auto* splitter = new QSplitter(Qt::Horizontal, this);
  splitter->addWidget(left);
  splitter->addWidget(right);
  splitter->setStretchFactor(0, 2);
  splitter->setStretchFactor(1, 3);
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(splitter);

  connect(train_button_, &QPushButton::clicked, this, [this] {
    error_label_->hide();
    emit train_tokenizer_requested(request(), vocab_size(), tokenizer_output_dir());
  });
  connect(prepare_button_, &QPushButton::clicked, this, [this] {
    error_label_->hide();
    emit prepare_requested(request());
  });
  connect(cancel_button_, &QPushButton::clicked, this, &DataView::cancel_requested);

  set_sample_text(QString::fromUtf8(kDefaultSample));
  update_enabled_states();
}

QWidget* DataView::build_corpus_group() {
  auto* group = new QGroupBox("Corpus", this);
  auto* form = new QFormLayout(group);

  corpus_builtin_ = new QRadioButton("The built-in default corpus", group);
  corpus_builtin_->setObjectName("corpus_builtin");
  corpus_builtin_->setToolTip(
      "The lab's shipped corpus: short English and Chinese texts (pretrain.jsonl), or "
      "conversations for SFT (sft.jsonl)");
  corpus_folder_ = new QRadioButton("A folder of .txt files", group);
  corpus_folder_->setObjectName("corpus_folder");
  corpus_folder_->setToolTip(
      "Every .txt file under the folder, read as UTF-8 (or GB18030), cut into "
      "512-character chunks; pretraining only");
  corpus_jsonl_ = new QRadioButton("A JSONL file", group);
  corpus_jsonl_->setObjectName("corpus_jsonl");
  corpus_jsonl_->setToolTip(
      "One JSON object per line: {\"text\": ...} for pretraining, {\"conversations\": "
      "[{\"role\": ..., \"content\": ...}]} for SFT");
  auto* kinds = new QButtonGroup(group);
  for (QRadioButton* button : {corpus_builtin_, corpus_folder_, corpus_jsonl_}) {
    kinds->addButton(button);
    form->addRow(button);
  }
  corpus_builtin_->setChecked(true);

  auto* path_row = new QHBoxLayout;
  corpus_path_ = new QLineEdit(group);
  corpus_path_->setObjectName("corpus_path");
  corpus_path_->setPlaceholderText("folder or .jsonl file");
  corpus_path_->setToolTip("The corpus folder or JSONL file");
  corpus_browse_ = new QPushButton("Browse…", group);
  corpus_browse_->setToolTip("Choose the corpus folder or file");
  path_row->addWidget(corpus_path_);
  path_row->addWidget(corpus_browse_);
  form->addRow("Path:", path_row);

  mode_ = new QComboBox(group);
  mode_->setObjectName("mode");
  mode_->addItem("Pretraining (plain text)", "pretrain");
  mode_->addItem("Supervised fine-tuning (conversations)", "sft");
  mode_->setToolTip(
      "Pretraining documents are wrapped in <|im_start|> ... <|im_end|>; SFT conversations are "
      "rendered with the chat template and only the assistant's tokens count in the loss");
  form->addRow("Mode:", mode_);

  validation_percent_ = new QDoubleSpinBox(group);
  validation_percent_->setObjectName("validation_percent");
  validation_percent_->setRange(0.0, 50.0);
  validation_percent_->setDecimals(2);
  validation_percent_->setSingleStep(0.5);
  validation_percent_->setSuffix(" %");
  validation_percent_->setValue(1.0);
  validation_percent_->setToolTip(
      "Share of the documents held out for validation (chosen by a seeded hash, "
      "so the split is the same every time)");
  form->addRow("Validation:", validation_percent_);

  stop_at_bad_input_ = new QCheckBox("Stop at the first bad line", group);
  stop_at_bad_input_->setObjectName("stop_at_bad_input");
  stop_at_bad_input_->setToolTip(
      "Off: bad lines and files are skipped and listed in the summary. On: the job "
      "fails at the first one, naming its file and line");
  form->addRow(stop_at_bad_input_);

  connect(kinds, &QButtonGroup::buttonToggled, this, [this](QAbstractButton*, bool checked) {
    if (checked) update_enabled_states();
  });
  connect(corpus_browse_, &QPushButton::clicked, this, [this] {
    const QString start = corpus_path_->text().isEmpty() ? QDir::homePath() : corpus_path_->text();
    const QString path = corpus_folder_->isChecked()
                             ? QFileDialog::getExistingDirectory(this, "Corpus folder", start)
                             : QFileDialog::getOpenFileName(this, "Corpus JSONL file", start,
                                                            "JSON Lines (*.jsonl);;All files (*)");
    if (!path.isEmpty()) corpus_path_->setText(path);
  });
  return group;
}

QWidget* DataView::build_tokenizer_group() {
  auto* group = new QGroupBox("Tokenizer", this);
  auto* form = new QFormLayout(group);

  tokenizer_default_ = new QRadioButton("The default tokenizer", group);
  tokenizer_default_->setObjectName("tokenizer_default");
  tokenizer_default_->setToolTip(
      "The lab's 6400-token byte-level BPE tokenizer, trained on the default corpus");
  tokenizer_file_ = new QRadioButton("Load a tokenizer.json", group);
  tokenizer_file_->setObjectName("tokenizer_file");
  tokenizer_file_->setToolTip("A Hugging Face tokenizer.json with a byte-level BPE model");
  tokenizer_train_ = new QRadioButton("Train a new tokenizer", group);
  tokenizer_train_->setObjectName("tokenizer_train");
  tokenizer_train_->setToolTip("Train a byte-level BPE tokenizer on the chosen corpus");
  auto* kinds = new QButtonGroup(group);
  kinds->addButton(tokenizer_default_);
  kinds->addButton(tokenizer_file_);
  kinds->addButton(tokenizer_train_);
  tokenizer_default_->setChecked(true);
  form->addRow(tokenizer_default_);
  form->addRow(tokenizer_file_);

  auto* file_row = new QHBoxLayout;
  tokenizer_path_ = new QLineEdit(group);
  tokenizer_path_->setObjectName("tokenizer_path");
  tokenizer_path_->setPlaceholderText("tokenizer.json or its folder");
  tokenizer_browse_ = new QPushButton("Browse…", group);
  tokenizer_browse_->setToolTip("Choose a tokenizer.json");
  file_row->addWidget(tokenizer_path_);
  file_row->addWidget(tokenizer_browse_);
  form->addRow("File:", file_row);
  form->addRow(tokenizer_train_);

  vocab_size_ = new QSpinBox(group);
  vocab_size_->setObjectName("vocab_size");
  vocab_size_->setRange(259 + 3, 65536);  // 3 special tokens and 256 bytes are always there
  vocab_size_->setSingleStep(256);
  vocab_size_->setValue(6400);
  vocab_size_->setSuffix(" tokens");
  vocab_size_->setToolTip(
      "Vocabulary size, the 3 special tokens and the 256 byte tokens included; the model's "
      "vocab_size must match it");
  form->addRow("Vocabulary:", vocab_size_);

  auto* out_row = new QHBoxLayout;
  tokenizer_out_dir_ = new QLineEdit(group);
  tokenizer_out_dir_->setObjectName("tokenizer_out_dir");
  tokenizer_out_dir_->setPlaceholderText("folder for tokenizer.json and tokenizer_config.json");
  tokenizer_out_browse_ = new QPushButton("Browse…", group);
  tokenizer_out_browse_->setToolTip("Choose the output folder");
  out_row->addWidget(tokenizer_out_dir_);
  out_row->addWidget(tokenizer_out_browse_);
  form->addRow("Output:", out_row);

  connect(kinds, &QButtonGroup::buttonToggled, this, [this](QAbstractButton* button, bool checked) {
    if (!checked) return;
    update_enabled_states();
    if (button != tokenizer_train_) announce_tokenizer_choice();
  });
  connect(tokenizer_path_, &QLineEdit::editingFinished, this, [this] {
    if (tokenizer_file_->isChecked()) announce_tokenizer_choice();
  });
  connect(tokenizer_browse_, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, "Tokenizer", tokenizer_path_->text(),
                                                      "Tokenizer (tokenizer.json *.json);;All files (*)");
    if (path.isEmpty()) return;
    tokenizer_path_->setText(path);
    announce_tokenizer_choice();
  });
  connect(tokenizer_out_browse_, &QPushButton::clicked, this, [this] {
    const QString path =
        QFileDialog::getExistingDirectory(this, "Tokenizer output folder", tokenizer_out_dir_->text());
    if (!path.isEmpty()) tokenizer_out_dir_->setText(path);
  });
  return group;
}

QWidget* DataView::build_summary_group() {
  auto* group = new QGroupBox("Prepared data", this);
  auto* layout = new QVBoxLayout(group);
  auto* form = new QFormLayout;
  for (const char* field : {"Documents", "Tokens", "Bytes per token", "Text", "Skipped",
                            "Empty after tokenizing", "Time", "Shards"}) {
    auto* value = new QLabel("–", group);
    value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    value->setWordWrap(true);
    form->addRow(QString(field) + ":", value);
    summary_values_.insert(field, value);
  }
  summary_values_["Bytes per token"]->setToolTip(
      "UTF-8 bytes of the text per token (without the added bos/eos): higher means the tokenizer compresses "
      "the corpus better");
  layout->addLayout(form);
  skipped_ = new QTreeWidget(group);
  skipped_->setObjectName("skipped_list");
  skipped_->setColumnCount(2);
  skipped_->setHeaderLabels({"Where", "Reason"});
  skipped_->setRootIsDecorated(true);
  skipped_->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  skipped_->setToolTip("Skipped inputs: the count per reason, and the first ones with their file and line");
  layout->addWidget(skipped_);
  return group;
}

QWidget* DataView::build_sample_group() {
  auto* group = new QGroupBox("Tokenization sample", this);
  auto* layout = new QVBoxLayout(group);
  sample_input_ = new QPlainTextEdit(group);
  sample_input_->setObjectName("sample_input");
  sample_input_->setToolTip("Edit the sample: it is tokenized as you type");
  sample_input_->setMaximumHeight(90);
  sample_view_ = new QTextEdit(group);
  sample_view_->setObjectName("sample_view");
  sample_view_->setReadOnly(true);
  sample_view_->setMouseTracking(true);
  sample_view_->viewport()->setMouseTracking(true);
  sample_view_->viewport()->installEventFilter(this);
  sample_view_->setToolTip({});
  sample_stats_ = new QLabel(group);
  sample_stats_->setObjectName("sample_stats");
  token_readout_ = new QLabel("Hover a token for its id and text", group);
  token_readout_->setObjectName("token_readout");
  token_readout_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(new QLabel("Text:", group));
  layout->addWidget(sample_input_);
  layout->addWidget(new QLabel("Tokens (alternating colours mark the boundaries):", group));
  layout->addWidget(sample_view_, 1);
  layout->addWidget(sample_stats_);
  layout->addWidget(token_readout_);
  connect(sample_input_, &QPlainTextEdit::textChanged, this, &DataView::retokenize_sample);
  return group;
}

void DataView::update_enabled_states() {
  const bool corpus_has_path = !corpus_builtin_->isChecked();
  corpus_path_->setEnabled(corpus_has_path);
  corpus_browse_->setEnabled(corpus_has_path);
  tokenizer_path_->setEnabled(tokenizer_file_->isChecked());
  tokenizer_browse_->setEnabled(tokenizer_file_->isChecked());
  for (QWidget* widget :
       std::initializer_list<QWidget*>{vocab_size_, tokenizer_out_dir_, tokenizer_out_browse_})
    widget->setEnabled(tokenizer_train_->isChecked());
  choices_->setEnabled(!busy_);
  train_button_->setEnabled(!busy_ && tokenizer_train_->isChecked());
  prepare_button_->setEnabled(!busy_);
  cancel_button_->setEnabled(busy_);
}

DataRequest DataView::request() const {
  DataRequest request;
  request.corpus_kind = corpus_folder_->isChecked()  ? DataRequest::CorpusKind::folder
                        : corpus_jsonl_->isChecked() ? DataRequest::CorpusKind::jsonl
                                                     : DataRequest::CorpusKind::builtin_default;
  if (request.corpus_kind != DataRequest::CorpusKind::builtin_default)
    request.corpus_path = corpus_path_->text().trimmed();
  if (tokenizer_file_->isChecked()) request.tokenizer_path = tokenizer_path_->text().trimmed();
  if (tokenizer_train_->isChecked() && !tokenizer_output_dir().isEmpty())
    request.tokenizer_path = QDir(tokenizer_output_dir()).filePath("tokenizer.json");
  request.mode = mode_->currentData().toString();
  request.validation_fraction = validation_percent_->value() / 100.0;
  request.stop_at_bad_input = stop_at_bad_input_->isChecked();
  return request;
}

void DataView::set_request(const DataRequest& request) {
  switch (request.corpus_kind) {
    case DataRequest::CorpusKind::builtin_default:
      corpus_builtin_->setChecked(true);
      break;
    case DataRequest::CorpusKind::folder:
      corpus_folder_->setChecked(true);
      break;
    case DataRequest::CorpusKind::jsonl:
      corpus_jsonl_->setChecked(true);
      break;
  }
  corpus_path_->setText(request.corpus_path);
  const int mode = mode_->findData(request.mode);
  mode_->setCurrentIndex(mode >= 0 ? mode : 0);
  validation_percent_->setValue(request.validation_fraction * 100.0);
  stop_at_bad_input_->setChecked(request.stop_at_bad_input);
  tokenizer_path_->setText(request.tokenizer_path);
  if (request.tokenizer_path.isEmpty())
    tokenizer_default_->setChecked(true);
  else
    tokenizer_file_->setChecked(true);
  update_enabled_states();
}

int DataView::vocab_size() const {
  return vocab_size_->value();
}
QString DataView::tokenizer_output_dir() const {
  return tokenizer_out_dir_->text().trimmed();
}

void DataView::announce_tokenizer_choice() {
  emit tokenizer_chosen(tokenizer_file_->isChecked() ? tokenizer_path_->text().trimmed() : QString());
}

void DataView::show_trained_tokenizer(const QString& tokenizer_json_path) {
  tokenizer_path_->setText(tokenizer_json_path);
  if (tokenizer_file_->isChecked())
    announce_tokenizer_choice();
  else
    tokenizer_file_->setChecked(true);  // announces through the button group
  stage_label_->setText("Tokenizer written to " + tokenizer_json_path);
}

void DataView::set_busy(bool busy) {
  busy_ = busy;
  if (busy) error_label_->hide();
  update_enabled_states();
}

void DataView::show_progress(const QString& stage, qint64 done, qint64 total) {
  if (total <= 0) {
    progress_bar_->setRange(0, 0);  // unknown length: a busy indicator
    stage_label_->setText(stage + "…");
    return;
  }
  progress_bar_->setRange(0, 1000);
  progress_bar_->setValue(static_cast<int>(std::clamp<qint64>(done * 1000 / total, 0, 1000)));
  stage_label_->setText(
      QString("%1: %2 of %3 (%4 %)")
          .arg(stage, number(done), number(total))
          .arg(QString::number(100.0 * static_cast<double>(done) / static_cast<double>(total), 'f', 1)));
}

void DataView::show_error(const QString& message) {
  error_label_->setText(message);
  error_label_->show();
  stage_label_->setText("Stopped by an error");
  progress_bar_->setRange(0, 1000);
  progress_bar_->setValue(0);
}

void DataView::show_summary(const PrepareSummary& s) {
  error_label_->hide();
  progress_bar_->setRange(0, 1000);
  progress_bar_->setValue(1000);
  stage_label_->setText("Prepared");
  const qint64 read = s.source.documents + (s.validation_source ? s.validation_source->documents : 0);
  summary_values_["Documents"]->setText(
      QString("%1 read: %2 train, %3 validation")
          .arg(number(read), number(s.train_documents), number(s.validation_documents)));
  summary_values_["Tokens"]->setText(
      QString("%1 train, %2 validation").arg(number(s.train_tokens), number(s.validation_tokens)));
  summary_values_["Bytes per token"]->setText(QString::number(s.bytes_per_token(), 'f', 3));
  summary_values_["Text"]->setText(
      QString("%1 MB of UTF-8 text, %2 tokens")
          .arg(QString::number(s.text_bytes / 1e6, 'f', 2), number(s.text_tokens)));
  const qint64 skipped = s.source.skipped() + (s.validation_source ? s.validation_source->skipped() : 0);
  summary_values_["Skipped"]->setText(skipped ? number(skipped) + (skipped == 1 ? " input" : " inputs")
                                              : QString("none"));
  summary_values_["Empty after tokenizing"]->setText(number(s.empty_after_tokenizing) + " documents");
  summary_values_["Time"]->setText(QString::number(s.seconds, 'f', 1) + " s");
  summary_values_["Shards"]->setText(QString::fromStdString(s.train_shard.string()) + "\n" +
                                     QString::fromStdString(s.validation_shard.string()));

  skipped_->clear();
  auto add_report = [this](const SourceReport& report, const QString& which) {
    if (!report.skipped()) return;
    auto* reasons = new QTreeWidgetItem(skipped_, {which + "by reason", ""});
    for (const auto& [reason, count] : report.skipped_by_reason)
      new QTreeWidgetItem(
          reasons, {number(count) + (count == 1 ? " input" : " inputs"), QString::fromStdString(reason)});
    auto* issues =
        new QTreeWidgetItem(skipped_, {which + QString("first %1").arg(report.first_issues.size()), ""});
    for (const InputIssue& issue : report.first_issues) {
      const QString where =
          QString::fromStdString(issue.file) + (issue.line > 0 ? QString(":%1").arg(issue.line) : QString());
      auto* item = new QTreeWidgetItem(issues, {where, QString::fromStdString(issue.reason)});
      item->setToolTip(1, QString::fromStdString(issue.reason));
    }
  };
  add_report(s.source, "Skipped ");
  if (s.validation_source) add_report(*s.validation_source, "Validation input skipped ");
  skipped_->expandAll();
}

QString DataView::summary_field(const QString& field) const {
  const QLabel* label = summary_values_.value(field);
  return label ? label->text() : QString();
}

QStringList DataView::skipped_lines() const {
  QStringList lines;
  for (int top = 0; top < skipped_->topLevelItemCount(); ++top) {
    const QTreeWidgetItem* group = skipped_->topLevelItem(top);
    for (int row = 0; row < group->childCount(); ++row)
      lines << group->child(row)->text(0) + ": " + group->child(row)->text(1);
  }
  return lines;
}

QString DataView::stage_text() const {
  return stage_label_->text();
}
QString DataView::error_text() const {
  return error_label_->isHidden() ? QString() : error_label_->text();
}

void DataView::set_tokenizer(std::shared_ptr<const Tokenizer> tokenizer) {
  tokenizer_ = std::move(tokenizer);
  retokenize_sample();
}

void DataView::set_sample_text(const QString& text) {
  sample_input_->setPlainText(text);  // retokenizes through textChanged
}

QString DataView::sample_text() const {
  return sample_input_->toPlainText();
}

void DataView::retokenize_sample() {
  sample_tokens_.clear();
  sample_view_->clear();
  token_readout_->setText("Hover a token for its id and text");
  const QString text = sample_text();
  if (!tokenizer_) {
    sample_view_->setPlainText(text);
    sample_stats_->setText("No tokenizer loaded: choose one to see the sample's tokens");
    return;
  }
  const std::string utf8 = text.toStdString();
  std::vector<int32_t> ids;
  std::vector<std::size_t> byte_ends;
  tokenizer_->encode_append(utf8, ids, byte_ends);

  // UTF-16 offset of each UTF-8 byte offset; an offset inside a character maps to that character's end.
  std::vector<int> char_at_byte(utf8.size() + 1, 0);
  {
    size_t byte = 0;
    for (qsizetype unit = 0; unit < text.size();) {
      const bool pair =
          text.at(unit).isHighSurrogate() && unit + 1 < text.size() && text.at(unit + 1).isLowSurrogate();
      const char32_t code =
          pair ? QChar::surrogateToUcs4(text.at(unit), text.at(unit + 1)) : text.at(unit).unicode();
      const size_t length = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
      const int units = pair ? 2 : 1;
      char_at_byte[byte] = static_cast<int>(unit);
      for (size_t inside = 1; inside < length && byte + inside <= utf8.size(); ++inside)
        char_at_byte[byte + inside] = static_cast<int>(unit + units);
      byte += length;
      unit += units;
    }
    if (byte <= utf8.size()) char_at_byte[std::min(byte, utf8.size())] = static_cast<int>(text.size());
  }

  int begin = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int end = std::max(begin, char_at_byte[std::min(byte_ends[i], utf8.size())]);
    sample_tokens_.push_back({ids[i], begin, end});
    begin = end;
  }
  if (!sample_tokens_.empty()) sample_tokens_.back().end = static_cast<int>(text.size());

  QTextCursor cursor(sample_view_->document());
  int colour = 0;
  for (size_t i = 0; i < sample_tokens_.size(); ++i) {
    const SampleToken& token = sample_tokens_[i];
    if (token.begin == token.end) continue;
    QTextCharFormat format;
    format.setBackground(kTokenColours[colour]);
    format.setToolTip(sample_token_tooltip(static_cast<int>(i)));
    format.setProperty(QTextFormat::UserProperty, static_cast<int>(i));
    const QString piece = text.mid(token.begin, token.end - token.begin);
    cursor.insertText(piece, format);
    // A line break shows no background, so a token of line breaks alone does not take a colour turn.
    if (!piece.trimmed().isEmpty() || piece.contains(' ') || piece.contains('\t')) colour ^= 1;
  }
  sample_view_->moveCursor(QTextCursor::Start);
  sample_stats_->setText(sample_statistics());
}

QString DataView::sample_statistics() const {
  if (!tokenizer_) return sample_stats_->text();
  const QString text = sample_text();
  const qint64 bytes = text.toUtf8().size();
  const qint64 tokens = static_cast<qint64>(sample_tokens_.size());
  return QString("%1 tokens for %2 characters (%3 UTF-8 bytes): %4 bytes per token")
      .arg(number(tokens), number(text.size()), number(bytes),
           tokens ? QString::number(static_cast<double>(bytes) / tokens, 'f', 2) : QString("–"));
}

std::vector<std::pair<int, int>> DataView::sample_token_spans() const {
  std::vector<std::pair<int, int>> spans;
  for (const SampleToken& token : sample_tokens_) spans.emplace_back(token.begin, token.end);
  return spans;
}

std::vector<int32_t> DataView::sample_token_ids() const {
  std::vector<int32_t> ids;
  for (const SampleToken& token : sample_tokens_) ids.push_back(token.id);
  return ids;
}

QString DataView::sample_token_tooltip(int token_index) const {
  if (!tokenizer_ || token_index < 0 || token_index >= static_cast<int>(sample_tokens_.size())) return {};
  auto describe = [this](int index) {
    const int32_t id = sample_tokens_[index].id;
    return QString("token %1 of %2: id %3, %4%5")
        .arg(index + 1)
        .arg(sample_tokens_.size())
        .arg(id)
        .arg(token_text(tokenizer_->token_bytes(id)))
        .arg(tokenizer_->is_special(id) ? " (special)" : "");
  };
  QString tip = describe(token_index);
  // Tokens that hold only the rest of a character have no characters of their own: name them here.
  for (int next = token_index + 1; next < static_cast<int>(sample_tokens_.size()) &&
                                   sample_tokens_[next].begin == sample_tokens_[next].end;
       ++next)
    tip += "\n" + describe(next);
  return tip;
}

int DataView::token_at_position(int position) const {
  auto it = std::upper_bound(sample_tokens_.begin(), sample_tokens_.end(), position,
                             [](int value, const SampleToken& token) { return value < token.end; });
  if (it == sample_tokens_.end() || position < it->begin) return -1;
  return static_cast<int>(it - sample_tokens_.begin());
}

bool DataView::eventFilter(QObject* watched, QEvent* event) {
  if (watched == sample_view_->viewport() &&
      (event->type() == QEvent::ToolTip || event->type() == QEvent::MouseMove)) {
    const QPoint point = event->type() == QEvent::ToolTip
                             ? static_cast<QHelpEvent*>(event)->pos()
                             : static_cast<QMouseEvent*>(event)->position().toPoint();
    const QPointF in_document(point.x() + sample_view_->horizontalScrollBar()->value(),
                              point.y() + sample_view_->verticalScrollBar()->value());
    const int position = sample_view_->document()->documentLayout()->hitTest(in_document, Qt::ExactHit);
    const int token = position >= 0 ? token_at_position(position) : -1;
    const QString tip = sample_token_tooltip(token);
    if (event->type() == QEvent::ToolTip) {
      if (tip.isEmpty())
        QToolTip::hideText();
      else
        QToolTip::showText(static_cast<QHelpEvent*>(event)->globalPos(), tip, sample_view_->viewport());
      return true;
    }
    if (!tip.isEmpty()) token_readout_->setText(tip.section('\n', 0, 0));
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace minimind
