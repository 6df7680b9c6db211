// MiniMind Lab, the desktop application. With no arguments it opens on the tiny preset and the default corpus,
// so that one click on Start training trains a model; the window and the last run come back as they were left.
#include <QApplication>
#include <QCommandLineParser>
#include <QTextStream>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "config/model_config.h"
#include "config/presets.h"
#include "io/strict_json.h"
#include "lab/event_loop_monitor.h"
#include "lab/main_window.h"
#include "train/run_config.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName("MiniMind");
  QApplication::setApplicationName("MiniMind Lab");

  QCommandLineParser parser;
  parser.setApplicationDescription("MiniMind Lab: configure, train, watch and talk to MiniMind models.");
  parser.addHelpOption();
  const QCommandLineOption preset_option("preset", "Open on this preset (tiny, small, ...) instead of the last one.",
                                         "name");
  const QCommandLineOption config_option("config", "Open on this run configuration (saved by the lab, or "
                                         "accepted by minimind train --config).", "file");
  const QCommandLineOption latency_option("report-latency",
                                          "On exit, print how late the event loop ran (max and 99th percentile).");
  parser.addOption(preset_option);
  parser.addOption(config_option);
  parser.addOption(latency_option);
  parser.process(app);

  std::optional<minimind::RunConfig> initial;
  try {
    if (parser.isSet(config_option)) {
      // A run configuration saved by the lab, or a model's config.json with the lab's training defaults.
      const std::filesystem::path path = parser.value(config_option).toStdString();
      std::ifstream in(path, std::ios::binary);
      if (!in) throw std::runtime_error("cannot read " + path.string());
      std::stringstream text;
      text << in.rdbuf();
      if (minimind::is_run_config(minimind::parse_json_document(text.str(), path.string()))) {
        initial = minimind::load_run_config(path);
      } else {
        initial = minimind::MainWindow::default_run_config();
        initial->model = minimind::load_config(path);
      }
    } else if (parser.isSet(preset_option)) {
      initial = minimind::MainWindow::default_run_config();
      initial->model = minimind::preset(parser.value(preset_option).toStdString());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "minimind-lab: %s\n", e.what());
    return 2;
  }

  minimind::MainWindow window(initial);
  window.show();
  const int status = app.exec();
  if (parser.isSet(latency_option)) {
    const minimind::EventLoopMonitor& monitor = *window.event_loop_monitor();
    std::printf("event loop latency since the last run started: max %.1f ms, 99th percentile %.1f ms, %lld samples\n",
                monitor.max_latency_ms(), monitor.percentile_ms(0.99), static_cast<long long>(monitor.samples()));
  }
  return status;
}
