// The PNG and CSV export buttons every chart of the lab carries: a chart (or any widget that can write both
// files) is wrapped with two small buttons above it that ask for a file name and say so when writing fails.
#pragma once

#include <QString>
#include <QWidget>
#include <functional>

namespace minimind {

class HeatmapWidget;
class MetricChart;

// Each writer returns false when the file could not be written.
using ExportWriter = std::function<bool(const QString& path)>;

// `content` with "Export PNG..." and "Export CSV..." buttons (object names "export_png" and "export_csv")
// above it; `file_stem` is the suggested file name without extension. The returned widget owns `content`.
QWidget* with_export_buttons(QWidget* content, const QString& file_stem, ExportWriter write_png,
                             ExportWriter write_csv, QWidget* parent = nullptr);
QWidget* with_export_buttons(MetricChart* chart, const QString& file_stem, QWidget* parent = nullptr);
QWidget* with_export_buttons(HeatmapWidget* heatmap, const QString& file_stem, QWidget* parent = nullptr);

}  // namespace minimind
