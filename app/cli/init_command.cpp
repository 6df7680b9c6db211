// minimind init: a freshly initialised model directory (config.json + model.safetensors).
#include <iostream>

#include "backend/backend_factory.h"
#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "model/model_dir.h"

namespace minimind::cli {

int init_command(int argc, char** argv) {
  std::vector<Option> options = model_options();
  options.push_back({"out", "DIR", "model directory to write"});
  options.push_back({"seed", "N", "initialisation seed (default 0)"});
  options.push_back({"dtype", "TYPE", "storage dtype of the weights: f32 (default), bf16 or f16"});
  Arguments args("init", options, argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind init: write a freshly initialised model directory\n\n" << args.usage();
    return 0;
  }
  const ModelConfig config = model_config_from(args);
  const std::string out = args.required_text("out");
  const std::string dtype = args.text("dtype", "f32");
  const DType storage = dtype == "f32" ? DType::f32 : dtype == "bf16" ? DType::bf16 : dtype == "f16" ? DType::f16
                        : throw UsageError("--dtype must be f32, bf16 or f16, got '" + dtype + "'");
  // Initialisation and saving happen on the host: the weights are written as they are drawn.
  const std::unique_ptr<Backend> backend = make_backend("cpu");
  MiniMindModel model(config, *backend);
  model.init_weights(static_cast<uint64_t>(args.integer("seed", 0)));
  save_model(model, out, storage);
  std::cout << "wrote " << out << "/config.json and model.safetensors (" << model.layout().total()
            << " parameters)\n";
  return 0;
}

}  // namespace minimind::cli
