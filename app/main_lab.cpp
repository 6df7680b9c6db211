// MiniMind Lab, the desktop application. For now: pick a preset and see what the model is and costs.
#include <QApplication>
#include <QComboBox>
#include <QFormLayout>
#include <QMainWindow>
#include <QSpinBox>
#include <QVBoxLayout>

#include "config/estimates.h"
#include "config/presets.h"
#include "model/minimind_model.h"
#include "model_summary_view.h"

namespace {

minimind::ModelSummary summarize(const minimind::ModelConfig& c, qint64 batch, qint64 seq_len) {
  const minimind::ParameterCount params = minimind::count_parameters(c);
  const int64_t activations = minimind::MiniMindModel::activation_bytes(c, batch, seq_len, minimind::DType::f32);
  const minimind::MemoryEstimate memory = minimind::estimate_memory(c, batch, seq_len, activations);
  minimind::ModelSummary s;
  s.shape = QString("hidden %1, %2 layers, %3 heads (%4 kv), ffn %5, vocab %6%7")
                .arg(c.hidden_size)
                .arg(c.num_hidden_layers)
                .arg(c.num_attention_heads)
                .arg(c.num_key_value_heads)
                .arg(c.ffn_size())
                .arg(c.vocab_size)
                .arg(c.use_moe ? QString(", MoE %1 experts, top-%2").arg(c.n_routed_experts).arg(c.num_experts_per_tok)
                               : QString());
  s.total_parameters = static_cast<double>(params.total);
  s.active_parameters = static_cast<double>(params.active);
  s.flops_per_token = minimind::training_flops_per_token(c, seq_len);
  s.batch = batch;
  s.seq_len = seq_len;
  s.weights_bytes = memory.weights_bytes;
  s.gradients_bytes = memory.gradients_bytes;
  s.optimizer_bytes = memory.optimizer_bytes;
  s.activations_bytes = memory.activations_bytes;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("MiniMind Lab");
  QMainWindow window;
  window.setWindowTitle("MiniMind Lab");
  auto* central = new QWidget(&window);
  auto* layout = new QVBoxLayout(central);
  auto* choices = new QFormLayout;
  auto* preset = new QComboBox(central);
  for (const std::string& name : minimind::preset_names()) preset->addItem(QString::fromStdString(name));
  auto* batch = new QSpinBox(central);
  batch->setRange(1, 4096);
  batch->setValue(8);
  auto* seq_len = new QSpinBox(central);
  seq_len->setRange(1, 32768);
  seq_len->setValue(256);
  choices->addRow("Preset:", preset);
  choices->addRow("Batch size:", batch);
  choices->addRow("Sequence length:", seq_len);
  layout->addLayout(choices);
  auto* summary = new minimind::ModelSummaryView(central);
  layout->addWidget(summary);
  layout->addStretch();
  window.setCentralWidget(central);

  auto refresh = [=] {
    const minimind::ModelConfig config = minimind::preset(preset->currentText().toStdString());
    summary->show_summary(summarize(config, batch->value(), std::min<int>(seq_len->value(), config.max_position_embeddings)));
  };
  QObject::connect(preset, &QComboBox::currentTextChanged, refresh);
  QObject::connect(batch, &QSpinBox::valueChanged, refresh);
  QObject::connect(seq_len, &QSpinBox::valueChanged, refresh);
  refresh();
  window.resize(560, 380);
  window.show();
  return app.exec();
}
