// The CLI's side of the preflight: the flag, the device's available memory, the plans of the training
// commands, and how a refusal reads. Sizes that the commands refuse anyway (a length beyond the model's
// context, a non-positive batch) are left to those commands, whose messages name the flag.
#include "cli/memory_check.h"

#include <iostream>

#include "backend/device_list.h"
#include "model/memory_plan.h"

namespace minimind::cli {

Option skip_memory_check_option() {
  return {"skip_memory_check", "",
          "start even when the memory estimate does not fit in the available memory (the process may then be "
          "killed by the kernel's out-of-memory killer)"};
}

void check_memory_or_refuse(const Arguments& args, const MemoryRequest& request, const DeviceSpec& device) {
  AvailableMemory available;
  try {
    available = available_memory(device);
  } catch (const std::runtime_error& e) {
    std::cerr << "warning: the memory check is skipped: " << e.what() << "\n";
    return;
  }
  const MemoryVerdict verdict = check_memory(request, available);
  if (verdict.fits) return;
  if (args.flag("skip_memory_check")) {
    std::cerr << "warning: " << verdict.message << "\nGoing on as --skip_memory_check asks.\n";
    return;
  }
  throw MemoryRefused(verdict.message + "\nTo start anyway, pass --skip_memory_check.");
}

void check_memory_or_refuse(const Arguments& args, const MemoryRequest& request) {
  check_memory_or_refuse(args, request, parse_device(args.text("device", "cpu")));
}

MemoryRequest named_by_flags(MemoryRequest request, const std::string& batch_flag,
                             const std::string& length_flag, const std::string& accumulation_flag) {
  request.batch_name = batch_flag;
  request.length_name = length_flag;
  request.accumulation_name = accumulation_flag;
  return request;
}

std::optional<TrainingPlan> check_training_memory(const Arguments& args, const TrainConfig& config,
                                                  const ModelConfig& model_config) {
  const ModelConfig model = config.init_from ? load_config(*config.init_from / "config.json") : model_config;
  if (config.seq_len > model.max_position_embeddings) return std::nullopt;  // the trainer refuses it
  const DeviceSpec device = parse_device(config.device);
  TrainingPlan plan{
      named_by_flags(training_request(model, config.batch_size, config.seq_len, config.accumulation_steps,
                                      MemoryTarget::for_choice(device.kind, config.precision)),
                     "--batch_size", "--max_seq_len"),
      device};
  check_memory_or_refuse(args, plan.request, plan.device);
  return plan;
}

std::optional<TrainingPlan> check_resumed_memory(const Arguments& args,
                                                 const std::filesystem::path& run_dir) {
  const std::filesystem::path model_file = run_dir / "config.json",
                              train_file = run_dir / "train_config.json";
  if (!std::filesystem::exists(model_file) || !std::filesystem::exists(train_file)) return std::nullopt;
  TrainConfig config;
  ModelConfig model;
  try {
    config = load_train_config(train_file);
    model = load_config(model_file);
  } catch (const std::exception& e) {
    // The resume takes its settings from the checkpoint, not from these files: it may still work.
    std::cerr << "warning: the memory check is skipped: " << e.what() << "\n";
    return std::nullopt;
  }
  if (config.batch_size < 1 || config.seq_len < 1 || config.seq_len > model.max_position_embeddings)
    return std::nullopt;
  const DeviceSpec device = parse_device(args.text("device", config.device));
  // The run keeps the precision it records (f32 where the device cannot compute in it).
  TrainingPlan plan{training_request(model, config.batch_size, config.seq_len, config.accumulation_steps,
                                     MemoryTarget::for_choice(device.kind, config.precision)),
                    device};
  // The run's sizes are fixed by its checkpoints: the message names them as settings, not flags, and says how
  // to train with others.
  try {
    check_memory_or_refuse(args, plan.request, plan.device);
  } catch (const MemoryRefused& refused) {
    throw MemoryRefused(
        std::string(refused.what()) +
        "\nA resumed run keeps the sizes it started with; to train with others, start a new run "
        "from its latest checkpoint with minimind train --from " +
        (run_dir / "checkpoints" / "step-NNNNNN").string() + ".");
  }
  return plan;
}

void check_evaluation_memory(const Arguments& args, const std::filesystem::path& model_dir, int64_t batch,
                             int64_t seq_len) {
  const ModelConfig model = load_config(model_dir / "config.json");
  if (batch < 1 || seq_len < 1 || seq_len > model.max_position_embeddings) return;  // evaluate_model refuses
  const DeviceSpec device = parse_device(args.text("device", "cpu"));
  check_memory_or_refuse(
      args,
      named_by_flags(evaluation_request(model, batch, seq_len, MemoryTarget::for_device(device.kind)),
                     "--batch_size", "--max_seq_len"),
      device);
}

void throw_with_memory_advice(const DeviceOutOfMemory& error, const std::optional<TrainingPlan>& plan) {
  const auto* exception = dynamic_cast<const std::exception*>(&error);
  std::string message = exception ? exception->what() : "the device ran out of memory";
  if (plan) {
    try {
      message += "\n" + out_of_memory_advice(plan->request, device_capacity(plan->device));
    } catch (const std::exception& e) {
      message += "\n(no advice on the sizes: " + std::string(e.what()) + ")";
    }
  }
  throw std::runtime_error(message);
}

}  // namespace minimind::cli
