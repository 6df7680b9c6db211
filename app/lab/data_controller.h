// The lab's data controller: trains tokenizers and prepares corpora into token shards on a worker thread (one
// job at a time) and reports progress, results and errors as Qt signals delivered on the GUI thread. Each
// distinct choice of corpus, tokenizer, mode and split is prepared once, into its own folder.
#pragma once

#include <QObject>
#include <QString>
#include <atomic>
#include <functional>
#include <optional>
#include <thread>

#include "data/prepare.h"
#include "data_request.h"

namespace minimind {

class DataController : public QObject {
  Q_OBJECT
 public:
  explicit DataController(QObject* parent = nullptr);
  ~DataController() override;  // cancels a running job and joins the worker

  // Trains a byte-level BPE tokenizer of `vocab_size` tokens on the request's corpus (its corpus kind, path,
  // mode and bad-input choice) and writes tokenizer.json and tokenizer_config.json into `out_dir`, as
  // `minimind tokenizer train` does; then tokenizer_trained(). Returns false and emits failed() when a job is
  // running or the request is refused before starting (missing corpus, no output folder).
  bool train_tokenizer(const DataRequest& corpus, int vocab_size, const QString& out_dir);

  // Tokenizes the corpus into data_dir_for(request) as `minimind prepare` does (bos/eos around pretraining
  // documents, 512-character chunks for text folders), then prepared(). An already prepared folder is not
  // prepared again: its summary is read back and prepared() follows at once. Returns false and emits
  // failed() when a job is running or the request is refused before starting.
  bool prepare(const DataRequest& request);

  // Stops a running job at its next progress point; it then emits cancelled() and leaves no shard and no
  // tokenizer file behind.
  void cancel();
  bool busy() const { return busy_; }
  void wait();  // until the worker has ended

  // AppLocalDataLocation/data/<corpus name>-<mode>-<hash>: the hash covers the corpus files (paths, sizes,
  // modification times), the tokenizer file's content, the mode, the validation fraction and the bad-input
  // choice, so a changed corpus or tokenizer gets a fresh folder. Empty when the corpus path is missing.
  static QString data_dir_for(const DataRequest& request);
  // train.shard, validation.shard and prepare.json are there and prepare.json parses.
  static bool is_prepared(const QString& data_dir);
  // The summary of a prepared folder as read back from its prepare.json (seconds and shard paths included).
  static std::optional<PrepareSummary> read_summary(const QString& data_dir);
  // The tokenizer.json a request names: its tokenizer_path (a file, or a folder holding tokenizer.json) or
  // the lab's default tokenizer.
  static QString tokenizer_json_for(const DataRequest& request);

 signals:
  // Stages: "Reading the corpus" and "Tokenizing the corpus" (done/total in input bytes), and the tokenizer
  // trainer's "Tokenize words", "Count pairs" (in distinct words) and "Compute merges" (in tokens added);
  // "Loading the tokenizer" comes with total 0 (no measurable progress).
  void progress(const QString& stage, qint64 done, qint64 total);
  void tokenizer_trained(const QString& tokenizer_json_path);
  void prepared(const QString& data_dir, const minimind::PrepareSummary& summary);
  void failed(const QString& message);  // in plain words, naming the file (and line) at fault
  void cancelled();

 private:
  // Runs `job` on the worker; the job returns what to emit when it succeeds, which is posted after busy()
  // turns false, so a slot of that signal may start the next job at once.
  bool start(std::function<std::function<void()>()> job);
  void post_progress(const QString& stage, qint64 done, qint64 total);
  void post_failure(const QString& message);

  std::thread worker_;
  std::atomic<bool> busy_{false};
  std::atomic<bool> cancel_requested_{false};
};

}  // namespace minimind

Q_DECLARE_METATYPE(minimind::PrepareSummary)
