// The failure wording: out of memory (the host's or a GPU's), a full disk, or the error's own text.
#include "lab/failure_message.h"

#include <QObject>
#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>

#include "backend/device_out_of_memory.h"
#include "text/byte_size.h"
#include "train/out_of_memory_error.h"

namespace minimind {

namespace {

// Whether the error says that a disk (or a quota) is full: by its code, or by the system's text for one of
// those codes, which the checkpoint and log writers put in their messages.
bool is_disk_full(const std::exception& e) {
  constexpr int kFull[] = {ENOSPC, EDQUOT};
  if (const auto* system = dynamic_cast<const std::system_error*>(&e))
    for (const int code : kFull)
      if (system->code() == std::errc(code)) return true;
  const std::string text = e.what();
  for (const int code : kFull)
    if (text.find(std::strerror(code)) != std::string::npos) return true;
  return false;
}

QString bytes_text(int64_t bytes) {
  return QString::fromStdString(format_bytes(bytes));
}

}  // namespace

QString failure_message(const std::exception& e, const std::string& gpu_advice) {
  if (const auto* gpu = dynamic_cast<const DeviceOutOfMemory*>(&e)) {
    const QString figures = QObject::tr("The GPU ran out of memory: an allocation of %1 found %2 free.")
                                .arg(bytes_text(gpu->requested_bytes()), bytes_text(gpu->free_bytes()));
    const QString advice = gpu_advice.empty()
                               ? QObject::tr(
                                     "Lower the batch size or the sequence length (the Configure "
                                     "view shows the estimate).")
                               : QString::fromStdString(gpu_advice);
    return figures + "\n" + advice + "\n(" + QString::fromStdString(e.what()) + ")";
  }
  const QString advice = QObject::tr(
      "this model, batch size and sequence length need more memory than the "
      "machine has free. Lower the batch size or the sequence length (the "
      "Configure view shows the estimate).");
  if (const auto* oom = dynamic_cast<const OutOfMemoryError*>(&e))
    return QObject::tr("Out of memory while %1 at step %2: %3")
        .arg(oom->phase())
        .arg(oom->step())
        .arg(advice);
  if (dynamic_cast<const std::bad_alloc*>(&e)) return QObject::tr("Out of memory: %1").arg(advice);
  if (is_disk_full(e))
    return QObject::tr(
               "The disk is full: free some space, then resume the run from its last checkpoint. (%1)")
        .arg(QString::fromStdString(e.what()));
  return QString::fromStdString(e.what());
}

}  // namespace minimind
