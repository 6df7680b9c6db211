// A precise repeating timer; each tick records (time since the previous tick - interval).
#include "lab/event_loop_monitor.h"

#include <algorithm>
#include <cmath>

namespace minimind {

EventLoopMonitor::EventLoopMonitor(QObject* parent, int interval_ms) : QObject(parent), interval_ms_(interval_ms) {
  timer_.setTimerType(Qt::PreciseTimer);
  timer_.setInterval(interval_ms_);
  connect(&timer_, &QTimer::timeout, this, &EventLoopMonitor::tick);
  clock_.start();
  reset();
  timer_.start();
}

void EventLoopMonitor::reset() {
  last_ns_ = clock_.nsecsElapsed();
  window_start_ns_ = last_ns_;
  window_max_ms_ = 0;
  max_ms_ = 0;
  latencies_ms_.clear();
}

void EventLoopMonitor::tick() {
  const qint64 now = clock_.nsecsElapsed();
  const double late_ms = std::max(0.0, (now - last_ns_) * 1e-6 - interval_ms_);
  last_ns_ = now;
  latencies_ms_.push_back(static_cast<float>(late_ms));
  window_max_ms_ = std::max(window_max_ms_, late_ms);
  max_ms_ = std::max(max_ms_, late_ms);
  if (now - window_start_ns_ >= 1'000'000'000) {
    emit measured(window_max_ms_, max_ms_);
    window_start_ns_ = now;
    window_max_ms_ = 0;
  }
}

double EventLoopMonitor::percentile_ms(double fraction) const {
  if (latencies_ms_.empty()) return 0;
  std::vector<float> sorted = latencies_ms_;
  const auto index = static_cast<size_t>(std::clamp(fraction, 0.0, 1.0) * (sorted.size() - 1));
  std::nth_element(sorted.begin(), sorted.begin() + index, sorted.end());
  return sorted[index];
}

}  // namespace minimind
