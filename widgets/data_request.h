// What the Data view asks for: which corpus, read how, tokenized by which tokenizer, split how. A plain value
// shared by the Data view (which fills it) and the lab's data controller (which prepares it).
#pragma once

#include <QMetaType>
#include <QString>

namespace minimind {

struct DataRequest {
  enum class CorpusKind {
    builtin_default,  // the lab's shipped corpus: pretrain.jsonl or sft.jsonl by mode
    folder,           // every *.txt file under a folder (pretraining only)
    jsonl,            // a JSONL file: {"text": ...} lines for pretrain, {"conversations": ...} for sft
  };
  CorpusKind corpus_kind = CorpusKind::builtin_default;
  QString corpus_path;     // the folder or the JSONL file; unused for the built-in corpus
  QString tokenizer_path;  // a tokenizer.json (or its folder); empty: the lab's default tokenizer
  QString mode = QStringLiteral("pretrain");  // "pretrain" or "sft"
  double validation_fraction = 0.01;          // share of the documents kept for validation, in [0, 1)
  bool stop_at_bad_input = false;             // false: skip and count bad lines; true: fail at the first

  bool operator==(const DataRequest&) const = default;
};

}  // namespace minimind

Q_DECLARE_METATYPE(minimind::DataRequest)
