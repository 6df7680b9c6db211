// The Generate view: where the model comes from (the run being trained, or a model directory), completion or
// chat mode, the prompt, the sampling settings as sliders, and the output streaming in token by token; hovering
// a generated token shows its top candidates with probabilities. Values are pushed in through slots and
// requests go out as signals; the view knows nothing of the controller that serves them.
#pragma once

#include <QString>
#include <QWidget>

#include <functional>
#include <vector>

#include "generation_request.h"

class QComboBox;
class QDoubleSpinBox;
class QGridLayout;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSlider;
class QSpinBox;
class QTextEdit;

namespace minimind {

class GenerateView : public QWidget {
  Q_OBJECT
 public:
  explicit GenerateView(QWidget* parent = nullptr);

  // The settings as they stand, with the finished chat turns in chat mode.
  GenerationRequest request() const;
  QString prompt() const;
  void set_prompt(const QString& prompt);
  bool chat_mode() const;
  void set_chat_mode(bool chat);  // a change of mode starts a new conversation
  const std::vector<ChatTurn>& history() const { return history_; }
  bool generating() const { return generating_; }

  // The text of the current generation (the pieces appended since Generate was last pressed).
  QString output_text() const;
  // Tokens shown in the output since it was last cleared (in chat mode: over the whole conversation).
  int token_count() const { return static_cast<int>(tokens_.size()); }
  // The hover text of token `token_index` (from 0): the token and its top candidates with probabilities;
  // empty for an index out of range.
  QString candidates_text(int token_index) const;
  // The token covering the character at `position` in the output document, or -1.
  int token_at(int position) const;
  QString status_text() const;
  QString model_description() const;

  // Replaces the directory dialog of "Load model directory..." (embedding, tests): returns the chosen
  // directory, empty when cancelled.
  void set_directory_chooser(std::function<QString()> chooser);

 public slots:
  void append_token(int id, const QString& piece, const std::vector<std::pair<QString, double>>& candidates);
  void finish(const QString& reason, double tokens_per_s);
  void show_error(const QString& message);
  void set_model_description(const QString& description);  // empty: no model loaded
  void clear_history();

 signals:
  void generate_requested(const QString& prompt, const minimind::GenerationRequest& request);
  void stop_requested();
  void use_training_model_requested();
  void load_model_requested(const QString& dir);

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  struct ShownToken {
    int id = 0;
    QString piece;
    int start = 0;  // position of its first character in the output document
    TokenCandidates candidates;
  };
  // A slider with a spin box beside it showing the same value (slider steps = value * scale).
  struct SliderControl {
    QSlider* slider = nullptr;
    QDoubleSpinBox* box = nullptr;
    double scale = 1;
    double value() const;
  };
  SliderControl add_slider(QGridLayout* grid, int row, const QString& label, const QString& name, double minimum,
                           double maximum, double scale, int decimals, double value, const QString& tip);
  void start_generation();
  void choose_model_directory();
  void update_controls();
  void set_status(const QString& text, bool error);
  void append_text(const QString& text, bool bold, bool dim);

  QPushButton* use_training_button_;
  QPushButton* load_button_;
  QLabel* model_label_;
  QComboBox* mode_box_;
  QPushButton* clear_history_button_;
  QPlainTextEdit* prompt_edit_;
  SliderControl temperature_, top_k_, top_p_, repetition_penalty_, max_tokens_;
  QSpinBox* seed_box_;
  QPushButton* generate_button_;
  QPushButton* stop_button_;
  QTextEdit* output_;
  QLabel* status_label_;

  std::function<QString()> directory_chooser_;
  QString model_description_;
  bool generating_ = false;
  std::vector<ShownToken> tokens_;
  int generation_first_token_ = 0;  // index in tokens_ of the current generation's first token
  std::vector<ChatTurn> history_;
  QString pending_message_;  // the chat message being answered
};

}  // namespace minimind
