#include "train/training_log.h"

#include "io/atomic_file.h"
#include "io/error.h"
#include "plot/line_chart.h"

namespace qtalign::train {

TrainingLog::TrainingLog(std::filesystem::path file, std::vector<io::Json> records)
    : file_(std::move(file)), records_(std::move(records)) {
  if (file_.empty()) return;
  std::string contents;
  for (const io::Json& record : records_) contents += record.dump() + "\n";
  io::write_file_atomically(file_, contents);
  stream_.open(file_, std::ios::app);
  if (!stream_) fail_at(file_, "cannot open the training log for appending");
}

void TrainingLog::append(io::Json record) {
  if (stream_.is_open()) {
    stream_ << record.dump() << "\n";
    stream_.flush();
    if (!stream_) fail_at(file_, "cannot write to the training log");
  }
  records_.push_back(std::move(record));
}

TrainingSummary summarize(const std::vector<io::Json>& records) {
  TrainingSummary summary;
  if (records.empty()) return summary;
  summary.steps = records.back().value("step", int64_t(0));
  summary.first_loss = records.front().value("loss", 0.0);
  summary.last_loss = records.back().value("loss", 0.0);
  for (const io::Json& record : records) {
    if (!record.contains("val_loss")) continue;
    const double loss = record["val_loss"].get<double>();
    if (summary.best_validation_loss && !(loss < *summary.best_validation_loss)) continue;
    summary.best_validation_loss = loss;
    summary.best_step = record.value("step", int64_t(0));
  }
  return summary;
}

io::Json to_json(const TrainingSummary& summary) {
  io::Json json = {{"steps", summary.steps}, {"first_loss", summary.first_loss}, {"last_loss", summary.last_loss}};
  if (summary.best_validation_loss) {
    json["best_val_loss"] = *summary.best_validation_loss;
    json["best_step"] = summary.best_step;
  }
  return json;
}

void plot_losses(const std::vector<io::Json>& records, const std::filesystem::path& stem) {
  plot::Series training{"training loss"};
  plot::Series validation{"validation loss"};
  validation.markers = true;
  for (const io::Json& record : records) {
    const double step = record.at("step").get<double>();
    if (record.contains("loss")) {
      training.x.push_back(step);
      training.y.push_back(record["loss"].get<double>());
    }
    if (record.contains("val_loss")) {
      validation.x.push_back(step);
      validation.y.push_back(record["val_loss"].get<double>());
    }
  }
  if (training.x.empty()) return;
  plot::LineChart chart;
  chart.title = "LoRA training";
  chart.x_label = "optimizer step";
  chart.y_label = "loss (mean cross-entropy per target token)";
  chart.series.push_back(std::move(training));
  if (!validation.x.empty()) chart.series.push_back(std::move(validation));
  plot::write_line_chart(chart, stem);
}

}  // namespace qtalign::train
