// Progress on stderr: a bar redrawn in place on a terminal, a plain line every few seconds otherwise (logs,
// pipes), so scripts never see carriage-return noise.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace minimind::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label)
      : label_(std::move(label)), terminal_(isatty(fileno(stderr))), start_(std::chrono::steady_clock::now()) {}

  // `done` of `total` units; `detail` follows the figures (e.g. "1.2 MB/s").
  void update(int64_t done, int64_t total, const std::string& detail = "") {
    const auto now = std::chrono::steady_clock::now();
    const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
    const bool finished = total > 0 && done >= total;
    if (finished ? finished_shown_ : since_draw < (terminal_ ? 0.1 : 5.0)) return;
    finished_shown_ = finished;
    last_draw_ = now;
    const double fraction = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0.0;
    if (terminal_) {
      const int width = 30, filled = static_cast<int>(fraction * width);
      std::fprintf(stderr, "\r%s [%s%s] %5.1f%%  %.0fs elapsed, %.0fs left  %s\x1b[K", label_.c_str(),
                   std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), 100 * fraction,
                   elapsed, eta, detail.c_str());
      if (finished) std::fputc('\n', stderr);
    } else {
      std::fprintf(stderr, "%s %.1f%% (%.0fs elapsed) %s\n", label_.c_str(), 100 * fraction, elapsed, detail.c_str());
    }
    std::fflush(stderr);
  }

 private:
  std::string label_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
  bool finished_shown_ = false;
};

}  // namespace minimind::cli
