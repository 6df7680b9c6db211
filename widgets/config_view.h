// The Configure view: a preset, then every model field and the training settings a person chooses, in
// groups, each checked on every change by core's validation (the offending field framed in red with the
// reason beside it, Train enabled only when the run can start), with the model's cost and block diagram
// beside the form. The memory preflight runs on every change too: a run whose estimate does not fit in the
// available memory of the device it trains on (the CPU's, or a GPU's in bf16 mixed precision) marks the batch
// size and sequence length with the verdict and keeps Train disabled. Run configs save and load as the JSON
// file `minimind train --config` accepts.
#pragma once

#include <QHash>
#include <QStringList>
#include <QWidget>
#include <functional>
#include <optional>
#include <vector>

#include "config/memory_preflight.h"
#include "train/run_config.h"

class QComboBox;
class QFormLayout;
class QLabel;
class QPushButton;

namespace minimind {

class BlockDiagram;
class ModelSummaryView;

class ConfigView : public QWidget {
  Q_OBJECT
 public:
  explicit ConfigView(QWidget* parent = nullptr);

  // Shows `config` in every control; fields the form does not show (data_dir, threads, ...) are kept as given
  // and come back from run_config().
  void set_run_config(const RunConfig& config);
  RunConfig run_config() const { return config_; }
  bool valid() const { return problems_.isEmpty(); }
  QStringList problems() const { return problems_; }  // "field: reason", model fields first
  QPushButton* train_button() const { return train_button_; }

  // Empty on success, else the error in plain words (also shown in the view); a failed load leaves the form
  // as it was.
  QString load_file(const QString& path);
  QString save_file(const QString& path);

  // The control of a field, named as core names it ("num_attention_heads", "rope_scaling.factor",
  // "batch_size", "learning_rate", "schedule", ...), or "preset"; nullptr for an unknown name.
  QWidget* field(const QString& name) const;
  // The reason shown under a field ("" when it is fine).
  QString field_reason(const QString& name) const;
  QString status_text() const;  // the last load / save message
  ModelSummaryView* summary_view() const { return summary_; }
  // Where the memory check reads the available memory: by default the system's (MemAvailable bounded by the
  // cgroup), read on each change. A source that throws leaves the check out ("not checked").
  void set_memory_source(std::function<AvailableMemory()> source);
  // The device the run will train on ("cpu", "cuda:N"; the Train view's choice): the cost and the memory
  // check are its estimate in the run's precision (MemoryTarget::for_choice: bf16 mixed precision on a GPU
  // unless the run says f32) against `source`, its memory.
  void set_device(const QString& device, std::function<AvailableMemory()> source);
  QString device() const { return device_; }
  BlockDiagram* block_diagram() const { return diagram_; }

 signals:
  void config_changed(const minimind::RunConfig& config);
  void validity_changed(bool valid);
  void train_requested();

 private:
  struct Field {
    QWidget* control = nullptr;
    QWidget* row = nullptr;  // the control, its browse button and its reason: enabled together
    QLabel* reason = nullptr;
    QString tooltip;
  };

  template <typename Access>
  void add_integer(QFormLayout* form, const QString& name, const QString& label, qint64 low, qint64 high,
                   const QString& suffix, const QString& tooltip, Access access);
  template <typename Access>
  void add_number(QFormLayout* form, const QString& name, const QString& label, double low, double high,
                  const QString& suffix, const QString& tooltip, Access access, bool scientific = false);
  template <typename Access>
  void add_check(QFormLayout* form, const QString& name, const QString& label, const QString& tooltip,
                 Access access);
  void add_choice(QFormLayout* form, const QString& name, const QString& label, const QStringList& choices,
                  const QString& tooltip, std::function<QString(const RunConfig&)> get,
                  std::function<void(RunConfig&, const QString&)> set);
  void add_text(QFormLayout* form, const QString& name, const QString& label, const QString& tooltip,
                std::function<QString(const RunConfig&)> get, std::function<void(RunConfig&, const QString&)> set,
                bool browse_directory = false, bool browse_file = false);
  void add_row(QFormLayout* form, const QString& name, const QString& label, QWidget* control,
               const QString& tooltip, QWidget* extra = nullptr);

  void build_form(QWidget* form_page);
  void load_controls();  // config_ -> every control, without echoing changes back
  void edited();          // a control changed config_
  void refresh();         // enabled states, validation marks, memory check, estimates, diagram
  std::optional<MemoryVerdict> memory_verdict(std::optional<AvailableMemory>& available) const;
  void show_status(const QString& text, bool error);
  void apply_preset(const QString& name);
  void set_enabled(const QString& name, bool enabled);
  void mark(Field& field, const QString& reason);

  RunConfig config_;
  QHash<QString, Field> fields_;
  std::vector<std::function<void()>> loaders_;
  bool loading_ = false;
  QStringList problems_;
  bool last_valid_ = true;
  std::function<AvailableMemory()> memory_source_ = available_system_memory;
  QString device_ = QStringLiteral("cpu");
  Device device_kind_ = Device::cpu;  // of device_
  MemoryTarget target() const;        // device_ with the run's precision

  QComboBox* preset_ = nullptr;
  QLabel* problems_label_ = nullptr;
  QLabel* status_ = nullptr;
  QLabel* estimates_note_ = nullptr;
  QPushButton* train_button_ = nullptr;
  ModelSummaryView* summary_ = nullptr;
  BlockDiagram* diagram_ = nullptr;
};

}  // namespace minimind
