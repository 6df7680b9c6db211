// The generation worker: a queue of jobs (load, generate, attention) run in order on one thread, each ending
// in a signal posted to the GUI thread. The model and tokenizer are touched only by the worker.
#include "lab/generation_controller.h"

#include <QDir>
#include <QFileInfo>
#include <QLocale>
#include <QMetaObject>

#include <chrono>
#include <filesystem>

#include "backend/backend_factory.h"
#include "config/estimates.h"
#include "config/resources.h"
#include "infer/attention_probe.h"
#include "infer/generator.h"
#include "model/minimind_model.h"
#include "model/model_dir.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace minimind {

namespace {

std::filesystem::path to_path(const QString& path) { return std::filesystem::path(path.toStdString()); }
QString to_qstring(const std::filesystem::path& path) { return QString::fromStdString(path.string()); }

// In plain words, for the status line.
QString stop_reason_text(StopReason reason) {
  switch (reason) {
    case StopReason::stop_id:
      return "end of text";
    case StopReason::stop_string:
      return "stop string";
    case StopReason::max_new_tokens:
      return "max tokens reached";
    case StopReason::context_full:
      return "context full";
    case StopReason::callback:
      return "stopped";
  }
  return "unknown";
}

// "1.2M parameters, 8 layers, hidden 512, vocabulary 6400"
QString describe_config(const ModelConfig& config) {
  const double parameters = static_cast<double>(count_parameters(config).total);
  const QString count = parameters >= 1e6 ? QString::number(parameters / 1e6, 'f', 2) + "M"
                        : parameters >= 1e3 ? QString::number(parameters / 1e3, 'f', 1) + "K"
                                            : QString::number(parameters, 'f', 0);
  return QString("%1 parameters, %2 layers, hidden %3, vocabulary %4%5")
      .arg(count)
      .arg(config.num_hidden_layers)
      .arg(config.hidden_size)
      .arg(config.vocab_size)
      .arg(config.use_moe ? QString(", MoE %1 experts").arg(config.n_routed_experts) : QString());
}

// The messages of a chat request, the oldest exchanges dropped (the system turn kept) until the reply's
// budget fits the context, as ChatSession does.
std::vector<int32_t> chat_prompt(const Tokenizer& tokenizer, const GenerationRequest& request, const QString& message,
                                 int64_t context) {
  std::vector<ChatMessage> messages;
  for (const ChatTurn& turn : request.history)
    messages.push_back({turn.role.toStdString(), turn.content.toStdString()});
  messages.push_back({"user", message.toStdString()});
  const size_t first_turn = !messages.empty() && messages.front().role == "system" ? 1 : 0;
  std::vector<int32_t> ids = encode_chat(tokenizer, messages, true).ids;
  while (static_cast<int64_t>(ids.size()) + request.max_new_tokens > context && messages.size() > first_turn + 1) {
    messages.erase(messages.begin() + static_cast<std::ptrdiff_t>(first_turn));
    ids = encode_chat(tokenizer, messages, true).ids;
  }
  return ids;
}

}  // namespace

GenerationController::GenerationController(QObject* parent, const std::string& device, int threads)
    : QObject(parent),
      threads_(threads),
      device_(QString::fromStdString(device)),
      backend_(make_backend(device, threads)),
      backend_device_(device_) {
  worker_ = std::thread([this] { worker_loop(); });
}

GenerationController::~GenerationController() {
  stop_requested_ = true;
  {
    std::lock_guard lock(jobs_mutex_);
    shutting_down_ = true;
    jobs_.clear();
  }
  jobs_changed_.notify_all();
  worker_.join();
}

void GenerationController::enqueue(Job job) {
  {
    std::lock_guard lock(jobs_mutex_);
    jobs_.push_back(std::move(job));
  }
  jobs_changed_.notify_all();
}

void GenerationController::worker_loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(jobs_mutex_);
      jobs_changed_.wait(lock, [&] { return shutting_down_ || !jobs_.empty(); });
      if (shutting_down_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

void GenerationController::post(std::function<void()> on_gui_thread) {
  QMetaObject::invokeMethod(this, std::move(on_gui_thread), Qt::QueuedConnection);
}

void GenerationController::post_failed(const QString& message) {
  post([this, message] { emit failed(message); });
}

bool GenerationController::refuse(const QString& message) {
  emit failed(message);
  return false;
}

bool GenerationController::load_model_dir(const QString& dir, const QString& tokenizer_path) {
  const QFileInfo info(dir);
  if (dir.isEmpty()) return refuse("No model directory was given");
  if (!info.exists()) return refuse(dir + " does not exist");
  if (!info.isDir()) return refuse(dir + " is not a model directory: it is a file");
  const QDir directory(dir);
  if (!directory.exists("config.json")) return refuse(dir + " is not a model directory: config.json missing");
  if (!directory.exists("model.safetensors"))
    return refuse(dir + " is not a model directory: model.safetensors missing");
  std::filesystem::path tokenizer;
  if (!tokenizer_path.isEmpty()) {
    if (!QFileInfo(tokenizer_path).isFile()) return refuse("The tokenizer file " + tokenizer_path + " does not exist");
    tokenizer = to_path(tokenizer_path);
  } else if (directory.exists("tokenizer.json")) {
    tokenizer = to_path(directory.filePath("tokenizer.json"));
  } else {
    tokenizer = default_tokenizer_dir() / "tokenizer.json";
  }
  stop_requested_ = true;  // a running generation ends before the model changes
  ++loads_queued_;
  enqueue([this, dir, tokenizer] {
    try {
      auto model = load_model(to_path(dir), *backend_);
      model_step_ = 0;
      install(std::move(model), tokenizer, QDir(dir).dirName() + " (" + dir + ")");
    } catch (const std::exception& e) {
      post_failed("Could not load the model in " + dir + ": " + QString::fromStdString(e.what()));
    }
    --loads_queued_;
  });
  return true;
}

bool GenerationController::load_snapshot(ModelSnapshot snapshot, const QString& tokenizer_path) {
  std::promise<ModelSnapshot> ready;
  ready.set_value(std::move(snapshot));
  return load_snapshot(ready.get_future(), tokenizer_path);
}

bool GenerationController::load_snapshot(std::future<ModelSnapshot> pending, const QString& tokenizer_path) {
  if (!pending.valid()) return refuse("No snapshot of the training run was taken");
  if (!tokenizer_path.isEmpty() && !QFileInfo(tokenizer_path).isFile())
    return refuse("The tokenizer file " + tokenizer_path + " does not exist");
  stop_requested_ = true;
  ++loads_queued_;
  // std::function needs a copyable job: the future travels in a shared_ptr.
  auto shared = std::make_shared<std::future<ModelSnapshot>>(std::move(pending));
  enqueue([this, shared, tokenizer_path] {
    try {
      ModelSnapshot snapshot;
      try {
        snapshot = shared->get();
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("could not take a snapshot: ") + e.what());
      }
      std::filesystem::path tokenizer = to_path(tokenizer_path);
      if (tokenizer.empty()) tokenizer = snapshot.tokenizer;
      if (tokenizer.empty()) tokenizer = default_tokenizer_dir() / "tokenizer.json";
      auto model = model_from_snapshot(snapshot, *backend_);
      model_step_ = snapshot.step;
      install(std::move(model), tokenizer, QString("The model being trained, at step %1").arg(snapshot.step));
    } catch (const std::exception& e) {
      post_failed("Could not use the model being trained: " + QString::fromStdString(e.what()));
    }
    --loads_queued_;
  });
  return true;
}

void GenerationController::install(std::unique_ptr<MiniMindModel> model, const std::filesystem::path& tokenizer_path,
                                   const QString& source) {
  Tokenizer tokenizer = Tokenizer::load(tokenizer_path);
  if (tokenizer.vocab_size() > model->config().vocab_size)
    throw std::runtime_error(
        "the tokenizer " + tokenizer_path.string() + " has " + std::to_string(tokenizer.vocab_size()) +
        " tokens, more than the model's vocabulary of " + std::to_string(model->config().vocab_size));
  model_ = std::move(model);
  tokenizer_ = std::make_unique<Tokenizer>(std::move(tokenizer));
  model_source_ = source;
  tokenizer_path_ = tokenizer_path;
  has_model_ = true;
  announce_model();
}

void GenerationController::announce_model() {
  const QString description = model_source_ + " on " + backend_device_ + ": " +
                              describe_config(model_->config()) + "; tokenizer " +
                              to_qstring(tokenizer_path_);
  post([this, description] { emit model_loaded(description); });
}

bool GenerationController::set_device(const QString& device) {
  if (device.trimmed().isEmpty()) return refuse("No device was given");
  stop_requested_ = true;  // a running generation ends before the model moves
  ++loads_queued_;
  enqueue([this, device] {
    try {
      std::unique_ptr<Backend> backend = make_backend(device.toStdString(), threads_);
      std::unique_ptr<MiniMindModel> moved;
      if (model_) moved = model_from_snapshot(take_snapshot(*model_, model_step_), *backend);
      model_ = std::move(moved);  // the old model goes before its backend
      backend_ = std::move(backend);
      backend_device_ = device;
      post([this, device] { device_ = device; });
      if (model_) announce_model();
    } catch (const std::exception& e) {
      post_failed("Could not move generation to " + device + ": " + QString::fromStdString(e.what()));
    }
    --loads_queued_;
  });
  return true;
}

bool GenerationController::generate(const QString& prompt, const GenerationRequest& request) {
  if (!has_model_ && loads_queued_ == 0) return refuse("No model is loaded");
  if (generating_) return refuse("A generation is already running; stop it first");
  if (prompt.isEmpty() && !request.chat) return refuse("The prompt is empty");
  if (request.chat && prompt.trimmed().isEmpty()) return refuse("The message is empty");
  if (request.max_new_tokens < 1) return refuse("Max tokens must be at least 1");
  generating_ = true;
  stop_requested_ = false;
  enqueue([this, prompt, request] {
    try {
      run_generation(prompt, request);
    } catch (const std::exception& e) {
      generating_ = false;
      post_failed("Generation failed: " + QString::fromStdString(e.what()));
    }
  });
  return true;
}

void GenerationController::run_generation(const QString& prompt, const GenerationRequest& request) {
  if (!model_) {
    generating_ = false;
    post_failed("No model is loaded");
    return;
  }
  const int64_t context = model_->config().max_position_embeddings;
  const std::vector<int32_t> ids = request.chat ? chat_prompt(*tokenizer_, request, prompt, context)
                                                : tokenizer_->encode(prompt.toStdString());
  if (ids.empty()) {
    generating_ = false;
    post_failed("The prompt is empty");
    return;
  }
  if (static_cast<int64_t>(ids.size()) >= context) {
    generating_ = false;
    post_failed(QString("The prompt is %1 tokens long; the model's context holds %2, leaving no room for a reply")
                    .arg(ids.size())
                    .arg(context));
    return;
  }
  GenerationOptions options;
  options.sampling.temperature = request.temperature;
  options.sampling.top_k = request.top_k;
  options.sampling.top_p = request.top_p;
  options.sampling.repetition_penalty = request.repetition_penalty;
  options.sampling.seed = request.seed;
  options.sampling.candidates = request.candidates;
  options.max_new_tokens = request.max_new_tokens;

  Generator generator(*model_, *tokenizer_);
  const GenerationResult result = generator.generate(
      {ids}, options,
      [this](int64_t, int32_t id, std::string_view piece, const std::vector<StageCandidates>& stages) {
        TokenCandidates candidates;
        if (!stages.empty())
          for (const Candidate& c : stages.back().top)
            candidates.emplace_back(QString::fromStdString(tokenizer_->decode(std::span<const int32_t>(&c.id, 1))),
                                    c.probability);
        const QString text = QString::fromUtf8(piece.data(), static_cast<qsizetype>(piece.size()));
        post([this, id, text, candidates] { emit token(id, text, candidates); });
        return !stop_requested_.load();
      });
  const GeneratedSequence& sequence = result.sequences.front();
  const double seconds = result.prefill_seconds + result.decode_seconds;
  const double tokens_per_s = seconds > 0 ? static_cast<double>(sequence.tokens.size()) / seconds : 0.0;
  const QString reason = stop_reason_text(sequence.stop_reason);
  generating_ = false;
  post([this, reason, tokens_per_s] { emit finished(reason, tokens_per_s); });
}

void GenerationController::stop() { stop_requested_ = true; }

bool GenerationController::compute_attention(const QString& prompt) {
  if (!has_model_ && loads_queued_ == 0) return refuse("No model is loaded");
  if (prompt.isEmpty()) return refuse("The probe prompt is empty");
  enqueue([this, prompt] {
    try {
      if (!model_) throw std::runtime_error("no model is loaded");
      AttentionMaps maps = probe_attention(*model_, *tokenizer_, prompt.toStdString(), 64, model_step_);
      if (maps.tokens.empty()) throw std::runtime_error("the prompt encodes to no tokens");
      post([this, maps = std::move(maps)] { emit attention_maps(maps); });
    } catch (const std::exception& e) {
      post_failed("Could not compute the attention maps: " + QString::fromStdString(e.what()));
    }
  });
  return true;
}

}  // namespace minimind
