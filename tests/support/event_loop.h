// Runs the Qt event loop (queued signals from worker threads arrive this way) until a condition holds.
#pragma once

#include <QCoreApplication>
#include <chrono>

namespace minimind {

// Returns false when `limit` passes first.
template <typename Done>
bool wait_for(Done done, std::chrono::milliseconds limit = std::chrono::milliseconds(20000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
  }
  return true;
}

}  // namespace minimind
