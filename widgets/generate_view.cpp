// The Generate view's controls, the streaming output with its per-token spans, and the hover read-out.
#include "generate_view.h"

#include <QAbstractTextDocumentLayout>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QEvent>
#include <QFileDialog>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QScrollBar>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QTextCursor>
#include <QTextEdit>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace minimind {

namespace {

// Token text with its white space made visible, quoted: "\n" -> ↵, a space stays a space inside the quotes.
QString visible(const QString& text) {
  QString shown = text;
  shown.replace('\n', QString::fromUtf8("↵")).replace('\t', QString::fromUtf8("→")).replace('\r', "\\r");
  return "\"" + shown + "\"";
}

// Alternating backgrounds make the token boundaries visible.
const QColor kTokenTints[2] = {QColor(232, 240, 254), QColor(254, 243, 224)};

}  // namespace

double GenerateView::SliderControl::value() const { return box->value(); }

GenerateView::GenerateView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);

  // Where the model comes from.
  auto* source_box = new QGroupBox(tr("Model"), this);
  auto* source_layout = new QHBoxLayout(source_box);
  use_training_button_ = new QPushButton(tr("Use the model being trained"), source_box);
  use_training_button_->setObjectName("use_training_model_button");
  use_training_button_->setToolTip(tr("Generate from a snapshot of the weights the current run is training"));
  load_button_ = new QPushButton(tr("Load model directory..."), source_box);
  load_button_->setObjectName("load_model_button");
  load_button_->setToolTip(tr("A folder with config.json and model.safetensors (and optionally tokenizer.json)"));
  model_label_ = new QLabel(tr("No model loaded"), source_box);
  model_label_->setObjectName("model_label");
  model_label_->setWordWrap(true);
  model_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  source_layout->addWidget(use_training_button_);
  source_layout->addWidget(load_button_);
  source_layout->addWidget(model_label_, 1);
  layout->addWidget(source_box);

  // Mode and prompt.
  auto* mode_row = new QHBoxLayout;
  mode_box_ = new QComboBox(this);
  mode_box_->setObjectName("mode_box");
  mode_box_->addItem(tr("Completion"));
  mode_box_->addItem(tr("Chat"));
  mode_box_->setToolTip(tr("Completion continues the prompt; chat sends it as your message in the chat format "
                           "(for SFT models) with the conversation so far. Changing the mode starts afresh."));
  clear_history_button_ = new QPushButton(tr("Clear history"), this);
  clear_history_button_->setObjectName("clear_history_button");
  clear_history_button_->setToolTip(tr("Forget the conversation so far"));
  mode_row->addWidget(new QLabel(tr("Mode:"), this));
  mode_row->addWidget(mode_box_);
  mode_row->addWidget(clear_history_button_);
  mode_row->addStretch(1);
  layout->addLayout(mode_row);

  prompt_edit_ = new QPlainTextEdit(this);
  prompt_edit_->setObjectName("prompt_edit");
  prompt_edit_->setPlaceholderText(tr("A prompt for the model to continue (Ctrl+Enter generates)"));
  prompt_edit_->setMaximumHeight(90);
  layout->addWidget(prompt_edit_);

  // Sampling settings.
  auto* settings = new QGroupBox(tr("Sampling"), this);
  auto* grid = new QGridLayout(settings);
  const GenerationRequest defaults;
  temperature_ = add_slider(grid, 0, tr("Temperature"), "temperature", 0, 2, 100, 2, defaults.temperature,
                            tr("Divides the logits before sampling; higher is more random, 0 picks the most "
                               "likely token every time (greedy)"));
  top_k_ = add_slider(grid, 1, tr("Top-k"), "top_k", 0, 200, 1, 0, defaults.top_k,
                      tr("Sample only among the k most likely tokens; 0 turns the filter off"));
  top_p_ = add_slider(grid, 2, tr("Top-p"), "top_p", 0.01, 1, 100, 2, defaults.top_p,
                      tr("Sample only among the most likely tokens whose probabilities add up to p (nucleus); "
                         "1 turns the filter off"));
  repetition_penalty_ =
      add_slider(grid, 3, tr("Repetition penalty"), "repetition_penalty", 1, 2, 100, 2, defaults.repetition_penalty,
                 tr("Makes tokens already in the text less likely (logit divided by the penalty); 1 is off"));
  max_tokens_ = add_slider(grid, 4, tr("Max new tokens"), "max_tokens", 1, 1024, 1, 0, defaults.max_new_tokens,
                           tr("The most tokens generated (fewer when the model ends the text or its context is "
                              "full)"));
  seed_box_ = new QSpinBox(settings);
  seed_box_->setObjectName("seed_box");
  seed_box_->setRange(0, 2147483647);
  seed_box_->setValue(static_cast<int>(defaults.seed));
  seed_box_->setToolTip(tr("The random seed of sampling: the same seed and settings give the same text"));
  grid->addWidget(new QLabel(tr("Seed"), settings), 5, 0);
  grid->addWidget(seed_box_, 5, 2);
  grid->setColumnStretch(1, 1);
  layout->addWidget(settings);

  auto* buttons = new QHBoxLayout;
  generate_button_ = new QPushButton(tr("Generate"), this);
  generate_button_->setObjectName("generate_button");
  generate_button_->setDefault(true);
  stop_button_ = new QPushButton(tr("Stop"), this);
  stop_button_->setObjectName("stop_button");
  stop_button_->setToolTip(tr("Stop after the token being generated"));
  generate_button_->setToolTip(tr("Generate from the prompt (Ctrl+Return)"));
  // Ctrl+Return generates from anywhere in the view, as in chat playgrounds; Escape stops.
  auto* generate_shortcut = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return), this);
  generate_shortcut->setContext(Qt::WindowShortcut);  // active while this view is the visible tab
  connect(generate_shortcut, &QShortcut::activated, this, [this] {
    if (generate_button_->isEnabled()) generate_button_->click();
  });
  auto* stop_shortcut = new QShortcut(QKeySequence(Qt::Key_Escape), this);
  stop_shortcut->setContext(Qt::WindowShortcut);
  connect(stop_shortcut, &QShortcut::activated, this, [this] {
    if (stop_button_->isEnabled()) stop_button_->click();
  });
  buttons->addWidget(generate_button_);
  buttons->addWidget(stop_button_);
  buttons->addStretch(1);
  layout->addLayout(buttons);

  output_ = new QTextEdit(this);
  output_->setObjectName("output_edit");
  output_->setReadOnly(true);
  output_->setPlaceholderText(tr("The generated text appears here; hover a token to see its top candidates"));
  output_->viewport()->installEventFilter(this);
  output_->viewport()->setMouseTracking(true);
  layout->addWidget(output_, 1);

  status_label_ = new QLabel(this);
  status_label_->setObjectName("status_label");
  status_label_->setWordWrap(true);
  status_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(status_label_);

  connect(use_training_button_, &QPushButton::clicked, this, [this] { emit use_training_model_requested(); });
  connect(load_button_, &QPushButton::clicked, this, [this] { choose_model_directory(); });
  connect(mode_box_, &QComboBox::currentIndexChanged, this, [this] {
    clear_history();
    prompt_edit_->setPlaceholderText(chat_mode() ? tr("Your message (Ctrl+Enter sends)")
                                                 : tr("A prompt for the model to continue (Ctrl+Enter generates)"));
  });
  connect(clear_history_button_, &QPushButton::clicked, this, [this] { clear_history(); });
  connect(generate_button_, &QPushButton::clicked, this, [this] { start_generation(); });
  connect(stop_button_, &QPushButton::clicked, this, [this] { emit stop_requested(); });
  update_controls();
}

GenerateView::SliderControl GenerateView::add_slider(QGridLayout* grid, int row, const QString& label,
                                                     const QString& name, double minimum, double maximum,
                                                     double scale, int decimals, double value,
                                                     const QString& tip) {
  SliderControl control;
  control.scale = scale;
  control.slider = new QSlider(Qt::Horizontal, this);
  control.slider->setObjectName(name + "_slider");
  control.slider->setRange(static_cast<int>(std::lround(minimum * scale)), static_cast<int>(std::lround(maximum * scale)));
  control.box = new QDoubleSpinBox(this);
  control.box->setObjectName(name + "_box");
  control.box->setRange(minimum, maximum);
  control.box->setDecimals(decimals);
  control.box->setSingleStep(1.0 / scale);
  control.box->setValue(value);
  control.slider->setValue(static_cast<int>(std::lround(value * scale)));
  for (QWidget* widget : {static_cast<QWidget*>(control.slider), static_cast<QWidget*>(control.box)})
    widget->setToolTip(tip);
  auto* caption = new QLabel(label, this);
  caption->setToolTip(tip);
  grid->addWidget(caption, row, 0);
  grid->addWidget(control.slider, row, 1);
  grid->addWidget(control.box, row, 2);
  QSlider* slider = control.slider;
  QDoubleSpinBox* box = control.box;
  connect(slider, &QSlider::valueChanged, this, [box, scale](int steps) {
    const QSignalBlocker block(box);
    box->setValue(steps / scale);
  });
  connect(box, &QDoubleSpinBox::valueChanged, this, [slider, scale](double v) {
    const QSignalBlocker block(slider);
    slider->setValue(static_cast<int>(std::lround(v * scale)));
  });
  return control;
}

GenerationRequest GenerateView::request() const {
  GenerationRequest r;
  r.temperature = temperature_.value();
  r.top_k = static_cast<int>(std::lround(top_k_.value()));
  r.top_p = top_p_.value();
  r.repetition_penalty = repetition_penalty_.value();
  r.max_new_tokens = static_cast<int>(std::lround(max_tokens_.value()));
  r.seed = static_cast<uint64_t>(seed_box_->value());
  r.chat = chat_mode();
  if (r.chat) r.history = history_;
  return r;
}

QString GenerateView::prompt() const { return prompt_edit_->toPlainText(); }
void GenerateView::set_prompt(const QString& prompt) { prompt_edit_->setPlainText(prompt); }
bool GenerateView::chat_mode() const { return mode_box_->currentIndex() == 1; }
void GenerateView::set_chat_mode(bool chat) { mode_box_->setCurrentIndex(chat ? 1 : 0); }
QString GenerateView::status_text() const { return status_label_->text(); }
QString GenerateView::model_description() const { return model_description_; }
void GenerateView::set_directory_chooser(std::function<QString()> chooser) { directory_chooser_ = std::move(chooser); }

QString GenerateView::output_text() const {
  QString text;
  for (size_t i = static_cast<size_t>(generation_first_token_); i < tokens_.size(); ++i) text += tokens_[i].piece;
  return text;
}

void GenerateView::choose_model_directory() {
  const QString dir = directory_chooser_
                          ? directory_chooser_()
                          : QFileDialog::getExistingDirectory(this, tr("Load model directory"), QString(),
                                                              QFileDialog::ShowDirsOnly);
  if (!dir.isEmpty()) emit load_model_requested(dir);
}

void GenerateView::start_generation() {
  if (generating_) return;
  const QString text = prompt();
  if (text.trimmed().isEmpty()) {
    show_error(chat_mode() ? tr("Type a message first") : tr("Type a prompt first"));
    return;
  }
  if (chat_mode()) {
    pending_message_ = text;
    append_text(output_->document()->isEmpty() ? QString() : QStringLiteral("\n\n"), false, false);
    append_text(tr("You: "), true, false);
    append_text(text, false, false);
    append_text("\n" + tr("Model: "), true, false);
  } else {
    output_->clear();
    tokens_.clear();
    append_text(text, false, true);  // the prompt in grey, the continuation after it
  }
  generation_first_token_ = static_cast<int>(tokens_.size());
  generating_ = true;
  set_status(tr("Generating..."), false);
  update_controls();
  const GenerationRequest r = request();
  if (chat_mode()) prompt_edit_->clear();
  emit generate_requested(text, r);
}

void GenerateView::append_text(const QString& text, bool bold, bool dim) {
  if (text.isEmpty()) return;
  QTextCursor cursor(output_->document());
  cursor.movePosition(QTextCursor::End);
  QTextCharFormat format;
  if (bold) format.setFontWeight(QFont::Bold);
  if (dim) format.setForeground(QColor(110, 110, 110));
  cursor.insertText(text, format);
}

void GenerateView::append_token(int id, const QString& piece,
                                const std::vector<std::pair<QString, double>>& candidates) {
  QTextCursor cursor(output_->document());
  cursor.movePosition(QTextCursor::End);
  ShownToken token{id, piece, cursor.position(), candidates};
  QTextCharFormat format;
  format.setBackground(kTokenTints[tokens_.size() % 2]);
  cursor.insertText(piece, format);
  tokens_.push_back(std::move(token));
  output_->verticalScrollBar()->setValue(output_->verticalScrollBar()->maximum());
}

void GenerateView::finish(const QString& reason, double tokens_per_s) {
  const int count = static_cast<int>(tokens_.size()) - generation_first_token_;
  if (chat_mode() && generating_) {
    history_.push_back({"user", pending_message_});
    history_.push_back({"assistant", output_text()});
  }
  pending_message_.clear();
  generating_ = false;
  set_status(tr("%1 tokens, %2 tokens/s, ended: %3").arg(count).arg(tokens_per_s, 0, 'f', 1).arg(reason), false);
  update_controls();
}

void GenerateView::show_error(const QString& message) {
  if (generating_) {
    generating_ = false;
    if (!pending_message_.isEmpty() && prompt().isEmpty()) set_prompt(pending_message_);  // nothing typed is lost
    pending_message_.clear();
  }
  set_status(message, true);
  update_controls();
}

void GenerateView::set_model_description(const QString& description) {
  model_description_ = description;
  model_label_->setText(description.isEmpty() ? tr("No model loaded") : description);
  update_controls();
}

void GenerateView::clear_history() {
  history_.clear();
  pending_message_.clear();
  tokens_.clear();
  generation_first_token_ = 0;
  output_->clear();
  update_controls();
}

void GenerateView::update_controls() {
  const bool has_model = !model_description_.isEmpty();
  generate_button_->setEnabled(has_model && !generating_);
  generate_button_->setToolTip(has_model ? tr("Generate from the prompt with these settings (Ctrl+Enter)")
                                         : tr("Load a model first"));
  stop_button_->setEnabled(generating_);
  mode_box_->setEnabled(!generating_);
  clear_history_button_->setVisible(chat_mode());  // a conversation only exists in chat mode
  clear_history_button_->setEnabled(!generating_ && (!history_.empty() || !tokens_.empty()));
  use_training_button_->setEnabled(!generating_);
  load_button_->setEnabled(!generating_);
}

void GenerateView::set_status(const QString& text, bool error) {
  status_label_->setStyleSheet(error ? "color: #b00020;" : QString());
  status_label_->setText(text);
}

QString GenerateView::candidates_text(int token_index) const {
  if (token_index < 0 || token_index >= static_cast<int>(tokens_.size())) return {};
  const ShownToken& token = tokens_[static_cast<size_t>(token_index)];
  QString text = tr("Token %1: %2 (id %3)").arg(token_index + 1).arg(visible(token.piece)).arg(token.id);
  if (token.candidates.empty()) return text + "\n" + tr("No candidates reported");
  text += "\n" + tr("Top candidates:");
  for (const auto& [candidate, probability] : token.candidates)
    text += QString("\n  %1  %2%").arg(visible(candidate)).arg(probability * 100.0, 0, 'f', 2);
  return text;
}

int GenerateView::token_at(int position) const {
  // Tokens are in document order; find the last one starting at or before `position`.
  auto after = std::upper_bound(tokens_.begin(), tokens_.end(), position,
                                [](int p, const ShownToken& t) { return p < t.start; });
  while (after != tokens_.begin()) {
    --after;
    if (position < after->start + after->piece.size()) return static_cast<int>(after - tokens_.begin());
    if (!after->piece.isEmpty()) break;  // an empty token (held-back bytes) covers nothing: look no further back
  }
  return -1;
}

bool GenerateView::eventFilter(QObject* watched, QEvent* event) {
  if (watched == output_->viewport() && event->type() == QEvent::ToolTip) {
    const auto* help = static_cast<QHelpEvent*>(event);
    const QPointF content(help->pos().x() + output_->horizontalScrollBar()->value(),
                          help->pos().y() + output_->verticalScrollBar()->value());
    const int position = output_->document()->documentLayout()->hitTest(content, Qt::ExactHit);
    const int index = position < 0 ? -1 : token_at(position);
    if (index >= 0)
      QToolTip::showText(help->globalPos(), candidates_text(index), output_->viewport());
    else
      QToolTip::hideText();
    return true;
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace minimind
