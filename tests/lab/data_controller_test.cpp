// The lab's data controller against the core run directly: preparing the default corpus gives the summary and
// the shards that prepare_corpus gives, a second request is served from the prepared folder, bad input fails
// in plain words naming the file, a stop leaves no shard, and a trained tokenizer equals BpeTrainer's.
#include "lab/data_controller.h"

#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QThread>
#include <chrono>
#include <fstream>

#include "config/resources.h"
#include "support/event_loop.h"
#include "support/file_contents.h"
#include "support/scratch_directory.h"
#include "tokenizer/bpe_trainer.h"

namespace minimind {
namespace {

// Points AppLocalDataLocation (through XDG_DATA_HOME) into a scratch folder for one test.
class ScratchDataHome {
 public:
  ScratchDataHome()
      : previous_(qgetenv("XDG_DATA_HOME")), had_previous_(qEnvironmentVariableIsSet("XDG_DATA_HOME")) {
    qputenv("XDG_DATA_HOME", QByteArray::fromStdString((directory_ / "share").string()));
  }
  ~ScratchDataHome() {
    if (had_previous_)
      qputenv("XDG_DATA_HOME", previous_);
    else
      qunsetenv("XDG_DATA_HOME");
  }
  const ScratchDirectory& directory() const { return directory_; }

 private:
  ScratchDirectory directory_;
  QByteArray previous_;
  bool had_previous_;
};

// Everything a controller says, recorded in order.
struct Recorder {
  explicit Recorder(DataController& controller) {
    QObject::connect(
        &controller, &DataController::progress, [this](const QString& stage, qint64 done, qint64 total) {
          stages.push_back(stage);
          last_done[stage] = done;
          last_total[stage] = total;
          on_gui_thread = on_gui_thread && QThread::currentThread() == QCoreApplication::instance()->thread();
        });
    QObject::connect(&controller, &DataController::prepared,
                     [this](const QString& dir, const PrepareSummary& s) {
                       data_dir = dir;
                       summary = s;
                       ++prepared_count;
                     });
    QObject::connect(&controller, &DataController::tokenizer_trained,
                     [this](const QString& path) { tokenizer = path; });
    QObject::connect(&controller, &DataController::failed,
                     [this](const QString& message) { failures << message; });
    QObject::connect(&controller, &DataController::cancelled, [this] { ++cancelled_count; });
  }
  bool ended() const {
    return prepared_count > 0 || !tokenizer.isEmpty() || !failures.isEmpty() || cancelled_count;
  }

  QStringList stages;
  std::map<QString, qint64> last_done, last_total;
  bool on_gui_thread = true;
  QString data_dir, tokenizer;
  std::optional<PrepareSummary> summary;
  int prepared_count = 0, cancelled_count = 0;
  QStringList failures;
};

void expect_same_report(const SourceReport& actual, const SourceReport& expected) {
  EXPECT_EQ(actual.documents, expected.documents);
  EXPECT_EQ(actual.bytes, expected.bytes);
  EXPECT_EQ(actual.skipped_by_reason, expected.skipped_by_reason);
  ASSERT_EQ(actual.first_issues.size(), expected.first_issues.size());
  for (size_t i = 0; i < actual.first_issues.size(); ++i) {
    EXPECT_EQ(actual.first_issues[i].file, expected.first_issues[i].file);
    EXPECT_EQ(actual.first_issues[i].line, expected.first_issues[i].line);
    EXPECT_EQ(actual.first_issues[i].reason, expected.first_issues[i].reason);
  }
}

void expect_same_summary(const PrepareSummary& actual, const PrepareSummary& expected) {
  expect_same_report(actual.source, expected.source);
  EXPECT_EQ(actual.train_documents, expected.train_documents);
  EXPECT_EQ(actual.validation_documents, expected.validation_documents);
  EXPECT_EQ(actual.train_tokens, expected.train_tokens);
  EXPECT_EQ(actual.validation_tokens, expected.validation_tokens);
  EXPECT_EQ(actual.text_bytes, expected.text_bytes);
  EXPECT_EQ(actual.text_tokens, expected.text_tokens);
  EXPECT_EQ(actual.empty_after_tokenizing, expected.empty_after_tokenizing);
}

TEST(DataController, PreparesTheDefaultCorpusAsCorePrepareDoesAndOnlyOnce) {
  ScratchDataHome home;
  DataRequest request;  // the built-in corpus, pretrain, the default tokenizer, 1 % validation
  request.validation_fraction = 0.02;

  // The reference: core prepare_corpus with the options `minimind prepare` uses for a pretrain JSONL.
  const Tokenizer tokenizer = Tokenizer::load(default_tokenizer_dir() / "tokenizer.json");
  PrepareOptions options;
  options.kind = SourceKind::pretrain_jsonl;
  options.input = default_corpus_dir() / "pretrain.jsonl";
  options.output_dir = home.directory() / "direct";
  options.validation_fraction = 0.02;
  options.bos_id = tokenizer.token_to_id("<|im_start|>");
  options.eos_id = tokenizer.token_to_id("<|im_end|>");
  const PrepareSummary expected = prepare_corpus(options, tokenizer);
  ASSERT_GT(expected.validation_documents, 0);

  DataController controller;
  Recorder recorder(controller);
  const QString data_dir = DataController::data_dir_for(request);
  ASSERT_FALSE(data_dir.isEmpty());
  EXPECT_TRUE(data_dir.startsWith(QString::fromStdString((home.directory() / "share").string())));
  EXPECT_FALSE(DataController::is_prepared(data_dir));

  ASSERT_TRUE(controller.prepare(request));
  EXPECT_TRUE(controller.busy() || recorder.ended());
  ASSERT_TRUE(wait_for([&] { return recorder.ended(); }));
  ASSERT_TRUE(recorder.failures.isEmpty()) << recorder.failures.join("\n").toStdString();
  ASSERT_TRUE(recorder.summary.has_value());
  EXPECT_EQ(recorder.data_dir, data_dir);
  expect_same_summary(*recorder.summary, expected);
  // The shards themselves are the core's, byte for byte.
  EXPECT_EQ(read_file(recorder.summary->train_shard), read_file(expected.train_shard));
  EXPECT_EQ(read_file(recorder.summary->validation_shard), read_file(expected.validation_shard));
  EXPECT_TRUE(recorder.stages.contains("Tokenizing the corpus"));
  EXPECT_EQ(recorder.last_done["Tokenizing the corpus"], recorder.last_total["Tokenizing the corpus"]);
  EXPECT_TRUE(recorder.on_gui_thread);
  EXPECT_FALSE(controller.busy());

  EXPECT_TRUE(DataController::is_prepared(data_dir));
  const std::optional<PrepareSummary> read_back = DataController::read_summary(data_dir);
  ASSERT_TRUE(read_back.has_value());
  expect_same_summary(*read_back, expected);
  EXPECT_EQ(read_back->train_shard, recorder.summary->train_shard);

  // The same choice again: served from the prepared folder, nothing tokenized, the shard untouched.
  const auto written = std::filesystem::last_write_time(recorder.summary->train_shard);
  Recorder again(controller);
  ASSERT_TRUE(controller.prepare(request));
  ASSERT_TRUE(wait_for([&] { return again.ended(); }));
  ASSERT_EQ(again.prepared_count, 1);
  EXPECT_EQ(again.data_dir, data_dir);
  expect_same_summary(*again.summary, expected);
  EXPECT_FALSE(again.stages.contains("Tokenizing the corpus"));
  EXPECT_EQ(std::filesystem::last_write_time(recorder.summary->train_shard), written);

  // Another split or mode is another folder.
  DataRequest other = request;
  other.validation_fraction = 0.05;
  EXPECT_NE(DataController::data_dir_for(other), data_dir);
  other = request;
  other.mode = "sft";
  EXPECT_NE(DataController::data_dir_for(other), data_dir);
}

TEST(DataController, AMissingFolderFailsNamingIt) {
  ScratchDataHome home;
  DataController controller;
  Recorder recorder(controller);
  DataRequest request;
  request.corpus_kind = DataRequest::CorpusKind::folder;
  request.corpus_path = QString::fromStdString((home.directory() / "no-such-folder").string());
  EXPECT_FALSE(controller.prepare(request));
  ASSERT_EQ(recorder.failures.size(), 1);
  EXPECT_EQ(recorder.failures[0], "The corpus folder " + request.corpus_path + " does not exist");
  EXPECT_FALSE(
      controller.train_tokenizer(request, 300, QString::fromStdString((home.directory() / "tok").string())));
  EXPECT_EQ(recorder.failures.size(), 2);
  EXPECT_TRUE(recorder.failures[1].contains(request.corpus_path));
  EXPECT_FALSE(std::filesystem::exists(home.directory() / "tok"));
}

TEST(DataController, ACorruptJsonlFailsNamingTheFileAndLine) {
  ScratchDataHome home;
  const std::filesystem::path corrupt = home.directory() / "corrupt.jsonl";
  write_file(corrupt, "{\"text\": \"unterminated\n{\"title\": \"no text field\"}\n");
  DataRequest request;
  request.corpus_kind = DataRequest::CorpusKind::jsonl;
  request.corpus_path = QString::fromStdString(corrupt.string());

  // Skipping bad lines leaves nothing to train on: that is a failure, with the reasons.
  {
    DataController controller;
    Recorder recorder(controller);
    ASSERT_TRUE(controller.prepare(request));
    ASSERT_TRUE(wait_for([&] { return recorder.ended(); }));
    ASSERT_EQ(recorder.failures.size(), 1);
    EXPECT_EQ(recorder.prepared_count, 0);
    const QString message = recorder.failures[0];
    EXPECT_TRUE(message.startsWith("No document could be read from " + request.corpus_path))
        << message.toStdString();
    EXPECT_TRUE(message.contains("2 inputs skipped")) << message.toStdString();
    EXPECT_TRUE(message.contains(request.corpus_path + ":1: malformed JSON")) << message.toStdString();
    const QString data_dir = DataController::data_dir_for(request);
    EXPECT_FALSE(DataController::is_prepared(data_dir));
    EXPECT_FALSE(std::filesystem::exists(data_dir.toStdString() + "/train.shard"));
  }
  // Stopping at the first bad line names it.
  request.stop_at_bad_input = true;
  DataController controller;
  Recorder recorder(controller);
  ASSERT_TRUE(controller.prepare(request));
  ASSERT_TRUE(wait_for([&] { return recorder.ended(); }));
  ASSERT_EQ(recorder.failures.size(), 1);
  EXPECT_TRUE(recorder.failures[0].startsWith("Line 1 of " + request.corpus_path + ": malformed JSON"))
      << recorder.failures[0].toStdString();
}

// prepare.json decides whether a folder is reused without tokenizing again: one that repeats a key or nests
// past 64 levels is not trusted (the folder is prepared afresh), and never crashes the lab.
TEST(DataController, ASummaryWithADuplicateKeyOrDeepNestingIsNotTrusted) {
  ScratchDirectory dir;
  write_file(dir / "corpus.jsonl", "{\"text\": \"one document\"}\n{\"text\": \"and another\"}\n");
  PrepareOptions options;
  options.input = dir / "corpus.jsonl";
  options.output_dir = dir / "prepared";
  options.validation_fraction = 0;
  prepare_corpus(options, Tokenizer::load(default_tokenizer_dir() / "tokenizer.json"));
  const QString data_dir = QString::fromStdString(options.output_dir.string());
  ASSERT_TRUE(DataController::is_prepared(data_dir));

  const std::string summary = read_file(options.output_dir / "prepare.json");
  ASSERT_EQ(summary.front(), '{');
  for (const std::string& damaged :
       {"{\"text_tokens\": 0, " + summary.substr(1),
        "{\"extra\": " + std::string(100000, '[') + std::string(100000, ']') + ", " + summary.substr(1)}) {
    write_file(options.output_dir / "prepare.json", damaged);
    EXPECT_FALSE(DataController::read_summary(data_dir).has_value());
    EXPECT_FALSE(DataController::is_prepared(data_dir));
  }
}

TEST(DataController, AStoppedPreparationLeavesNoShard) {
  ScratchDataHome home;
  // A corpus big enough that the stop arrives while it is being tokenized.
  const std::filesystem::path corpus = home.directory() / "big.jsonl";
  {
    std::ofstream file(corpus, std::ios::binary);
    for (int i = 0; i < 150000; ++i)
      file << "{\"text\": \"Line " << i
           << " of a corpus that is long enough to take a while to tokenize.\"}\n";
  }
  DataRequest request;
  request.corpus_kind = DataRequest::CorpusKind::jsonl;
  request.corpus_path = QString::fromStdString(corpus.string());
  DataController controller;
  Recorder recorder(controller);
  QObject::connect(&controller, &DataController::progress, &controller, [&](const QString& stage) {
    if (stage == "Tokenizing the corpus") controller.cancel();
  });
  ASSERT_TRUE(controller.prepare(request));
  EXPECT_FALSE(controller.prepare(request));  // one job at a time
  ASSERT_EQ(recorder.failures.size(), 1);
  EXPECT_TRUE(recorder.failures[0].contains("already running"));
  ASSERT_TRUE(wait_for([&] { return recorder.cancelled_count > 0 || recorder.prepared_count > 0; }));
  EXPECT_EQ(recorder.cancelled_count, 1);
  EXPECT_EQ(recorder.prepared_count, 0);
  controller.wait();
  const QString data_dir = DataController::data_dir_for(request);
  EXPECT_FALSE(DataController::is_prepared(data_dir));
  EXPECT_FALSE(std::filesystem::exists(data_dir.toStdString() + "/train.shard"));
  EXPECT_FALSE(std::filesystem::exists(data_dir.toStdString() + "/validation.shard"));
}

TEST(DataController, TrainsATokenizerAsBpeTrainerDoes) {
  ScratchDataHome home;
  const std::filesystem::path corpus = home.directory() / "corpus";
  std::filesystem::create_directories(corpus);
  const std::vector<std::string> texts = {
      "the quick brown fox jumps over the lazy dog. the dog sleeps; the fox runs.\n",
      "a tokenizer learns the pairs of bytes that occur most often: th, he, the, fox, dog.\n",
      "漠漠秋云起，稍稍夜寒生。秋云起，夜寒生。\n"};
  for (size_t i = 0; i < texts.size(); ++i)
    write_file(corpus / ("part" + std::to_string(i) + ".txt"), texts[i]);

  DataController controller;
  Recorder recorder(controller);
  DataRequest request;
  request.corpus_kind = DataRequest::CorpusKind::folder;
  request.corpus_path = QString::fromStdString(corpus.string());
  const std::filesystem::path out = home.directory() / "tokenizer";
  ASSERT_TRUE(controller.train_tokenizer(request, 300, QString::fromStdString(out.string())));
  ASSERT_TRUE(wait_for([&] { return recorder.ended(); }));
  ASSERT_TRUE(recorder.failures.isEmpty()) << recorder.failures.join("\n").toStdString();
  EXPECT_EQ(recorder.tokenizer, QString::fromStdString((out / "tokenizer.json").string()));
  EXPECT_TRUE(recorder.stages.contains("Reading the corpus"));
  EXPECT_TRUE(recorder.stages.contains("Compute merges"));
  EXPECT_GT(recorder.last_total["Compute merges"], 0);
  EXPECT_TRUE(std::filesystem::exists(out / "tokenizer_config.json"));

  const Tokenizer trained = Tokenizer::load(out / "tokenizer.json");
  BpeTrainerOptions options;
  options.vocab_size = 300;
  options.special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  BpeTrainer reference(options);
  for (const std::string& text : texts) reference.feed(text);
  const Tokenizer expected(reference.train());
  EXPECT_EQ(trained.vocab_size(), expected.vocab_size());
  EXPECT_EQ(trained.model().merges, expected.model().merges);
  EXPECT_EQ(trained.encode("the fox and the dog"), expected.encode("the fox and the dog"));
}

}  // namespace
}  // namespace minimind
