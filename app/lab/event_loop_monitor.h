// Measures how late the GUI thread's event loop runs: a timer asks to fire every interval, and the delay
// beyond the interval is how long an input event would have waited. The lab shows it in the status bar and
// reports it on exit, so a freezing window is a number, not an impression.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <vector>

namespace minimind {

class EventLoopMonitor : public QObject {
  Q_OBJECT
 public:
  explicit EventLoopMonitor(QObject* parent = nullptr, int interval_ms = 20);

  void reset();
  double max_latency_ms() const { return max_ms_; }
  double percentile_ms(double fraction) const;  // over every sample since reset(), e.g. 0.99
  int64_t samples() const { return static_cast<int64_t>(latencies_ms_.size()); }

 signals:
  // About once a second: the largest latency of that second and since reset().
  void measured(double last_second_max_ms, double overall_max_ms);

 private:
  void tick();

  QTimer timer_;
  QElapsedTimer clock_;
  int interval_ms_;
  qint64 last_ns_ = 0;
  qint64 window_start_ns_ = 0;
  double window_max_ms_ = 0;
  double max_ms_ = 0;
  std::vector<float> latencies_ms_;
};

}  // namespace minimind
