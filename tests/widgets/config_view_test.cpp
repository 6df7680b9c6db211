// The Configure view against core: a preset fills the fields with the preset's values; an invalid combination
// marks the field core's validate() names, with its reason, and disables Train until fixed; the cost labels
// equal core's estimates; a run that does not fit in the available memory (pushed in through the memory
// source) marks the batch size and sequence length with core's verdict and keeps Train disabled; save then
// load gives back every field; a corrupt file changes nothing (offscreen).
#include "config_view.h"

#include <gtest/gtest.h>

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTemporaryDir>
#include <fstream>
#include <nlohmann/json.hpp>

#include "block_diagram.h"
#include "config/estimates.h"
#include "config/presets.h"
#include "model/memory_plan.h"
#include "model/minimind_model.h"
#include "model_summary_view.h"
#include "text/byte_size.h"

namespace minimind {
namespace {

QSpinBox* spin(const ConfigView& view, const QString& name) {
  auto* box = qobject_cast<QSpinBox*>(view.field(name));
  EXPECT_NE(box, nullptr) << name.toStdString();
  return box;
}

QDoubleSpinBox* number(const ConfigView& view, const QString& name) {
  auto* box = qobject_cast<QDoubleSpinBox*>(view.field(name));
  EXPECT_NE(box, nullptr) << name.toStdString();
  return box;
}

QCheckBox* check(const ConfigView& view, const QString& name) {
  auto* box = qobject_cast<QCheckBox*>(view.field(name));
  EXPECT_NE(box, nullptr) << name.toStdString();
  return box;
}

QComboBox* combo(const ConfigView& view, const QString& name) {
  auto* box = qobject_cast<QComboBox*>(view.field(name));
  EXPECT_NE(box, nullptr) << name.toStdString();
  return box;
}

bool marked(const ConfigView& view, const QString& name) { return view.field(name)->property("invalid").toBool(); }

nlohmann::json as_json(const RunConfig& config) { return run_config_to_json(config); }

// A valid run with every field away from its default.
RunConfig unusual_run() {
  RunConfig c;
  c.model = preset("small");
  c.model.num_hidden_layers = 3;
  c.model.intermediate_size = 1280;
  c.model.use_moe = true;
  c.model.n_routed_experts = 6;
  c.model.num_experts_per_tok = 3;
  c.model.n_shared_experts = 2;
  c.model.aux_loss_alpha = 0.05;
  c.model.seq_aux = false;
  c.model.inference_rope_scaling = true;
  c.model.rope_scaling.factor = 8;
  c.model.rope_scaling.beta_fast = 32;
  c.model.rms_norm_eps = 1e-6;
  c.model.dropout = 0.1;
  c.train.mode = "sft";
  c.train.run_dir = "/tmp/somewhere/run";
  c.train.init_from = "/tmp/somewhere/model";
  c.train.tokenizer = "/tmp/tok/tokenizer.json";
  c.train.batch_size = 7;
  c.train.seq_len = 300;
  c.train.packed = false;
  c.train.accumulation_steps = 4;
  c.train.epochs = 3;
  c.train.max_steps = 1000;
  c.train.schedule.kind = ScheduleKind::warmup_cosine;
  c.train.schedule.learning_rate = 3.7e-4;
  c.train.schedule.warmup_steps = 40;
  c.train.schedule.min_learning_rate = 1.1e-5;
  c.train.schedule.total_steps = 0;
  c.train.adamw.beta1 = 0.8;
  c.train.adamw.beta2 = 0.95;
  c.train.adamw.eps = 1e-7;
  c.train.adamw.weight_decay = 0.05;
  c.train.adamw.decay = DecayGroups::matrices;
  c.train.grad_clip = 0.75;
  c.train.eval_every = 11;
  c.train.eval_batches = 5;
  c.train.save_every = 33;
  c.train.keep_last = 2;
  c.train.log_every = 3;
  c.train.seed = 777;
  c.train.threads = 5;  // not on the form: kept as given
  c.train.spike_z = 4;
  c.train.max_consecutive_skips = 8;
  c.train.sample_every = 20;
  c.train.sample_tokens = 16;
  c.train.probe_prompt = "The river";
  return c;
}

TEST(ConfigView, StartsValidOnTheTinyPreset) {
  ConfigView view;
  EXPECT_TRUE(view.valid()) << view.problems().join("\n").toStdString();
  EXPECT_TRUE(view.train_button()->isEnabled());
  EXPECT_EQ(config_to_json(view.run_config().model), config_to_json(preset("tiny")));
  EXPECT_EQ(combo(view, "preset")->currentText(), "tiny");
}

TEST(ConfigView, ChoosingAPresetFillsTheFieldsWithItsValues) {
  ConfigView view;
  int changes = 0;
  QObject::connect(&view, &ConfigView::config_changed, [&](const RunConfig&) { ++changes; });
  for (const char* name : {"small", "moe", "tiny"}) {
    combo(view, "preset")->setCurrentText(name);
    const ModelConfig expected = preset(name);
    EXPECT_EQ(spin(view, "hidden_size")->value(), expected.hidden_size) << name;
    EXPECT_EQ(spin(view, "num_hidden_layers")->value(), expected.num_hidden_layers) << name;
    EXPECT_EQ(spin(view, "num_attention_heads")->value(), expected.num_attention_heads) << name;
    EXPECT_EQ(spin(view, "num_key_value_heads")->value(), expected.num_key_value_heads) << name;
    EXPECT_EQ(spin(view, "vocab_size")->value(), expected.vocab_size) << name;
    EXPECT_EQ(spin(view, "max_position_embeddings")->value(), expected.max_position_embeddings) << name;
    EXPECT_EQ(check(view, "use_moe")->isChecked(), expected.use_moe) << name;
    EXPECT_EQ(spin(view, "n_routed_experts")->value(), expected.n_routed_experts) << name;
    EXPECT_EQ(number(view, "rope_theta")->value(), expected.rope_theta) << name;
    EXPECT_EQ(config_to_json(view.run_config().model), config_to_json(expected)) << name;
    // The MoE fields only apply with MoE on.
    EXPECT_EQ(view.field("n_routed_experts")->isEnabled(), expected.use_moe) << name;
    EXPECT_EQ(view.field("num_experts_per_tok")->isEnabled(), expected.use_moe) << name;
  }
  EXPECT_EQ(changes, 3);

  // Reset to preset undoes edits of the model.
  spin(view, "hidden_size")->setValue(320);
  EXPECT_EQ(view.run_config().model.hidden_size, 320);
  for (auto* button : view.findChildren<QPushButton*>())
    if (button->text() == "Reset to preset") button->click();
  EXPECT_EQ(spin(view, "hidden_size")->value(), preset("tiny").hidden_size);
}

TEST(ConfigView, HeadsThatDoNotDivideAreMarkedAndTrainWaitsUntilFixed) {
  ConfigView view;
  std::vector<bool> validity;
  QObject::connect(&view, &ConfigView::validity_changed, [&](bool valid) { validity.push_back(valid); });
  ASSERT_EQ(preset("tiny").hidden_size % 7, 4);  // 256 = 36 * 7 + 4: 7 does not divide it
  spin(view, "num_attention_heads")->setValue(7);

  // The same rule core reports, at the same field.
  ModelConfig expected = preset("tiny");
  expected.num_attention_heads = 7;
  const std::vector<ConfigIssue> issues = validate(expected);
  ASSERT_FALSE(issues.empty());
  const QString reason = QString::fromStdString(issues[0].rule);
  EXPECT_TRUE(reason.contains("must divide hidden_size 256")) << reason.toStdString();
  EXPECT_TRUE(marked(view, "num_attention_heads"));
  EXPECT_TRUE(view.field_reason("num_attention_heads").contains(reason));
  EXPECT_TRUE(view.field("num_attention_heads")->toolTip().contains(reason));
  EXPECT_FALSE(view.train_button()->isEnabled());
  EXPECT_FALSE(view.valid());
  EXPECT_TRUE(view.problems().join("\n").contains("num_attention_heads: " + reason));
  EXPECT_FALSE(marked(view, "hidden_size"));
  EXPECT_TRUE(view.field_reason("hidden_size").isEmpty());

  spin(view, "num_attention_heads")->setValue(8);
  EXPECT_FALSE(marked(view, "num_attention_heads"));
  EXPECT_TRUE(view.field_reason("num_attention_heads").isEmpty());
  EXPECT_TRUE(view.train_button()->isEnabled());
  EXPECT_TRUE(view.problems().isEmpty());

  // Key/value heads that do not divide the query heads: the same, on their own field.
  spin(view, "num_key_value_heads")->setValue(3);
  EXPECT_TRUE(marked(view, "num_key_value_heads"));
  EXPECT_TRUE(view.field_reason("num_key_value_heads").contains("must divide num_attention_heads 8"));
  EXPECT_FALSE(view.train_button()->isEnabled());
  spin(view, "num_key_value_heads")->setValue(4);
  EXPECT_TRUE(view.train_button()->isEnabled());
  EXPECT_EQ(validity, (std::vector<bool>{false, true, false, true}));
}

TEST(ConfigView, ASequenceLongerThanTheRopeTableIsRefused) {
  ConfigView view;
  spin(view, "max_position_embeddings")->setValue(128);
  spin(view, "seq_len")->setValue(129);
  EXPECT_TRUE(marked(view, "seq_len"));
  EXPECT_TRUE(view.field_reason("seq_len").contains("must be at most max_position_embeddings 128"));
  EXPECT_FALSE(view.train_button()->isEnabled());
  EXPECT_FALSE(view.summary_view()->isEnabled());  // no estimate for a length the model cannot take
  spin(view, "seq_len")->setValue(128);
  EXPECT_FALSE(marked(view, "seq_len"));
  EXPECT_TRUE(view.train_button()->isEnabled());
}

TEST(ConfigView, TrainingRulesAreMarkedToo) {
  ConfigView view;
  combo(view, "schedule")->setCurrentText("cosine");
  EXPECT_TRUE(view.field("min_learning_rate")->isEnabled());
  number(view, "min_learning_rate")->setValue(1e-2);  // above the 5e-4 rate
  EXPECT_TRUE(marked(view, "min_learning_rate"));
  EXPECT_TRUE(view.field_reason("min_learning_rate").contains("at most learning_rate"));
  EXPECT_FALSE(view.train_button()->isEnabled());
  number(view, "min_learning_rate")->setValue(1e-5);
  EXPECT_TRUE(view.train_button()->isEnabled());

  spin(view, "sample_every")->setValue(10);
  EXPECT_TRUE(view.field("probe_prompt")->isEnabled());
  qobject_cast<QLineEdit*>(view.field("probe_prompt"))->setText("");
  EXPECT_TRUE(marked(view, "probe_prompt"));
  EXPECT_FALSE(view.train_button()->isEnabled());
  spin(view, "sample_every")->setValue(0);  // probes off: the prompt no longer matters
  EXPECT_FALSE(view.field("probe_prompt")->isEnabled());
  EXPECT_TRUE(view.train_button()->isEnabled());
}

TEST(ConfigView, TheCostLabelsAreCoresEstimatesForTheCurrentConfig) {
  ConfigView view;
  combo(view, "preset")->setCurrentText("moe");
  spin(view, "batch_size")->setValue(5);
  spin(view, "seq_len")->setValue(200);
  const ModelConfig model = preset("moe");
  const ParameterCount params = count_parameters(model);
  const double flops = training_flops_per_token(model, 200);
  const MemoryEstimate memory =
      estimate_memory(model, 5, 200, MiniMindModel::activation_bytes(model, 5, 200, DType::f32));
  EXPECT_EQ(memory.total(), training_memory(model, 5, 200).total());
  ASSERT_NE(params.total, params.active);  // MoE: the two figures differ
  const ModelSummaryView* summary = view.summary_view();
  EXPECT_EQ(summary->field_text("Parameters"), QString::number(params.total / 1e6, 'f', 2) + " M");
  EXPECT_EQ(summary->field_text("Active per token"), QString::number(params.active / 1e6, 'f', 2) + " M");
  EXPECT_TRUE(summary->field_text("Training FLOPs per token").startsWith(QString::number(flops / 1e6, 'f', 1) + " MFLOP"));
  EXPECT_EQ(summary->field_text("Total memory"), QString::fromStdString(format_bytes(memory.total())));
  EXPECT_TRUE(summary->field_text("Activations").contains("batch 5 x 200"));

  // The diagram follows the same config.
  const QStringList boxes = view.block_diagram()->box_labels();
  EXPECT_EQ(view.block_diagram()->repeat_label(), QString("%1 \u00d7").arg(model.num_hidden_layers));
  EXPECT_TRUE(boxes.join("|").contains(QString("MoE: %1 experts, top-%2, %3 shared")
                                           .arg(model.n_routed_experts)
                                           .arg(model.num_experts_per_tok)
                                           .arg(model.n_shared_experts)));
}

constexpr int64_t kGiB = int64_t{1} << 30;

TEST(ConfigView, ARunThatDoesNotFitInMemoryIsMarkedAtTheSizesAndTrainWaits) {
  ConfigView view;
  view.set_memory_source([] { return AvailableMemory{24 * kGiB, "MemAvailable"}; });
  EXPECT_TRUE(view.valid()) << view.problems().join("\n").toStdString();
  // The issue's example: the large preset at 64 x 4096 (787 GiB) used to leave Train enabled; in 24 GiB not
  // even one sequence of 4096 fits.
  combo(view, "preset")->setCurrentText("large");
  spin(view, "batch_size")->setValue(64);
  spin(view, "seq_len")->setValue(4096);
  const MemoryVerdict verdict = check_memory(
      [] {
        MemoryRequest r = training_request(preset("large"), 64, 4096, 1);
        r.accumulation_name = "accumulation";
        return r;
      }(),
      {24 * kGiB, "MemAvailable"});
  ASSERT_FALSE(verdict.fits);
  EXPECT_FALSE(view.valid());
  EXPECT_FALSE(view.train_button()->isEnabled());
  EXPECT_TRUE(marked(view, "batch_size"));
  EXPECT_TRUE(marked(view, "seq_len"));
  EXPECT_FALSE(marked(view, "hidden_size"));
  EXPECT_EQ(view.field_reason("batch_size").toStdString(), verdict.message);
  EXPECT_TRUE(view.field_reason("batch_size").contains("needs 787.0 GiB (activations 770.2 GiB"));
  EXPECT_TRUE(
      view.field_reason("batch_size").contains("the longest sequence length that fits at batch size 1 is"));
  EXPECT_TRUE(
      view.field_reason("seq_len").contains("Needs 866.0 GiB with the safety margin; 24.0 GiB is available"));
  EXPECT_TRUE(
      view.problems().join("\n").contains("memory: training at batch size 64 x sequence length 4096"));
  const ModelSummaryView* summary = view.summary_view();
  EXPECT_EQ(summary->field_text("Total memory"), "787.0 GiB");
  EXPECT_EQ(summary->field_text("Available memory"),
            "24.0 GiB (MemAvailable); 866.0 GiB with the safety margin does not fit");

  // The suggested length fits: the marks go and Train comes back.
  ASSERT_TRUE(verdict.largest_length.has_value());
  spin(view, "batch_size")->setValue(1);
  spin(view, "seq_len")->setValue(static_cast<int>(*verdict.largest_length));
  EXPECT_TRUE(view.valid()) << view.problems().join("\n").toStdString();
  EXPECT_TRUE(view.train_button()->isEnabled());
  EXPECT_FALSE(marked(view, "batch_size"));
  EXPECT_FALSE(marked(view, "seq_len"));
  EXPECT_TRUE(summary->field_text("Available memory").endsWith("fits"));
}

TEST(ConfigView, OnAGpuTheCostAndTheCheckAreTheGpusFigures) {
  ConfigView view;
  combo(view, "preset")->setCurrentText("small");
  spin(view, "batch_size")->setValue(64);
  spin(view, "seq_len")->setValue(1024);
  const ModelConfig model = preset("small");
  const MemoryTarget gpu = MemoryTarget::for_device(Device::cuda);
  const MemoryEstimate on_gpu = training_memory(model, 64, 1024, gpu);
  const MemoryEstimate on_cpu = training_memory(model, 64, 1024);
  // Free memory for the GPU's estimate at batch 7.
  const int64_t free_bytes = MemoryMargin{}.with_margin(training_memory(model, 7, 1024, gpu).total());
  int asked = 0;
  view.set_device("cuda:0", [&] {
    ++asked;
    return AvailableMemory{free_bytes, "cuda:0 free memory, NVIDIA H100 80GB HBM3"};
  });
  EXPECT_GT(asked, 0);
  EXPECT_EQ(view.device(), "cuda:0");
  const ModelSummaryView* summary = view.summary_view();
  EXPECT_EQ(summary->field_text("Device"), "cuda:0, bf16 compute, f32 master weights");
  EXPECT_EQ(summary->field_text("Total memory"), QString::fromStdString(format_bytes(on_gpu.total())));
  EXPECT_TRUE(summary->shows("Compute weights"));
  EXPECT_EQ(summary->field_text("Compute weights"),
            QString::fromStdString(format_bytes(on_gpu.compute_weights_bytes)));
  EXPECT_TRUE(summary->shows("GPU buffers"));
  EXPECT_TRUE(summary->field_text("Available memory").contains("(cuda:0 free memory, NVIDIA H100 80GB HBM3)"))
      << summary->field_text("Available memory").toStdString();
  EXPECT_TRUE(marked(view, "batch_size"));
  EXPECT_TRUE(view.field_reason("batch_size")
                  .contains("The largest batch size that fits at sequence length 1024 is 7"))
      << view.field_reason("batch_size").toStdString();
  EXPECT_FALSE(view.train_button()->isEnabled());

  // Back on the CPU: the CPU's figures, without the GPU's rows, against the CPU's memory.
  view.set_device("cpu", [] { return AvailableMemory{int64_t{1} << 50, "MemAvailable"}; });
  EXPECT_EQ(summary->field_text("Device"), "cpu, f32");
  EXPECT_EQ(summary->field_text("Total memory"), QString::fromStdString(format_bytes(on_cpu.total())));
  EXPECT_FALSE(summary->shows("Compute weights"));
  EXPECT_FALSE(summary->shows("GPU buffers"));
  EXPECT_FALSE(marked(view, "batch_size"));
  EXPECT_TRUE(view.train_button()->isEnabled());

  // A run that asks for f32 is estimated in f32 on the GPU too: no compute copy, f32 activations.
  RunConfig f32_run = view.run_config();
  f32_run.train.precision = "f32";
  view.set_run_config(f32_run);
  view.set_device("cuda:0", [] { return AvailableMemory{int64_t{1} << 50, "cuda:0 free memory"}; });
  const MemoryEstimate f32_on_gpu = training_memory(model, 64, 1024, {Device::cuda, Precision::f32()});
  EXPECT_EQ(summary->field_text("Device"), "cuda:0, f32");
  EXPECT_EQ(summary->field_text("Total memory"), QString::fromStdString(format_bytes(f32_on_gpu.total())));
  EXPECT_FALSE(summary->shows("Compute weights"));
  EXPECT_TRUE(summary->shows("GPU buffers"));
}

TEST(ConfigView, WithoutAMemoryFigureTheCheckIsLeftOut) {
  ConfigView view;
  view.set_memory_source(
      []() -> AvailableMemory { throw std::runtime_error("/proc/meminfo: cannot read it"); });
  combo(view, "preset")->setCurrentText("large");
  spin(view, "batch_size")->setValue(64);
  spin(view, "seq_len")->setValue(4096);
  EXPECT_TRUE(view.valid()) << "an unknown figure refuses nothing";
  EXPECT_EQ(view.summary_view()->field_text("Available memory"), "not checked");
}

TEST(ConfigView, TheSystemsMemoryIsCheckedByDefault) {
  ConfigView view;  // the tiny preset at batch 32 x 512 (2.7 GiB): checked against this machine, fit or not
  EXPECT_TRUE(view.summary_view()->field_text("Available memory").contains("with the safety margin"));
}

TEST(ConfigView, SaveThenLoadGivesBackEveryField) {
  QTemporaryDir dir;
  const QString path = dir.filePath("run.json");
  const RunConfig original = unusual_run();
  ASSERT_TRUE(validate(original).empty());
  ConfigView view;
  view.set_run_config(original);
  EXPECT_TRUE(view.valid()) << view.problems().join("\n").toStdString();
  // The controls show it.
  EXPECT_EQ(spin(view, "batch_size")->value(), 7);
  EXPECT_EQ(spin(view, "intermediate_size")->value(), 1280);
  EXPECT_EQ(combo(view, "mode")->currentText(), "sft");
  EXPECT_EQ(combo(view, "schedule")->currentText(), "cosine");
  EXPECT_EQ(combo(view, "decay")->currentText(), "matrices");
  EXPECT_FALSE(check(view, "packed")->isChecked());
  EXPECT_DOUBLE_EQ(number(view, "learning_rate")->value(), 3.7e-4);
  EXPECT_EQ(qobject_cast<QLineEdit*>(view.field("probe_prompt"))->text(), "The river");
  EXPECT_TRUE(view.field("rope_scaling.factor")->isEnabled());

  ASSERT_EQ(view.save_file(path), "");
  view.set_run_config(RunConfig{preset("tiny"), TrainConfig{}});
  ASSERT_NE(as_json(view.run_config()), as_json(original));
  ASSERT_EQ(view.load_file(path), "");
  EXPECT_EQ(as_json(view.run_config()), as_json(original));
  EXPECT_EQ(spin(view, "num_experts_per_tok")->value(), 3);
  EXPECT_EQ(spin(view, "seq_len")->value(), 300);
  // The file is the one the CLI reads.
  EXPECT_EQ(as_json(load_run_config(path.toStdString())), as_json(original));

  // Edits through the controls reach the saved file.
  spin(view, "batch_size")->setValue(9);
  number(view, "learning_rate")->setValue(2e-4);
  check(view, "use_moe")->setChecked(false);
  ASSERT_EQ(view.save_file(path), "");
  const RunConfig edited = load_run_config(path.toStdString());
  EXPECT_EQ(edited.train.batch_size, 9);
  EXPECT_DOUBLE_EQ(edited.train.schedule.learning_rate, 2e-4);
  EXPECT_FALSE(edited.model.use_moe);
  EXPECT_EQ(edited.model.n_routed_experts, 6);
}

TEST(ConfigView, ACorruptFileIsReportedAndTheFormStaysAsItWas) {
  QTemporaryDir dir;
  ConfigView view;
  spin(view, "batch_size")->setValue(11);
  const nlohmann::json before = as_json(view.run_config());

  const QString corrupt = dir.filePath("corrupt.json");
  std::ofstream(corrupt.toStdString()) << "{\"model\": {\"hidden_size\": 64, ";
  QString error = view.load_file(corrupt);
  EXPECT_TRUE(error.contains("not valid JSON")) << error.toStdString();
  EXPECT_TRUE(error.contains(corrupt));
  EXPECT_EQ(view.status_text(), error);
  EXPECT_EQ(as_json(view.run_config()), before);
  EXPECT_EQ(spin(view, "batch_size")->value(), 11);

  const QString wrong_type = dir.filePath("wrong.json");
  nlohmann::json file = before;
  file["train"]["batch_size"] = "eleven";
  std::ofstream(wrong_type.toStdString()) << file.dump();
  error = view.load_file(wrong_type);
  EXPECT_TRUE(error.contains("train.batch_size: expected an integer")) << error.toStdString();
  EXPECT_EQ(as_json(view.run_config()), before);

  error = view.load_file(dir.filePath("missing.json"));
  EXPECT_TRUE(error.contains("cannot open")) << error.toStdString();
  EXPECT_EQ(as_json(view.run_config()), before);

  // Saving an invalid run is refused in words too.
  spin(view, "num_attention_heads")->setValue(7);
  error = view.save_file(dir.filePath("invalid.json"));
  EXPECT_TRUE(error.contains("num_attention_heads")) << error.toStdString();
}

TEST(ConfigView, TrainIsRequestedOnlyWhenValid) {
  ConfigView view;
  int requests = 0;
  QObject::connect(&view, &ConfigView::train_requested, [&] { ++requests; });
  view.train_button()->click();
  EXPECT_EQ(requests, 1);
  spin(view, "num_key_value_heads")->setValue(3);
  view.train_button()->click();  // disabled: no click goes through
  EXPECT_EQ(requests, 1);
}

}  // namespace
}  // namespace minimind
