// Export buttons around a chart (see chart_export.h).
#include "chart_export.h"

#include <QFileDialog>
#include <QHBoxLayout>
#include <QMessageBox>
#include <QPushButton>
#include <QVBoxLayout>

#include "heatmap_widget.h"
#include "metric_chart.h"

namespace minimind {

namespace {

void ask_and_write(QWidget* owner, const QString& suggested, const QString& filter,
                   const ExportWriter& write) {
  const QString path = QFileDialog::getSaveFileName(owner, QObject::tr("Export"), suggested, filter);
  if (path.isEmpty()) return;  // cancelled
  if (!write(path))
    QMessageBox::warning(
        owner, QObject::tr("Export failed"),
        QObject::tr("Could not write %1 (check that the folder exists and is writable).").arg(path));
}

}  // namespace

QWidget* with_export_buttons(QWidget* content, const QString& file_stem, ExportWriter write_png,
                             ExportWriter write_csv, QWidget* parent) {
  auto* frame = new QWidget(parent);
  auto* png = new QPushButton(QObject::tr("Export PNG..."), frame);
  auto* csv = new QPushButton(QObject::tr("Export CSV..."), frame);
  png->setObjectName("export_png");
  csv->setObjectName("export_csv");
  png->setToolTip(QObject::tr("Save a picture of this chart as shown"));
  csv->setToolTip(QObject::tr("Save the numbers behind this chart (every point, not only those drawn)"));
  QObject::connect(png, &QPushButton::clicked, frame, [frame, file_stem, write_png] {
    ask_and_write(frame, file_stem + ".png", "PNG (*.png)", write_png);
  });
  QObject::connect(csv, &QPushButton::clicked, frame, [frame, file_stem, write_csv] {
    ask_and_write(frame, file_stem + ".csv", "CSV (*.csv)", write_csv);
  });
  auto* buttons = new QHBoxLayout;
  buttons->addStretch(1);
  buttons->addWidget(png);
  buttons->addWidget(csv);
  auto* layout = new QVBoxLayout(frame);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(2);
  layout->addLayout(buttons);
  layout->addWidget(content, 1);  // reparents content to the frame
  return frame;
}

QWidget* with_export_buttons(MetricChart* chart, const QString& file_stem, QWidget* parent) {
  return with_export_buttons(
      chart, file_stem, [chart](const QString& path) { return chart->export_png(path); },
      [chart](const QString& path) { return chart->export_csv(path); }, parent);
}

QWidget* with_export_buttons(HeatmapWidget* heatmap, const QString& file_stem, QWidget* parent) {
  return with_export_buttons(
      heatmap, file_stem, [heatmap](const QString& path) { return heatmap->export_png(path); },
      [heatmap](const QString& path) { return heatmap->export_csv(path); }, parent);
}

}  // namespace minimind
