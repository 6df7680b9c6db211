// The data worker: tokenizer training and corpus preparation off the GUI thread, with throttled progress,
// cancellation at progress points and plain-words errors delivered as queued signals.
#include "lab/data_controller.h"

#include <QByteArray>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QMetaObject>
#include <QStandardPaths>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "config/resources.h"
#include "data/document_source.h"
#include "data/token_shard.h"
#include "io/strict_json.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_config.h"

namespace minimind {

namespace fs = std::filesystem;

namespace {

// Thrown from a progress callback to unwind a job the user stopped.
struct Cancelled {};

// A request that cannot start; the message is shown to the user as it is.
class RequestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

QString q(const fs::path& path) {
  return QString::fromStdString(path.string());
}
fs::path to_path(const QString& text) {
  return fs::path(text.toStdString());
}

// Bumped when the folder layout or the preparation settings change, so old folders are not reused.
constexpr const char* kDataFormatVersion = "data-v1";
constexpr int64_t kTextChunkCharacters = 512;  // as `minimind prepare` cuts text folders

struct ResolvedCorpus {
  SourceKind kind = SourceKind::pretrain_jsonl;
  fs::path input;
  OnBadInput on_bad_input = OnBadInput::skip;
};

ResolvedCorpus resolve_corpus(const DataRequest& request) {
  if (request.mode != "pretrain" && request.mode != "sft")
    throw RequestError("The mode must be pretrain or sft, not \"" + request.mode.toStdString() + "\"");
  const bool sft = request.mode == "sft";
  ResolvedCorpus corpus;
  corpus.on_bad_input = request.stop_at_bad_input ? OnBadInput::stop : OnBadInput::skip;
  std::error_code error;
  switch (request.corpus_kind) {
    case DataRequest::CorpusKind::builtin_default:
      corpus.kind = sft ? SourceKind::sft_jsonl : SourceKind::pretrain_jsonl;
      corpus.input = default_corpus_dir() / (sft ? "sft.jsonl" : "pretrain.jsonl");
      if (!fs::is_regular_file(corpus.input, error))
        throw RequestError("The built-in corpus " + corpus.input.string() +
                           " is missing; set MINIMIND_RESOURCES_DIR to the lab's resources folder");
      break;
    case DataRequest::CorpusKind::folder:
      if (request.corpus_path.trimmed().isEmpty())
        throw RequestError("Choose a folder of .txt files as the corpus");
      corpus.kind = SourceKind::text_folder;
      corpus.input = to_path(request.corpus_path.trimmed());
      if (!fs::exists(corpus.input, error))
        throw RequestError("The corpus folder " + corpus.input.string() + " does not exist");
      if (!fs::is_directory(corpus.input, error))
        throw RequestError(corpus.input.string() +
                           " is not a folder; choose a folder of .txt files, or pick "
                           "\"A JSONL file\" for a .jsonl file");
      if (sft)
        throw RequestError(
            "SFT needs conversations: choose a JSONL file with a \"conversations\" list per line, "
            "not a folder of .txt files");
      break;
    case DataRequest::CorpusKind::jsonl:
      if (request.corpus_path.trimmed().isEmpty()) throw RequestError("Choose a JSONL file as the corpus");
      corpus.kind = sft ? SourceKind::sft_jsonl : SourceKind::pretrain_jsonl;
      corpus.input = to_path(request.corpus_path.trimmed());
      if (!fs::exists(corpus.input, error))
        throw RequestError("The JSONL file " + corpus.input.string() + " does not exist");
      break;
  }
  return corpus;
}

void check_fraction(double fraction) {
  if (!(fraction >= 0 && fraction < 1))
    throw RequestError("The validation fraction must be at least 0 and below 1, got " +
                       std::to_string(fraction));
}

fs::path resolve_tokenizer(const DataRequest& request) {
  const fs::path path = to_path(DataController::tokenizer_json_for(request));
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    if (request.tokenizer_path.trimmed().isEmpty())
      throw RequestError("The default tokenizer " + path.string() +
                         " is missing; set MINIMIND_RESOURCES_DIR to the lab's resources folder");
    throw RequestError("The tokenizer file " + path.string() + " does not exist");
  }
  return path;
}

QString describe(const DataError& error) {
  const QString file = QString::fromStdString(error.file());
  const QString reason = QString::fromStdString(error.reason());
  if (error.line() > 0) return QString("Line %1 of %2: %3").arg(error.line()).arg(file, reason);
  return file + ": " + reason;
}

// "3 lines skipped: 2 malformed JSON, 1 missing field; first at a.jsonl:4: malformed JSON: ..."
std::string describe_skipped(const SourceReport& report) {
  if (!report.skipped()) return "";
  std::string text = std::to_string(report.skipped()) + " inputs skipped (";
  bool first = true;
  for (const auto& [reason, count] : report.skipped_by_reason) {
    text += (first ? "" : ", ") + std::to_string(count) + " " + reason;
    first = false;
  }
  text += ")";
  if (!report.first_issues.empty()) {
    const InputIssue& issue = report.first_issues.front();
    text += "; the first at " + issue.file + (issue.line > 0 ? ":" + std::to_string(issue.line) : "") + ": " +
            issue.reason;
  }
  return text;
}

std::string no_documents_message(const fs::path& input, const SourceReport& report) {
  std::string message = "No document could be read from " + input.string();
  const std::string skipped = describe_skipped(report);
  return skipped.empty() ? message : message + ": " + skipped;
}

// The corpus files' names, sizes and modification times, in a fixed order: what says the corpus changed.
void add_corpus_fingerprint(QCryptographicHash& hash, const ResolvedCorpus& corpus) {
  const char* extension = corpus.kind == SourceKind::text_folder ? ".txt" : ".jsonl";
  std::vector<fs::path> files;
  std::error_code error;
  if (fs::is_directory(corpus.input, error)) {
    for (auto it = fs::recursive_directory_iterator(corpus.input,
                                                    fs::directory_options::skip_permission_denied, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      std::string file_extension = it->path().extension().string();
      std::transform(file_extension.begin(), file_extension.end(), file_extension.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (file_extension == extension) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(corpus.input);
  }
  hash.addData(QByteArray::fromStdString(fs::absolute(corpus.input, error).lexically_normal().string()));
  for (const fs::path& file : files) {
    std::error_code file_error;
    const auto size = fs::file_size(file, file_error);
    const auto modified = fs::last_write_time(file, file_error).time_since_epoch().count();
    hash.addData(QByteArray::fromStdString(file.lexically_relative(corpus.input).string() + "|" +
                                           std::to_string(file_error ? 0 : size) + "|" +
                                           std::to_string(file_error ? 0 : modified) + "\n"));
  }
}

QString folder_label(const DataRequest& request, const ResolvedCorpus& corpus) {
  std::string name = request.corpus_kind == DataRequest::CorpusKind::builtin_default ? "default"
                     : request.corpus_kind == DataRequest::CorpusKind::folder
                         ? corpus.input.lexically_normal().filename().string()
                         : corpus.input.stem().string();
  if (name.empty()) name = corpus.input.lexically_normal().parent_path().filename().string();
  std::string label;
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') label += c;
  if (label.empty()) label = "corpus";
  if (label.size() > 32) label.resize(32);
  return QString::fromStdString(label);
}

// The inverse of prepare.cpp's report_json; throws on a missing or mistyped field.
SourceReport report_from_json(const nlohmann::json& json) {
  SourceReport report;
  report.documents = json.at("documents").get<int64_t>();
  report.bytes = json.at("bytes").get<int64_t>();
  report.skipped_by_reason = json.at("skipped_by_reason").get<std::map<std::string, int64_t>>();
  for (const auto& issue : json.at("first_issues"))
    report.first_issues.push_back({issue.at("file").get<std::string>(), issue.at("line").get<int64_t>(),
                                   issue.at("reason").get<std::string>()});
  return report;
}

void remove_shards(const fs::path& dir) {
  std::error_code ignored;
  for (const char* name : {"train.shard", "validation.shard", "prepare.json"})
    fs::remove(dir / name, ignored);
  fs::remove(dir, ignored);  // only when empty
}

}  // namespace

DataController::DataController(QObject* parent) : QObject(parent) {
  qRegisterMetaType<minimind::PrepareSummary>();
  qRegisterMetaType<minimind::DataRequest>();
}

DataController::~DataController() {
  cancel();
  wait();
}

void DataController::cancel() {
  if (busy_) cancel_requested_ = true;
}

void DataController::wait() {
  if (worker_.joinable()) worker_.join();
}

bool DataController::start(std::function<std::function<void()>()> job) {
  wait();
  cancel_requested_ = false;
  busy_ = true;
  worker_ = std::thread([this, job = std::move(job)] {
    std::optional<QString> failure;
    std::function<void()> success;
    bool stopped = false;
    try {
      success = job();
    } catch (const Cancelled&) {
      stopped = true;
    } catch (const DataError& e) {
      failure = describe(e);
    } catch (const std::exception& e) {
      failure = QString::fromStdString(e.what());
    } catch (...) {
      failure = QStringLiteral("An unexpected error stopped the data job");
    }
    busy_ = false;
    if (stopped)
      QMetaObject::invokeMethod(
          this, [this] { emit cancelled(); }, Qt::QueuedConnection);
    else if (failure)
      post_failure(*failure);
    else if (success)
      QMetaObject::invokeMethod(this, success, Qt::QueuedConnection);
  });
  return true;
}

void DataController::post_progress(const QString& stage, qint64 done, qint64 total) {
  QMetaObject::invokeMethod(
      this, [this, stage, done, total] { emit progress(stage, done, total); }, Qt::QueuedConnection);
}

void DataController::post_failure(const QString& message) {
  QMetaObject::invokeMethod(
      this, [this, message] { emit failed(message); }, Qt::QueuedConnection);
}

namespace {

// Relays progress to the GUI at most every 1/500 of a stage (plus each stage's start and end), so a stage
// that reports every merge never floods the event loop; throws Cancelled when a stop was asked for.
class ProgressRelay {
 public:
  ProgressRelay(const std::atomic<bool>& cancel_requested,
                std::function<void(const QString&, qint64, qint64)> post)
      : cancel_requested_(cancel_requested), post_(std::move(post)) {}

  void operator()(std::string_view stage, int64_t done, int64_t total) {
    // Work that is complete is not thrown away: a stop takes effect at the next point short of the end.
    if (cancel_requested_ && done < total) throw Cancelled{};
    const int64_t step = total > 0 ? done * 500 / total : 0;
    if (stage == stage_ && step == last_step_ && done != total) return;
    if (stage != stage_) stage_ = std::string(stage);
    last_step_ = step;
    post_(QString::fromUtf8(stage.data(), static_cast<qsizetype>(stage.size())), done, total);
  }

 private:
  const std::atomic<bool>& cancel_requested_;
  std::function<void(const QString&, qint64, qint64)> post_;
  std::string stage_;
  int64_t last_step_ = -1;
};

}  // namespace

bool DataController::train_tokenizer(const DataRequest& corpus_request, int vocab_size,
                                     const QString& out_dir) {
  if (busy_) {
    emit failed("Data preparation or tokenizer training is already running; wait for it or stop it first");
    return false;
  }
  ResolvedCorpus corpus;
  try {
    corpus = resolve_corpus(corpus_request);
    if (vocab_size < 1)
      throw RequestError("The vocabulary size must be positive, got " + std::to_string(vocab_size));
    if (out_dir.trimmed().isEmpty()) throw RequestError("Choose an output folder for the new tokenizer");
  } catch (const RequestError& e) {
    emit failed(QString::fromStdString(e.what()));
    return false;
  }
  const fs::path out = to_path(out_dir.trimmed());
  return start([this, corpus, vocab_size, out] {
    ProgressRelay relay(cancel_requested_,
                        [this](const QString& s, qint64 d, qint64 t) { post_progress(s, d, t); });
    BpeTrainerOptions options;
    options.vocab_size = vocab_size;
    options.special_tokens = {"<|endoftext|>", "<|im_start|>",
                              "<|im_end|>"};  // as `minimind tokenizer train`
    options.progress = [&relay](std::string_view stage, int64_t done, int64_t total) {
      relay(stage, done, total);
    };
    BpeTrainer trainer(options);

    auto source = DocumentSource::open(corpus.kind, corpus.input, corpus.on_bad_input);
    relay("Reading the corpus", 0, source->total_bytes());
    Document document;
    while (source->next(document)) {
      // Conversations train on their rendered chat text, so the template's tokens are learned too.
      trainer.feed(corpus.kind == SourceKind::sft_jsonl ? render_chat(document.conversation) : document.text);
      relay("Reading the corpus", source->bytes_read(), source->total_bytes());
    }
    relay("Reading the corpus", source->total_bytes(), source->total_bytes());
    if (source->report().documents == 0)
      throw RequestError(no_documents_message(corpus.input, source->report()));

    Tokenizer tokenizer(trainer.train());
    if (cancel_requested_) throw Cancelled{};
    std::error_code error;
    fs::create_directories(out, error);
    if (error) throw RequestError("Cannot create the folder " + out.string() + ": " + error.message());
    tokenizer.save(out / "tokenizer.json");
    save_tokenizer_config(out / "tokenizer_config.json", make_chat_tokenizer_config(tokenizer));
    return std::function<void()>([this, path = q(out / "tokenizer.json")] { emit tokenizer_trained(path); });
  });
}

bool DataController::prepare(const DataRequest& request) {
  if (busy_) {
    emit failed("Data preparation or tokenizer training is already running; wait for it or stop it first");
    return false;
  }
  ResolvedCorpus corpus;
  fs::path tokenizer_path;
  try {
    corpus = resolve_corpus(request);
    check_fraction(request.validation_fraction);
    tokenizer_path = resolve_tokenizer(request);
  } catch (const RequestError& e) {
    emit failed(QString::fromStdString(e.what()));
    return false;
  }
  const QString data_dir = data_dir_for(request);
  if (data_dir.isEmpty()) {
    emit failed("Cannot find a folder for the prepared data (no writable application data location)");
    return false;
  }
  const double fraction = request.validation_fraction;
  return start([this, corpus, tokenizer_path, data_dir, fraction] {
    if (std::optional<PrepareSummary> summary = read_summary(data_dir); summary && is_prepared(data_dir))
      return std::function<void()>([this, data_dir, s = *summary] { emit prepared(data_dir, s); });
    ProgressRelay relay(cancel_requested_,
                        [this](const QString& s, qint64 d, qint64 t) { post_progress(s, d, t); });
    relay("Loading the tokenizer", 0, 0);  // no measurable progress: shown as busy
    Tokenizer tokenizer = [&] {
      try {
        return Tokenizer::load(tokenizer_path);
      } catch (const std::exception& e) {
        throw RequestError("The tokenizer file " + tokenizer_path.string() + " cannot be used: " + e.what());
      }
    }();
    PrepareOptions options;
    options.kind = corpus.kind;
    options.input = corpus.input;
    options.output_dir = to_path(data_dir);
    options.validation_fraction = fraction;
    options.on_bad_input = corpus.on_bad_input;
    if (corpus.kind == SourceKind::text_folder) options.chunk_size = kTextChunkCharacters;
    if (corpus.kind != SourceKind::sft_jsonl) {
      options.bos_id = tokenizer.token_to_id("<|im_start|>");
      options.eos_id = tokenizer.token_to_id("<|im_end|>");
    }
    PrepareSummary summary;
    try {
      summary = prepare_corpus(options, tokenizer, [&relay](int64_t done, int64_t total) {
        relay("Tokenizing the corpus", done, total);
      });
      if (summary.train_documents + summary.validation_documents == 0)
        throw RequestError(no_documents_message(corpus.input, summary.source));
    } catch (...) {
      remove_shards(options.output_dir);  // a stopped or failed preparation leaves nothing that looks ready
      throw;
    }
    return std::function<void()>([this, data_dir, summary] { emit prepared(data_dir, summary); });
  });
}

QString DataController::tokenizer_json_for(const DataRequest& request) {
  fs::path path = request.tokenizer_path.trimmed().isEmpty() ? default_tokenizer_dir()
                                                             : to_path(request.tokenizer_path.trimmed());
  std::error_code error;
  if (fs::is_directory(path, error)) path /= "tokenizer.json";
  return q(path);
}

QString DataController::data_dir_for(const DataRequest& request) {
  ResolvedCorpus corpus;
  try {
    corpus = resolve_corpus(request);
  } catch (const RequestError&) {
    return {};
  }
  QString root = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation);
  if (root.isEmpty()) return {};
  QCryptographicHash hash(QCryptographicHash::Sha256);
  hash.addData(QByteArray(kDataFormatVersion));
  add_corpus_fingerprint(hash, corpus);
  // The tokenizer by content: a retrained tokenizer.json at the same path gives a new folder.
  QFile tokenizer(tokenizer_json_for(request));
  if (tokenizer.open(QIODevice::ReadOnly))
    hash.addData(&tokenizer);
  else
    hash.addData(tokenizer.fileName().toUtf8());
  hash.addData(QString("|%1|%2|%3")
                   .arg(request.mode)
                   .arg(request.validation_fraction, 0, 'g', 17)
                   .arg(request.stop_at_bad_input ? "stop" : "skip")
                   .toUtf8());
  const QString digest = QString::fromLatin1(hash.result().toHex().left(12));
  return QDir(root).filePath("data/" + folder_label(request, corpus) + "-" + request.mode + "-" + digest);
}

std::optional<PrepareSummary> DataController::read_summary(const QString& data_dir) {
  const fs::path dir = to_path(data_dir);
  std::ifstream file(dir / "prepare.json", std::ios::binary);
  if (!file) return std::nullopt;
  try {
    std::stringstream text;
    text << file.rdbuf();
    const nlohmann::json json = parse_json_document(text.str(), (dir / "prepare.json").string());
    PrepareSummary summary;
    summary.source = report_from_json(json.at("source"));
    if (json.contains("validation_source"))
      summary.validation_source = report_from_json(json.at("validation_source"));
    summary.train_documents = json.at("train").at("documents").get<int64_t>();
    summary.train_tokens = json.at("train").at("tokens").get<int64_t>();
    summary.train_shard = dir / json.at("train").at("shard").get<std::string>();
    summary.validation_documents = json.at("validation").at("documents").get<int64_t>();
    summary.validation_tokens = json.at("validation").at("tokens").get<int64_t>();
    summary.validation_shard = dir / json.at("validation").at("shard").get<std::string>();
    summary.text_bytes = json.at("text_bytes").get<int64_t>();
    summary.text_tokens = json.at("text_tokens").get<int64_t>();
    summary.empty_after_tokenizing = json.at("empty_after_tokenizing").get<int64_t>();
    summary.seconds = json.at("seconds").get<double>();
    return summary;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool DataController::is_prepared(const QString& data_dir) {
  const std::optional<PrepareSummary> summary = read_summary(data_dir);
  if (!summary) return false;
  try {
    TokenShard::open(summary->train_shard);
    TokenShard::open(summary->validation_shard);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

}  // namespace minimind
