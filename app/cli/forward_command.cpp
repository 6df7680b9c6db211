// minimind forward: the model's logits, loss and (on request) every parameter's gradient for given token ids,
// written to a safetensors file -- how anyone checks the lab against another implementation.
#include <iostream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/device_option.h"
#include "cli/memory_check.h"
#include "io/safetensors.h"
#include "model/memory_plan.h"
#include "model/model_dir.h"

namespace minimind::cli {

namespace {

Tensor scalar(double value, DType dtype) {
  Tensor t = Tensor::empty({}, dtype);
  if (dtype == DType::f64)
    t.data<double>()[0] = value;
  else
    t.data<float>()[0] = static_cast<float>(value);
  return t;
}

// A sequence predicts its own next ids: targets are the ids shifted left; the last position has no target.
Batch next_token_batch(const Tensor& ids) {
  const int64_t b = ids.dim(0), t = ids.dim(1);
  Batch batch{ids, Tensor::zeros({b, t}, DType::i32), Tensor::zeros({b, t}, DType::f32), {}};
  const int32_t* in = ids.data<int32_t>();
  int32_t* targets = batch.targets.data<int32_t>();
  float* mask = batch.loss_mask.data<float>();
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j + 1 < t; ++j) {
      targets[i * t + j] = in[i * t + j + 1];
      mask[i * t + j] = 1.0f;
    }
  return batch;
}

Batch batch_from_file(const std::string& path, int64_t vocab) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  Tensor ids = file.read("input_ids", DType::i32);
  if (ids.rank() == 1) ids = ids.view({1, ids.dim(0)});
  if (ids.rank() != 2) throw std::runtime_error(path + ": input_ids must be [batch, seq_len], got " + ids.describe());
  for (int32_t id : ids.span<int32_t>())
    if (id < 0 || id >= vocab)
      throw std::runtime_error(path + ": token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                               std::to_string(vocab) + ")");
  Batch batch = next_token_batch(ids);
  if (file.contains("targets")) batch.targets = file.read("targets", DType::i32).view(ids.shape());
  if (file.contains("loss_mask")) batch.loss_mask = file.read("loss_mask", DType::f32).view(ids.shape());
  if (file.contains("attention_mask")) batch.attention_mask = file.read("attention_mask", DType::i32).view(ids.shape());
  return batch;
}

// The preflight: the model directory's config at the shape of --ids (one sequence) or --input's input_ids.
void check_forward_memory(const Arguments& args, DType dtype) {
  const ModelConfig config = load_config(std::filesystem::path(args.required_text("model")) / "config.json");
  Shape shape;
  if (args.has("ids"))
    shape = {1, static_cast<int64_t>(parse_integer_list(args.text("ids"), "--ids").size())};
  else
    shape = SafetensorsFile::open(args.text("input")).entry("input_ids").shape;
  if (shape.size() == 1) shape.insert(shape.begin(), 1);
  // Shapes the forward refuses are left to it: its message names the problem.
  if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1 || shape[1] > config.max_position_embeddings) return;
  MemoryRequest request = forward_request(config, shape[0], shape[1], args.flag("grads"), dtype);
  request.batch_name = "batch";
  request.length_name = "sequence length";
  check_memory_or_refuse(args, request);
}

}  // namespace

int forward_command(int argc, char** argv) {
  Arguments args(
      "forward",
      {{"model", "DIR", "model directory (config.json + model.safetensors)"},
       {"ids", "LIST", "comma-separated token ids of one sequence"},
       {"input", "FILE",
        "safetensors with input_ids [B, T] (and optional targets, loss_mask, attention_mask)"},
       {"out", "FILE", "safetensors to write: logits, loss, cross_entropy, aux_loss, grad.<name>"},
       {"grads", "", "also write every parameter's gradient (grad.<parameter name>)"},
       {"train", "", "training mode: MoE aux loss included, dropout active"},
       {"dropout_seed", "N", "seed of the dropout masks in training mode (default 0)"},
       {"dtype", "TYPE",
        "compute dtype: f32 (default), f64 (CPU) or bf16 (GPU, with f32 master weights; outputs in f32)"},
       device_option(),
       {"threads", "N", "CPU threads (default: all)"},
       skip_memory_check_option()},
      argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind forward: logits, loss and gradients of a model on token ids\n\n"
              << "Without --input, targets are the ids shifted by one and the loss is the mean cross-entropy of\n"
              << "each position's prediction of the next id (plus the MoE aux loss with --train).\n"
              << "The tied embedding's gradient is written once, as grad.model.embed_tokens.weight.\n\n"
              << args.usage();
    return 0;
  }
  const std::string dtype_text = args.text("dtype", "f32");
  if (dtype_text != "f32" && dtype_text != "f64" && dtype_text != "bf16")
    throw UsageError("--dtype must be f32, f64 or bf16");
  const Precision precision = dtype_text == "f64"    ? Precision::f64()
                              : dtype_text == "bf16" ? Precision::bf16_mixed()
                                                     : Precision::f32();
  const DType dtype = precision.statistic();  // of the outputs: logits, losses (wide for bf16)
  if (args.has("ids") == args.has("input")) throw UsageError("give exactly one of --ids and --input");
  const std::string out = args.required_text("out");
  const std::unique_ptr<Backend> backend = backend_from(args);
  if (!backend->supports_compute(precision.compute))
    throw UsageError("--dtype " + dtype_text + ": the " + std::string(device_name(backend->device())) +
                     " does not compute in it");
  check_forward_memory(args, precision.compute);

  auto model = load_model(args.required_text("model"), *backend, precision);
  const int64_t vocab = model->config().vocab_size;

  Batch batch;
  if (args.has("ids")) {
    const std::vector<int64_t> ids = parse_integer_list(args.text("ids"), "--ids");
    Tensor t = Tensor::empty({1, static_cast<int64_t>(ids.size())}, DType::i32);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= vocab)
        throw UsageError("--ids: id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                         " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
      t.data<int32_t>()[i] = static_cast<int32_t>(ids[i]);
    }
    batch = next_token_batch(t);
  } else {
    batch = batch_from_file(args.text("input"), vocab);
  }

  const bool train = args.flag("train");
  const LossTerms loss = model->forward(batch, train, static_cast<uint64_t>(args.integer("dropout_seed", 0)));
  std::vector<NamedTensor> tensors;
  Tensor logits = Tensor::empty(model->logits().shape(), dtype);
  backend->copy(model->logits(), logits);
  tensors.push_back({"logits", logits});
  tensors.push_back({"loss", scalar(loss.loss, dtype)});
  tensors.push_back({"cross_entropy", scalar(loss.cross_entropy, dtype)});
  tensors.push_back({"aux_loss", scalar(loss.aux_loss, dtype)});
  if (args.flag("grads")) {
    model->backward();
    const Tensor grads = backend->to_host(model->gradients().buffer());
    for (const ParameterEntry& e : model->layout().entries())
      tensors.push_back({"grad." + e.name, grads.flat(e.offset, e.shape)});
  }
  save_safetensors(out, tensors, {{"format", "pt"}});
  std::cout << "loss " << loss.loss << " (cross-entropy " << loss.cross_entropy << ", aux " << loss.aux_loss << ") over "
            << loss.scored_tokens << " positions; wrote " << out << "\n";
  return 0;
}

}  // namespace minimind::cli
