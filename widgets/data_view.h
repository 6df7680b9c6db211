// The Data view: choose a corpus and a tokenizer, ask for tokenizer training or data preparation, watch the
// progress, read the summary of what was prepared, and see a sample text cut into tokens. It only emits
// requests and shows the values pushed into it; it knows nothing of the worker that does the job.
#pragma once

#include <QHash>
#include <QString>
#include <QStringList>
#include <QWidget>
#include <memory>
#include <utility>
#include <vector>

#include "data/prepare.h"
#include "data_request.h"
#include "tokenizer/tokenizer.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QRadioButton;
class QSpinBox;
class QTextEdit;
class QTreeWidget;

namespace minimind {

class DataView : public QWidget {
  Q_OBJECT
 public:
  explicit DataView(QWidget* parent = nullptr);

  // The corpus and tokenizer choices as they stand. With "train a new tokenizer" chosen, tokenizer_path is
  // the tokenizer.json that training writes into the output folder.
  DataRequest request() const;
  void set_request(const DataRequest& request);  // an empty tokenizer_path selects the default tokenizer
  int vocab_size() const;                        // for a new tokenizer
  QString tokenizer_output_dir() const;          // for a new tokenizer

  // The tokenizer the sample is cut with (null: the sample shows a note instead).
  void set_tokenizer(std::shared_ptr<const Tokenizer> tokenizer);
  void set_sample_text(const QString& text);
  QString sample_text() const;

  void show_progress(const QString& stage, qint64 done, qint64 total);  // total <= 0: unknown length
  void show_summary(const PrepareSummary& summary);
  void show_error(const QString& message);
  // A tokenizer training ended: select "load a tokenizer.json" with its file, and announce the choice.
  void show_trained_tokenizer(const QString& tokenizer_json_path);
  void set_busy(bool busy);  // while a job runs: choices and job buttons disabled, Cancel enabled

  // What is shown, for tests and the window.
  QString sample_html() const;
  // The characters (UTF-16 offsets into sample_text(), [begin, end)) each token of the sample is shown over,
  // one pair per token, in order; together they cover the text. A token that ends inside a character shows
  // over that whole character, so the next token of the same character shows over nothing (begin == end).
  std::vector<std::pair<int, int>> sample_token_spans() const;
  std::vector<int32_t> sample_token_ids() const;
  QString sample_token_tooltip(int token_index) const;  // what hovering the token shows
  QString sample_statistics() const;                    // "12 tokens for 40 characters (52 bytes): ..."
  QString summary_field(const QString& field) const;    // the shown text of a summary row
  QStringList skipped_lines() const;                    // "where: reason" for every row of the skipped list
  QString stage_text() const;
  QString error_text() const;  // empty when no error is shown

 signals:
  void prepare_requested(const minimind::DataRequest& request);
  void train_tokenizer_requested(const minimind::DataRequest& corpus, int vocab_size, const QString& out_dir);
  void cancel_requested();
  void tokenizer_chosen(const QString& tokenizer_json_path);  // empty: the default tokenizer

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  struct SampleToken {
    int32_t id = 0;
    int begin = 0, end = 0;  // UTF-16 offsets into the sample text
  };

  QWidget* build_corpus_group();
  QWidget* build_tokenizer_group();
  QWidget* build_summary_group();
  QWidget* build_sample_group();
  void update_enabled_states();
  void retokenize_sample();
  int token_at_position(int position) const;  // the token shown over a character, or -1
  void announce_tokenizer_choice();

  // Corpus.
  QRadioButton* corpus_builtin_;
  QRadioButton* corpus_folder_;
  QRadioButton* corpus_jsonl_;
  QLineEdit* corpus_path_;
  QPushButton* corpus_browse_;
  QComboBox* mode_;
  QDoubleSpinBox* validation_percent_;
  QCheckBox* stop_at_bad_input_;
  // Tokenizer.
  QRadioButton* tokenizer_default_;
  QRadioButton* tokenizer_file_;
  QRadioButton* tokenizer_train_;
  QLineEdit* tokenizer_path_;
  QPushButton* tokenizer_browse_;
  QSpinBox* vocab_size_;
  QLineEdit* tokenizer_out_dir_;
  QPushButton* tokenizer_out_browse_;
  // Jobs.
  QPushButton* train_button_;
  QPushButton* prepare_button_;
  QPushButton* cancel_button_;
  QProgressBar* progress_bar_;
  QLabel* stage_label_;
  QLabel* error_label_;
  QWidget* choices_;  // everything a running job must not change
  // Summary.
  QHash<QString, QLabel*> summary_values_;
  QTreeWidget* skipped_;
  // Sample.
  QPlainTextEdit* sample_input_;
  QTextEdit* sample_view_;
  QLabel* sample_stats_;
  QLabel* token_readout_;

  std::shared_ptr<const Tokenizer> tokenizer_;
  std::vector<SampleToken> sample_tokens_;
  bool busy_ = false;
};

}  // namespace minimind
