// The Configure view. The RunConfig held here is the truth: each control writes its one field into it when the
// person edits it, and set_run_config / load write every control from it, so fields the form shows rounded
// (a learning rate, say) or does not show at all come back exactly as they went in.
#include "config_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QStyle>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>
#include <climits>
#include <cmath>
#include <nlohmann/json.hpp>

#include "backend/backend_factory.h"
#include "block_diagram.h"
#include "config/presets.h"
#include "model/memory_plan.h"
#include "model_summary_view.h"
#include "text/byte_size.h"

namespace minimind {

namespace {

// Small rates and epsilons read best as 3e-04, and step by doubling or halving rather than by a fixed amount.
class ScientificSpinBox : public QDoubleSpinBox {
 public:
  using QDoubleSpinBox::QDoubleSpinBox;
  QString textFromValue(double value) const override { return QString::number(value, 'g', 6); }
  double valueFromText(const QString& text) const override { return text.trimmed().toDouble(); }
  QValidator::State validate(QString& text, int&) const override {
    bool ok = false;
    text.trimmed().toDouble(&ok);
    return ok ? QValidator::Acceptable : QValidator::Intermediate;
  }
  void stepBy(int steps) override {
    const double current = value();
    setValue(current > 0 ? current * std::pow(2.0, steps) : (steps > 0 ? 1e-6 : 0.0));
  }
};

QString path_text(const std::filesystem::path& path) { return QString::fromStdString(path.string()); }

const ScheduleKind kScheduleKinds[] = {ScheduleKind::minimind, ScheduleKind::warmup_cosine, ScheduleKind::constant,
                                       ScheduleKind::step, ScheduleKind::exponential};

// The starting run: the tiny preset with the CLI's training defaults (MiniMind's schedule over the whole run,
// its floor a tenth of the rate).
RunConfig initial_run_config() {
  RunConfig config;
  config.model = preset("tiny");
  config.train.schedule.kind = ScheduleKind::minimind;
  config.train.schedule.min_learning_rate = config.train.schedule.learning_rate / 10;
  config.train.schedule.total_steps = 0;
  return config;
}

}  // namespace

ConfigView::ConfigView(QWidget* parent) : QWidget(parent), config_(initial_run_config()) {
  // An offending control is framed in red; the "invalid" property is set per control by mark().
  setStyleSheet("*[invalid=\"true\"] { border: 2px solid #d32f2f; border-radius: 3px; }");

  auto* top = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout;
  preset_ = new QComboBox(this);
  for (const std::string& name : preset_names()) preset_->addItem(QString::fromStdString(name));
  preset_->setToolTip(tr("Fill every model field from a named configuration"));
  auto* reset = new QPushButton(tr("Reset to preset"), this);
  reset->setToolTip(tr("Put the model fields back to the chosen preset's values"));
  auto* load = new QPushButton(tr("Load..."), this);
  load->setToolTip(tr("Read a run config (JSON) saved by the lab"));
  auto* save = new QPushButton(tr("Save..."), this);
  save->setToolTip(tr("Write the model and training settings as a run config, which minimind train --config "
                      "accepts"));
  train_button_ = new QPushButton(tr("Train"), this);
  train_button_->setToolTip(tr("Start a run with these settings"));
  train_button_->setDefault(true);
  bar->addWidget(new QLabel(tr("Preset:"), this));
  bar->addWidget(preset_);
  bar->addWidget(reset);
  bar->addStretch(1);
  bar->addWidget(load);
  bar->addWidget(save);
  bar->addWidget(train_button_);
  top->addLayout(bar);

  problems_label_ = new QLabel(this);
  problems_label_->setWordWrap(true);
  problems_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  top->addWidget(problems_label_);
  status_ = new QLabel(this);
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  status_->hide();
  top->addWidget(status_);

  auto* body = new QHBoxLayout;
  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  auto* form_page = new QWidget(scroll);
  build_form(form_page);
  scroll->setWidget(form_page);
  body->addWidget(scroll, 3);

  auto* side = new QVBoxLayout;
  auto* estimates = new QGroupBox(tr("Cost"), this);
  auto* estimates_layout = new QVBoxLayout(estimates);
  summary_ = new ModelSummaryView(estimates);
  estimates_note_ = new QLabel(estimates);
  estimates_note_->setWordWrap(true);
  estimates_note_->hide();
  estimates_layout->addWidget(summary_);
  estimates_layout->addWidget(estimates_note_);
  side->addWidget(estimates);
  auto* structure = new QGroupBox(tr("Block structure"), this);
  auto* structure_layout = new QVBoxLayout(structure);
  diagram_ = new BlockDiagram(structure);
  structure_layout->addWidget(diagram_);
  side->addWidget(structure);
  side->addStretch(1);
  body->addLayout(side, 2);
  top->addLayout(body, 1);

  connect(preset_, &QComboBox::currentTextChanged, this, [this](const QString& name) {
    if (!loading_) apply_preset(name);
  });
  connect(reset, &QPushButton::clicked, this, [this] { apply_preset(preset_->currentText()); });
  connect(load, &QPushButton::clicked, this, [this] {
    const QString path =
        QFileDialog::getOpenFileName(this, tr("Load run config"), QString(), tr("Run config (*.json);;All files (*)"));
    if (!path.isEmpty()) load_file(path);
  });
  connect(save, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save run config"), "run_config.json",
                                                      tr("Run config (*.json)"));
    if (!path.isEmpty()) save_file(path);
  });
  connect(train_button_, &QPushButton::clicked, this, [this] {
    if (valid()) emit train_requested();
  });

  loading_ = true;
  preset_->setCurrentText("tiny");
  loading_ = false;
  load_controls();
  refresh();
}

// ---- rows ------------------------------------------------------------------------------------------------

void ConfigView::add_row(QFormLayout* form, const QString& name, const QString& label, QWidget* control,
                         const QString& tooltip, QWidget* extra) {
  auto* row = new QWidget;
  auto* column = new QVBoxLayout(row);
  column->setContentsMargins(0, 0, 0, 0);
  column->setSpacing(2);
  auto* line = new QHBoxLayout;
  line->setContentsMargins(0, 0, 0, 0);
  line->addWidget(control, 1);
  if (extra) line->addWidget(extra);
  column->addLayout(line);
  auto* reason = new QLabel(row);
  reason->setWordWrap(true);
  reason->setStyleSheet("color: #c62828;");
  reason->hide();
  column->addWidget(reason);
  control->setObjectName(name);
  control->setToolTip(tooltip);
  form->addRow(label, row);
  fields_.insert(name, Field{control, row, reason, tooltip});
}

template <typename Access>
void ConfigView::add_integer(QFormLayout* form, const QString& name, const QString& label, qint64 low,
                             qint64 high, const QString& suffix, const QString& tooltip, Access access) {
  auto* spin = new QSpinBox;
  spin->setRange(static_cast<int>(low), static_cast<int>(std::min<qint64>(high, INT_MAX)));
  spin->setSuffix(suffix);
  spin->setAccelerated(true);
  loaders_.push_back([this, spin, access] {
    const auto value = static_cast<qint64>(access(config_));
    spin->setValue(static_cast<int>(std::clamp<qint64>(value, spin->minimum(), spin->maximum())));
  });
  connect(spin, &QSpinBox::valueChanged, this, [this, access](int value) {
    if (loading_) return;
    access(config_) = value;
    edited();
  });
  add_row(form, name, label, spin, tooltip);
}

template <typename Access>
void ConfigView::add_number(QFormLayout* form, const QString& name, const QString& label, double low, double high,
                            const QString& suffix, const QString& tooltip, Access access, bool scientific) {
  QDoubleSpinBox* spin = scientific ? new ScientificSpinBox : new QDoubleSpinBox;
  spin->setDecimals(scientific ? 15 : 4);
  spin->setRange(low, high);
  spin->setSuffix(suffix);
  if (!scientific) spin->setStepType(QAbstractSpinBox::AdaptiveDecimalStepType);
  loaders_.push_back([this, spin, access] { spin->setValue(access(config_)); });
  connect(spin, &QDoubleSpinBox::valueChanged, this, [this, access](double value) {
    if (loading_) return;
    access(config_) = value;
    edited();
  });
  add_row(form, name, label, spin, tooltip);
}

template <typename Access>
void ConfigView::add_check(QFormLayout* form, const QString& name, const QString& label, const QString& tooltip,
                           Access access) {
  auto* check = new QCheckBox;
  loaders_.push_back([this, check, access] { check->setChecked(access(config_)); });
  connect(check, &QCheckBox::toggled, this, [this, access](bool on) {
    if (loading_) return;
    access(config_) = on;
    edited();
  });
  add_row(form, name, label, check, tooltip);
}

void ConfigView::add_choice(QFormLayout* form, const QString& name, const QString& label,
                            const QStringList& choices, const QString& tooltip,
                            std::function<QString(const RunConfig&)> get,
                            std::function<void(RunConfig&, const QString&)> set) {
  auto* combo = new QComboBox;
  combo->addItems(choices);
  loaders_.push_back([this, combo, get] {
    const QString value = get(config_);
    if (combo->findText(value) < 0) combo->addItem(value);  // a value from a file: shown, and marked if refused
    combo->setCurrentText(value);
  });
  connect(combo, &QComboBox::currentTextChanged, this, [this, set](const QString& value) {
    if (loading_) return;
    set(config_, value);
    edited();
  });
  add_row(form, name, label, combo, tooltip);
}

void ConfigView::add_text(QFormLayout* form, const QString& name, const QString& label, const QString& tooltip,
                          std::function<QString(const RunConfig&)> get,
                          std::function<void(RunConfig&, const QString&)> set, bool browse_directory,
                          bool browse_file) {
  auto* edit = new QLineEdit;
  QToolButton* browse = nullptr;
  if (browse_directory || browse_file) {
    browse = new QToolButton;
    browse->setText("...");
    browse->setToolTip(browse_directory ? tr("Choose a folder") : tr("Choose a file"));
    connect(browse, &QToolButton::clicked, this, [this, edit, label, browse_directory] {
      const QString chosen = browse_directory
                                 ? QFileDialog::getExistingDirectory(this, label, edit->text())
                                 : QFileDialog::getOpenFileName(this, label, edit->text());
      if (!chosen.isEmpty()) edit->setText(chosen);
    });
  }
  loaders_.push_back([this, edit, get] { edit->setText(get(config_)); });
  connect(edit, &QLineEdit::textChanged, this, [this, set](const QString& value) {
    if (loading_) return;
    set(config_, value);
    edited();
  });
  add_row(form, name, label, edit, tooltip, browse);
}

// ---- the form --------------------------------------------------------------------------------------------

void ConfigView::build_form(QWidget* page) {
  auto* grid = new QGridLayout(page);
  auto group = [&](const QString& title, int row, int column, int column_span = 1) {
    auto* box = new QGroupBox(title, page);
    auto* form = new QFormLayout(box);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    grid->addWidget(box, row, column, 1, column_span);
    return form;
  };
  const qint64 many = INT_MAX;

  QFormLayout* model = group(tr("Model"), 0, 0);
  add_integer(model, "hidden_size", tr("Hidden size:"), 1, kMaxHiddenSize, "",
              tr("Width of the residual stream; every head gets hidden_size / heads dimensions"),
              [](RunConfig& c) -> auto& { return c.model.hidden_size; });
  add_integer(model, "num_hidden_layers", tr("Layers:"), 1, kMaxHiddenLayers, "", tr("Number of decoder blocks"),
              [](RunConfig& c) -> auto& { return c.model.num_hidden_layers; });
  add_integer(model, "num_attention_heads", tr("Query heads:"), 1, 4096, "",
              tr("Attention heads; must divide the hidden size into an even head dimension"),
              [](RunConfig& c) -> auto& { return c.model.num_attention_heads; });
  add_integer(model, "num_key_value_heads", tr("Key/value heads:"), 1, 4096, "",
              tr("Grouped-query attention: each key/value head serves query heads / kv heads query heads"),
              [](RunConfig& c) -> auto& { return c.model.num_key_value_heads; });
  {
    auto* spin = new QSpinBox;
    spin->setRange(0, static_cast<int>(kMaxIntermediateSize));
    spin->setSingleStep(64);
    spin->setSpecialValueText(tr("auto (8/3 of hidden, to a multiple of 64)"));
    loaders_.push_back([this, spin] { spin->setValue(static_cast<int>(config_.model.intermediate_size.value_or(0))); });
    connect(spin, &QSpinBox::valueChanged, this, [this](int value) {
      if (loading_) return;
      if (value == 0)
        config_.model.intermediate_size.reset();
      else
        config_.model.intermediate_size = value;
      edited();
    });
    add_row(model, "intermediate_size", tr("FFN width:"), spin,
            tr("Width of the SwiGLU feed-forward (of each expert with MoE); 0 derives it from the hidden size"));
  }
  add_integer(model, "vocab_size", tr("Vocabulary:"), 1, kMaxVocabSize, tr(" tokens"),
              tr("Size of the tokenizer's vocabulary; the embedding and the LM head have one row per token"),
              [](RunConfig& c) -> auto& { return c.model.vocab_size; });
  add_integer(model, "max_position_embeddings", tr("Max positions:"), 1, kMaxPositionEmbeddings, tr(" tokens"),
              tr("Length of the RoPE table: the longest sequence the model can take"),
              [](RunConfig& c) -> auto& { return c.model.max_position_embeddings; });
  add_number(model, "rms_norm_eps", tr("RMSNorm epsilon:"), 0, 1, "",
             tr("Added to the mean square before the root, so that a zero vector does not divide by zero"),
             [](RunConfig& c) -> auto& { return c.model.rms_norm_eps; }, true);
  add_number(model, "dropout", tr("Dropout:"), 0, 0.99, "", tr("Probability of zeroing an activation in training"),
             [](RunConfig& c) -> auto& { return c.model.dropout; });
  add_choice(
      model, "hidden_act", tr("Activation:"), {"silu"}, tr("The feed-forward's gate activation (SwiGLU uses SiLU)"),
      [](const RunConfig& c) { return QString::fromStdString(c.model.hidden_act); },
      [](RunConfig& c, const QString& v) { c.model.hidden_act = v.toStdString(); });
  add_check(model, "tie_word_embeddings", tr("Tied LM head:"),
            tr("The LM head reuses the embedding matrix (the only layout supported)"),
            [](RunConfig& c) -> auto& { return c.model.tie_word_embeddings; });
  add_check(model, "flash_attn", tr("Fused attention:"),
            tr("Recorded in config.json for PyTorch's scaled_dot_product_attention; the lab computes the same"),
            [](RunConfig& c) -> auto& { return c.model.flash_attn; });
  add_integer(model, "bos_token_id", tr("BOS token id:"), 0, kMaxVocabSize, "", tr("Beginning-of-sequence token"),
              [](RunConfig& c) -> auto& { return c.model.bos_token_id; });
  add_integer(model, "eos_token_id", tr("EOS token id:"), 0, kMaxVocabSize, "", tr("End-of-sequence token"),
              [](RunConfig& c) -> auto& { return c.model.eos_token_id; });

  QFormLayout* moe = group(tr("Mixture of experts"), 1, 0);
  add_check(moe, "use_moe", tr("Use MoE:"), tr("Replace each feed-forward by routed and shared experts"),
            [](RunConfig& c) -> auto& { return c.model.use_moe; });
  add_integer(moe, "n_routed_experts", tr("Routed experts:"), 1, kMaxExperts, "", tr("Experts the router picks from"),
              [](RunConfig& c) -> auto& { return c.model.n_routed_experts; });
  add_integer(moe, "num_experts_per_tok", tr("Experts per token:"), 1, kMaxExperts, "",
              tr("Top-k: routed experts each token goes through"),
              [](RunConfig& c) -> auto& { return c.model.num_experts_per_tok; });
  add_integer(moe, "n_shared_experts", tr("Shared experts:"), 0, kMaxExperts, "",
              tr("Experts every token goes through"), [](RunConfig& c) -> auto& { return c.model.n_shared_experts; });
  add_choice(
      moe, "scoring_func", tr("Router scoring:"), {"softmax"}, tr("How router logits become expert weights"),
      [](const RunConfig& c) { return QString::fromStdString(c.model.scoring_func); },
      [](RunConfig& c, const QString& v) { c.model.scoring_func = v.toStdString(); });
  add_number(moe, "aux_loss_alpha", tr("Balance loss weight:"), 0, 10, "",
             tr("Weight of the load-balancing loss added to the cross-entropy"),
             [](RunConfig& c) -> auto& { return c.model.aux_loss_alpha; });
  add_check(moe, "seq_aux", tr("Per-sequence balance:"), tr("Balance the load within each sequence"),
            [](RunConfig& c) -> auto& { return c.model.seq_aux; });
  add_check(moe, "norm_topk_prob", tr("Renormalise top-k:"), tr("Make the chosen experts' weights sum to 1"),
            [](RunConfig& c) -> auto& { return c.model.norm_topk_prob; });

  QFormLayout* rope = group(tr("RoPE"), 2, 0);
  add_number(rope, "rope_theta", tr("Base (theta):"), 1, 1e10, "",
             tr("Frequency of dimension pair i is theta^(-2i / head_dim); larger bases reach longer wavelengths"),
             [](RunConfig& c) -> auto& { return c.model.rope_theta; });
  static_cast<QDoubleSpinBox*>(fields_["rope_theta"].control)->setDecimals(0);
  static_cast<QDoubleSpinBox*>(fields_["rope_theta"].control)->setStepType(QAbstractSpinBox::DefaultStepType);
  static_cast<QDoubleSpinBox*>(fields_["rope_theta"].control)->setSingleStep(10000);
  add_check(rope, "inference_rope_scaling", tr("YaRN scaling:"),
            tr("Stretch the RoPE table beyond the original context with YaRN"),
            [](RunConfig& c) -> auto& { return c.model.inference_rope_scaling; });
  add_choice(
      rope, "rope_scaling.type", tr("Scaling type:"), {"yarn"}, tr("The RoPE scaling method"),
      [](const RunConfig& c) { return QString::fromStdString(c.model.rope_scaling.type); },
      [](RunConfig& c, const QString& v) { c.model.rope_scaling.type = v.toStdString(); });
  add_number(rope, "rope_scaling.factor", tr("Factor:"), 0, 1024, "", tr("How far the context is stretched"),
             [](RunConfig& c) -> auto& { return c.model.rope_scaling.factor; });
  add_integer(rope, "rope_scaling.original_max_position_embeddings", tr("Original context:"), 1,
              kMaxPositionEmbeddings, tr(" tokens"), tr("The context the model was trained at"),
              [](RunConfig& c) -> auto& { return c.model.rope_scaling.original_max_position_embeddings; });
  add_number(rope, "rope_scaling.beta_fast", tr("Beta fast:"), 0, 1024, "",
             tr("Ramp end: dimensions rotating faster than this keep their frequency"),
             [](RunConfig& c) -> auto& { return c.model.rope_scaling.beta_fast; });
  add_number(rope, "rope_scaling.beta_slow", tr("Beta slow:"), 0, 1024, "",
             tr("Ramp start: dimensions rotating slower than this are fully interpolated"),
             [](RunConfig& c) -> auto& { return c.model.rope_scaling.beta_slow; });

  QFormLayout* data = group(tr("Data"), 0, 1);
  add_choice(
      data, "mode", tr("Mode:"), {"pretrain", "sft"},
      tr("pretrain: loss on every token; sft: loss on the assistant's tokens of each conversation"),
      [](const RunConfig& c) { return QString::fromStdString(c.train.mode); },
      [](RunConfig& c, const QString& v) { c.train.mode = v.toStdString(); });
  add_integer(data, "batch_size", tr("Batch size:"), 1, 65536, tr(" sequences"),
              tr("Sequences per micro-batch"), [](RunConfig& c) -> auto& { return c.train.batch_size; });
  add_integer(data, "seq_len", tr("Sequence length:"), 1, kMaxSeqLen, tr(" tokens"),
              tr("Tokens per sequence; at most the model's max positions"),
              [](RunConfig& c) -> auto& { return c.train.seq_len; });
  add_check(data, "packed", tr("Pack documents:"),
            tr("Pack documents end to end into full rows; off: one document per row, padded"),
            [](RunConfig& c) -> auto& { return c.train.packed; });
  add_integer(data, "accumulation_steps", tr("Accumulation:"), 1, kMaxAccumulationSteps, "",
              tr("Micro-batches whose gradients add up to one optimizer step"),
              [](RunConfig& c) -> auto& { return c.train.accumulation_steps; });
  add_integer(data, "epochs", tr("Epochs:"), 1, 100000, "", tr("Passes over the training data"),
              [](RunConfig& c) -> auto& { return c.train.epochs; });
  add_integer(data, "max_steps", tr("Max steps:"), 0, many, "",
              tr("Stop after this many optimizer steps; 0 runs the epochs"),
              [](RunConfig& c) -> auto& { return c.train.max_steps; });
  static_cast<QSpinBox*>(fields_["max_steps"].control)->setSpecialValueText(tr("as the epochs take"));

  QFormLayout* optimizer = group(tr("Optimizer (AdamW)"), 1, 1);
  add_number(optimizer, "learning_rate", tr("Learning rate:"), 0, 10, "",
             tr("Peak learning rate (arrows double or halve it)"),
             [](RunConfig& c) -> auto& { return c.train.schedule.learning_rate; }, true);
  add_number(optimizer, "weight_decay", tr("Weight decay:"), 0, 10, "", tr("AdamW's decoupled weight decay"),
             [](RunConfig& c) -> auto& { return c.train.adamw.weight_decay; });
  add_choice(
      optimizer, "decay", tr("Decay applies to:"), {"all", "matrices"},
      tr("all: every parameter (as MiniMind); matrices: not the norms and the embedding"),
      [](const RunConfig& c) { return QString(c.train.adamw.decay == DecayGroups::all ? "all" : "matrices"); },
      [](RunConfig& c, const QString& v) { c.train.adamw.decay = v == "all" ? DecayGroups::all : DecayGroups::matrices; });
  add_number(optimizer, "beta1", tr("Beta 1:"), 0, 0.9999, "", tr("Decay of the first moment (momentum)"),
             [](RunConfig& c) -> auto& { return c.train.adamw.beta1; });
  add_number(optimizer, "beta2", tr("Beta 2:"), 0, 0.9999, "", tr("Decay of the second moment"),
             [](RunConfig& c) -> auto& { return c.train.adamw.beta2; });
  add_number(optimizer, "eps", tr("Epsilon:"), 0, 1, "", tr("Added to the root of the second moment"),
             [](RunConfig& c) -> auto& { return c.train.adamw.eps; }, true);
  add_number(optimizer, "grad_clip", tr("Gradient clip:"), 0, 1000, "",
             tr("Scale the gradients down to this global norm; 0 turns clipping off"),
             [](RunConfig& c) -> auto& { return c.train.grad_clip; });
  static_cast<QDoubleSpinBox*>(fields_["grad_clip"].control)->setSpecialValueText(tr("off"));

  QFormLayout* schedule = group(tr("Schedule"), 2, 1);
  QStringList kinds;
  for (ScheduleKind kind : kScheduleKinds) kinds << QString::fromUtf8(schedule_kind_name(kind).data());
  add_choice(
      schedule, "schedule", tr("Kind:"), kinds,
      tr("minimind: MiniMind's cosine from lr to lr/10; cosine: warmup then cosine to the minimum; constant; "
         "step; exponential"),
      [](const RunConfig& c) { return QString::fromUtf8(schedule_kind_name(c.train.schedule.kind).data()); },
      [](RunConfig& c, const QString& v) { c.train.schedule.kind = parse_schedule_kind(v.toStdString()); });
  add_integer(schedule, "warmup_steps", tr("Warmup:"), 0, many, tr(" steps"),
              tr("Linear warmup to the learning rate (cosine)"),
              [](RunConfig& c) -> auto& { return c.train.schedule.warmup_steps; });
  add_number(schedule, "min_learning_rate", tr("Minimum rate:"), 0, 10, "", tr("Where the cosine decay ends"),
             [](RunConfig& c) -> auto& { return c.train.schedule.min_learning_rate; }, true);
  add_integer(schedule, "total_steps", tr("Length:"), 0, many, tr(" steps"),
              tr("Steps the schedule spans; 0 spans the whole run"),
              [](RunConfig& c) -> auto& { return c.train.schedule.total_steps; });
  static_cast<QSpinBox*>(fields_["total_steps"].control)->setSpecialValueText(tr("the whole run"));
  add_integer(schedule, "step_size", tr("Step size:"), 0, many, tr(" steps"),
              tr("The step schedule multiplies the rate by gamma every this many steps"),
              [](RunConfig& c) -> auto& { return c.train.schedule.step_size; });
  add_number(schedule, "gamma", tr("Gamma:"), 0, 1, "", tr("Decay factor of the step and exponential schedules"),
             [](RunConfig& c) -> auto& { return c.train.schedule.gamma; });

  QFormLayout* run = group(tr("Run"), 3, 0, 2);
  add_text(
      run, "run_dir", tr("Run directory:"), tr("Where checkpoints, metrics and the configs are written"),
      [](const RunConfig& c) { return path_text(c.train.run_dir); },
      [](RunConfig& c, const QString& v) { c.train.run_dir = v.toStdString(); }, true);
  add_text(
      run, "init_from", tr("Start from:"), tr("A model directory to continue from; empty: a new model"),
      [](const RunConfig& c) { return c.train.init_from ? path_text(*c.train.init_from) : QString(); },
      [](RunConfig& c, const QString& v) {
        if (v.isEmpty())
          c.train.init_from.reset();
        else
          c.train.init_from = v.toStdString();
      },
      true);
  add_text(
      run, "tokenizer", tr("Tokenizer:"), tr("tokenizer.json, for the probes"),
      [](const RunConfig& c) { return path_text(c.train.tokenizer); },
      [](RunConfig& c, const QString& v) { c.train.tokenizer = v.toStdString(); }, false, true);
  add_integer(run, "eval_every", tr("Validate every:"), 0, many, tr(" steps"),
              tr("Validation loss every this many steps; 0: only at the end"),
              [](RunConfig& c) -> auto& { return c.train.eval_every; });
  static_cast<QSpinBox*>(fields_["eval_every"].control)->setSpecialValueText(tr("only at the end"));
  add_integer(run, "eval_batches", tr("Validation batches:"), 0, many, "",
              tr("Batches per validation; 0: the whole validation split"),
              [](RunConfig& c) -> auto& { return c.train.eval_batches; });
  static_cast<QSpinBox*>(fields_["eval_batches"].control)->setSpecialValueText(tr("all"));
  add_integer(run, "save_every", tr("Save every:"), 0, many, tr(" steps"),
              tr("Checkpoint every this many steps; 0: only at the end"),
              [](RunConfig& c) -> auto& { return c.train.save_every; });
  static_cast<QSpinBox*>(fields_["save_every"].control)->setSpecialValueText(tr("only at the end"));
  add_integer(run, "keep_last", tr("Keep last:"), 0, 100000, tr(" checkpoints"),
              tr("Checkpoints kept besides the best one"), [](RunConfig& c) -> auto& { return c.train.keep_last; });
  add_integer(run, "log_every", tr("Log every:"), 0, many, tr(" steps"), tr("Metrics written every this many steps"),
              [](RunConfig& c) -> auto& { return c.train.log_every; });
  add_integer(run, "seed", tr("Seed:"), 0, many, "", tr("Initialisation, shuffling and dropout seed"),
              [](RunConfig& c) -> auto& { return c.train.seed; });
  add_number(run, "spike_z", tr("Spike threshold:"), 0, 1000, tr(" \u03c3"),
             tr("Skip an update whose loss or gradient norm is this many standard deviations above the recent ones"),
             [](RunConfig& c) -> auto& { return c.train.spike_z; });
  add_integer(run, "max_consecutive_skips", tr("Stop after skips:"), 1, 100000, "",
              tr("Stop the run after this many skipped updates in a row"),
              [](RunConfig& c) -> auto& { return c.train.max_consecutive_skips; });
  add_integer(run, "sample_every", tr("Probe every:"), 0, many, tr(" steps"),
              tr("Attention maps and a sample from the probe prompt every this many steps; 0: off"),
              [](RunConfig& c) -> auto& { return c.train.sample_every; });
  static_cast<QSpinBox*>(fields_["sample_every"].control)->setSpecialValueText(tr("off"));
  add_integer(run, "sample_tokens", tr("Sample length:"), 0, 100000, tr(" tokens"),
              tr("Tokens generated from the probe prompt"), [](RunConfig& c) -> auto& { return c.train.sample_tokens; });
  add_text(
      run, "probe_prompt", tr("Probe prompt:"), tr("The fixed prompt the probes run on"),
      [](const RunConfig& c) { return QString::fromStdString(c.train.probe_prompt); },
      [](RunConfig& c, const QString& v) { c.train.probe_prompt = v.toStdString(); });
  grid->setRowStretch(4, 1);
}

// ---- state -----------------------------------------------------------------------------------------------

void ConfigView::load_controls() {
  loading_ = true;
  for (const auto& load : loaders_) load();
  loading_ = false;
}

void ConfigView::set_run_config(const RunConfig& config) {
  config_ = config;
  // Show the preset the model is, if it is one; otherwise the combo keeps the last one chosen.
  loading_ = true;
  for (const std::string& name : preset_names())
    if (config_to_json(preset(name)) == config_to_json(config.model)) preset_->setCurrentText(QString::fromStdString(name));
  loading_ = false;
  load_controls();
  refresh();
  emit config_changed(config_);
}

void ConfigView::apply_preset(const QString& name) {
  config_.model = preset(name.toStdString());
  load_controls();
  refresh();
  emit config_changed(config_);
}

void ConfigView::edited() {
  refresh();
  emit config_changed(config_);
}

void ConfigView::set_enabled(const QString& name, bool enabled) {
  if (const auto found = fields_.find(name); found != fields_.end()) found->row->setEnabled(enabled);
}

void ConfigView::mark(Field& field, const QString& reason) {
  const bool invalid = !reason.isEmpty();
  if (field.control->property("invalid").toBool() != invalid) {
    field.control->setProperty("invalid", invalid);
    field.control->style()->unpolish(field.control);
    field.control->style()->polish(field.control);
  }
  field.control->setToolTip(invalid ? reason : field.tooltip);
  field.reason->setText(reason);
  field.reason->setVisible(invalid);
}

void ConfigView::refresh() {
  const ModelConfig& model = config_.model;
  const TrainConfig& train = config_.train;
  for (const char* name : {"n_routed_experts", "num_experts_per_tok", "n_shared_experts", "scoring_func",
                           "aux_loss_alpha", "seq_aux", "norm_topk_prob"})
    set_enabled(name, model.use_moe);
  for (const char* name : {"rope_scaling.type", "rope_scaling.factor", "rope_scaling.original_max_position_embeddings",
                           "rope_scaling.beta_fast", "rope_scaling.beta_slow"})
    set_enabled(name, model.inference_rope_scaling);
  const ScheduleKind kind = train.schedule.kind;
  set_enabled("warmup_steps", kind == ScheduleKind::warmup_cosine);
  set_enabled("min_learning_rate", kind == ScheduleKind::warmup_cosine);
  set_enabled("step_size", kind == ScheduleKind::step);
  set_enabled("gamma", kind == ScheduleKind::step || kind == ScheduleKind::exponential);
  set_enabled("probe_prompt", train.sample_every > 0);
  set_enabled("sample_tokens", train.sample_every > 0);

  // Validation: every issue goes to the summary, and to the field it names when the form shows it.
  QHash<QString, QStringList> reasons;
  problems_.clear();
  for (const ConfigIssue& issue : validate(config_)) {
    const QString field = QString::fromStdString(issue.field), rule = QString::fromStdString(issue.rule);
    problems_ << field + ": " + rule;
    reasons[field] << rule;
  }
  // The memory preflight the training controller runs before a start, shown at the sizes it suggests
  // changing.
  std::optional<AvailableMemory> available;
  const std::optional<MemoryVerdict> memory = memory_verdict(available);
  if (memory && !memory->fits) {
    const QString message = QString::fromStdString(memory->message);
    problems_ << tr("memory: %1").arg(message);
    reasons["batch_size"] << message;
    reasons["seq_len"] << tr("Needs %1 with the safety margin; %2 is available (see the batch size).")
                              .arg(QString::fromStdString(format_bytes(memory->needed_bytes)),
                                   QString::fromStdString(format_bytes(memory->available_bytes)));
  }
  for (auto it = fields_.begin(); it != fields_.end(); ++it) mark(it.value(), reasons.value(it.key()).join("\n"));
  if (problems_.isEmpty()) {
    problems_label_->setStyleSheet("color: #2e7d32;");
    problems_label_->setText(tr("The configuration is valid."));
  } else {
    problems_label_->setStyleSheet("color: #c62828;");
    problems_label_->setText(tr("%n problem(s) to fix before training:", "", problems_.size()) + "\n\u2022 " +
                             problems_.join("\n\u2022 "));
  }
  train_button_->setEnabled(problems_.isEmpty());
  train_button_->setToolTip(problems_.isEmpty() ? tr("Start a run with these settings")
                                                : tr("Fix the problems listed above first"));

  // The estimates need a usable model and sizes; a run-side problem (a negative rate, say) does not stop them.
  QString why_not;
  if (!validate(model).empty())
    why_not = tr("The cost appears once the model fields are valid.");
  else if (train.batch_size < 1 || train.seq_len < 1 || train.seq_len > model.max_position_embeddings)
    why_not = tr("The cost appears once the batch size and sequence length are valid.");
  if (why_not.isEmpty()) {
    try {
      ModelSummary summary = summarize(model, train.batch_size, train.seq_len, target());
      summary.device = device_;
      if (memory && available) {
        summary.needed_bytes = memory->needed_bytes;
        summary.available_bytes = available->bytes;
        summary.available_source = QString::fromStdString(available->source);
      }
      summary_->show_summary(summary);
    } catch (const std::exception& error) {
      why_not = tr("The cost cannot be estimated: %1").arg(QString::fromUtf8(error.what()));
    }
  }
  summary_->setEnabled(why_not.isEmpty());
  estimates_note_->setText(why_not);
  estimates_note_->setVisible(!why_not.isEmpty());
  diagram_->set_config(model);

  if (valid() != last_valid_) {
    last_valid_ = valid();
    emit validity_changed(last_valid_);
  }
}

std::optional<MemoryVerdict> ConfigView::memory_verdict(std::optional<AvailableMemory>& available) const {
  const ModelConfig& model = config_.model;
  const TrainConfig& train = config_.train;
  // Sizes that validation refuses have no estimate; their fields already say why.
  if (!validate(model).empty() || train.batch_size < 1 || train.batch_size > kMaxBatchSize ||
      train.seq_len < 1 || train.seq_len > model.max_position_embeddings || train.accumulation_steps < 1)
    return std::nullopt;
  try {
    available = memory_source_();
  } catch (const std::exception&) {
    return std::nullopt;  // unknown: the summary says "not checked"
  }
  MemoryRequest request =
      training_request(model, train.batch_size, train.seq_len, train.accumulation_steps, target());
  request.accumulation_name = "accumulation";  // the field's label
  return check_memory(request, *available);
}

void ConfigView::set_memory_source(std::function<AvailableMemory()> source) {
  memory_source_ = std::move(source);
  refresh();
}

void ConfigView::set_device(const QString& device, std::function<AvailableMemory()> source) {
  device_ = device;
  device_kind_ = parse_device(device.toStdString()).kind;
  set_memory_source(std::move(source));
}

MemoryTarget ConfigView::target() const {
  try {
    return MemoryTarget::for_choice(device_kind_, config_.train.precision);
  } catch (const std::invalid_argument&) {
    return MemoryTarget::for_device(device_kind_);  // a precision the run config refuses says so itself
  }
}

// ---- files -----------------------------------------------------------------------------------------------

void ConfigView::show_status(const QString& text, bool error) {
  status_->setStyleSheet(error ? "color: #c62828;" : "color: #2e7d32;");
  status_->setText(text);
  status_->setVisible(!text.isEmpty());
}

QString ConfigView::load_file(const QString& path) {
  try {
    const RunConfig loaded = load_run_config(path.toStdString());
    set_run_config(loaded);
    show_status(tr("Loaded %1.").arg(path), false);
    return {};
  } catch (const std::exception& error) {
    const QString message = tr("Could not load %1; the form is unchanged.\n%2").arg(path, QString::fromUtf8(error.what()));
    show_status(message, true);
    return message;
  }
}

QString ConfigView::save_file(const QString& path) {
  try {
    save_run_config(config_, path.toStdString());
    show_status(tr("Saved to %1.").arg(path), false);
    return {};
  } catch (const std::exception& error) {
    const QString message = tr("Could not save %1.\n%2").arg(path, QString::fromUtf8(error.what()));
    show_status(message, true);
    return message;
  }
}

QWidget* ConfigView::field(const QString& name) const {
  if (name == "preset") return preset_;
  const auto found = fields_.find(name);
  return found == fields_.end() ? nullptr : found->control;
}

QString ConfigView::field_reason(const QString& name) const {
  const auto found = fields_.find(name);
  return found == fields_.end() ? QString() : found->reason->text();
}

QString ConfigView::status_text() const { return status_->text(); }

}  // namespace minimind
