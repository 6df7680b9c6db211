// Model directories: config.json and model.safetensors in the PyTorch MiniMind layout.
#include "model/model_dir.h"

#include <set>
#include <stdexcept>

#include "io/complete_marker.h"
#include "io/safetensors.h"
#include "tensor/convert.h"

namespace minimind {

namespace {
constexpr const char* kConfigFile = "config.json";
constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kEmbedding = "model.embed_tokens.weight";
constexpr const char* kLmHead = "lm_head.weight";

bool same_values(const Tensor& a, const Tensor& b) {
  return a.bytes() == b.bytes() && std::equal(static_cast<const char*>(a.raw()),
                                              static_cast<const char*>(a.raw()) + a.bytes(),
                                              static_cast<const char*>(b.raw()));
}
}  // namespace

void load_weights(MiniMindModel& model, const std::filesystem::path& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  const ParameterLayout& layout = model.layout();
  const DType dtype = model.precision().master();
  Tensor host = Tensor::empty({layout.total()}, dtype);

  std::set<std::string> expected;
  for (const ParameterEntry& e : layout.entries()) expected.insert(e.name);
  expected.insert(kLmHead);
  std::vector<std::string> unexpected;
  for (const SafetensorsEntry& e : file.entries())
    if (!expected.count(e.name)) unexpected.push_back(e.name);
  if (!unexpected.empty()) {
    std::string names;
    for (size_t i = 0; i < unexpected.size() && i < 8; ++i) names += (i ? ", " : "") + unexpected[i];
    if (unexpected.size() > 8) names += ", ...";
    throw std::runtime_error(path.string() + ": " + std::to_string(unexpected.size()) +
                             " tensors that this model does not have: " + names);
  }

  for (const ParameterEntry& e : layout.entries()) {
    std::string source = e.name;
    if (e.name == kEmbedding) {
      const bool has_embedding = file.contains(kEmbedding), has_head = file.contains(kLmHead);
      if (!has_embedding && !has_head)
        throw std::runtime_error(path.string() + ": missing tensor '" + std::string(kEmbedding) + "' (or its tied '" +
                                 kLmHead + "')");
      if (has_embedding && has_head && !same_values(file.read(kEmbedding, dtype), file.read(kLmHead, dtype)))
        throw std::runtime_error(path.string() + ": '" + std::string(kEmbedding) + "' and '" + kLmHead +
                                 "' differ, but this model ties them");
      source = has_embedding ? kEmbedding : kLmHead;
    } else if (!file.contains(e.name)) {
      throw std::runtime_error(path.string() + ": missing tensor '" + e.name + "'");
    }
    const SafetensorsEntry& entry = file.entry(source);
    if (entry.shape != e.shape)
      throw std::runtime_error(path.string() + ": tensor '" + source + "' has shape " + shape_string(entry.shape) +
                               ", the config needs " + shape_string(e.shape));
    Tensor values = file.read(source, dtype);
    Tensor target = host.flat(e.offset, e.shape);
    std::copy(static_cast<const char*>(values.raw()), static_cast<const char*>(values.raw()) + values.bytes(),
              static_cast<char*>(target.raw()));
  }
  model.backend().copy(host, model.parameters().buffer());
  model.refresh_compute_weights();
}

std::unique_ptr<MiniMindModel> load_model(const std::filesystem::path& directory, Backend& backend,
                                          Precision precision) {
  // A checkpoint certifies its files: a byte changed since in the weights' data would otherwise load without
  // a word. Checked before anything is read or allocated; only the two files used here are read for it.
  if (has_complete_marker(directory)) verify_complete_marker(directory, {kConfigFile, kModelFile});
  const ModelConfig config = load_config(directory / kConfigFile);
  auto model = std::make_unique<MiniMindModel>(config, backend, precision);
  load_weights(*model, directory / kModelFile);
  return model;
}

void save_model(const MiniMindModel& model, const std::filesystem::path& directory, DType storage) {
  std::filesystem::create_directories(directory);
  const Tensor host = model.backend().to_host(model.parameters().buffer());  // the master weights
  std::vector<NamedTensor> tensors;
  for (const ParameterEntry& e : model.layout().entries()) {
    Tensor value = convert_dtype(host.flat(e.offset, e.shape), storage);
    tensors.push_back({e.name, value});
    if (e.name == kEmbedding) tensors.push_back({kLmHead, value});
  }
  save_safetensors(directory / kModelFile, tensors, {{"format", "pt"}});
  save_config(model.config(), directory / kConfigFile);
}

}  // namespace minimind
