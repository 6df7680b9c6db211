// A model directory: config.json + model.safetensors with the PyTorch MiniMind parameter names, so a model
// moves between the lab and PyTorch without conversion.
#pragma once

#include <filesystem>
#include <memory>

#include "model/minimind_model.h"

namespace minimind {

// Copies every parameter from a safetensors file into the model's master weights, converting F32 / BF16 /
// F16 / F64, and refreshes its compute copy.
// The tied embedding may be stored as model.embed_tokens.weight, lm_head.weight or both (then identical).
// Missing, misshaped or unexpected tensors are refused with their names.
void load_weights(MiniMindModel& model, const std::filesystem::path& safetensors_path);

// config.json + model.safetensors from `directory`. A directory with a COMPLETE marker (a training
// checkpoint) must match it: the marker lists both files and their size and CRC-32C are as recorded, or
// CheckpointError (io/complete_marker.h) names the file and the difference. Without a marker (a model
// exported or written by PyTorch) the safetensors header validation and the parameter checks of load_weights
// stand alone. The model computes in `precision`.
std::unique_ptr<MiniMindModel> load_model(const std::filesystem::path& directory, Backend& backend,
                                          Precision precision = Precision::f32());

// Writes config.json and model.safetensors (atomically each), the master weights in `storage` (f32, bf16,
// f16), with both model.embed_tokens.weight and lm_head.weight so PyTorch's strict load_state_dict accepts
// them.
void save_model(const MiniMindModel& model, const std::filesystem::path& directory, DType storage = DType::f32);

}  // namespace minimind
