// MiniMind Lab, the desktop application. For now: pick a preset and see what the model is and costs.
#include <QApplication>
#include <QComboBox>
#include <QFormLayout>
#include <QMainWindow>
#include <QSpinBox>
#include <QVBoxLayout>

#include "config/presets.h"
#include "model_summary_view.h"

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
