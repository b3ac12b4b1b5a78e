#include "report/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "analysis/representations.h"
#include "analysis/representations_json.h"
#include "eval/compare.h"
#include "eval/results.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"
#include "io/provenance.h"

namespace qtalign::report {
namespace {

namespace fs = std::filesystem;
using Kind = ReportBlock::Kind;

// Scatter plots shown per variant in the HTML page (evenly spaced layers, first and last included).
constexpr size_t kScatterLayersShown = 6;

ReportBlock paragraph(std::string text) { return {Kind::paragraph, std::move(text), {}, {}, {}}; }
ReportBlock notice(std::string text) { return {Kind::notice, std::move(text), {}, {}, {}}; }
ReportBlock table_block(ReportTable table) { return {Kind::table, "", std::move(table), {}, {}}; }
ReportBlock details(std::string summary, std::vector<ReportBlock> children) {
  return {Kind::details, std::move(summary), {}, {}, std::move(children)};
}

// A row of the figures that exist (a note instead when none does).
ReportBlock figures(const fs::path& study_dir, std::vector<ReportFigure> candidates) {
  std::vector<ReportFigure> present;
  for (ReportFigure& figure : candidates)
    if (fs::is_regular_file(study_dir / figure.image)) present.push_back(std::move(figure));
  if (present.empty()) return paragraph("(figure not available: its stage has not run)");
  return {Kind::figures, "", {}, std::move(present), {}};
}

std::string percent(double value) { return fmt::format("{:.1f}", 100 * value); }
std::string signed_points(double value) { return fmt::format("{:+.1f}", 100 * value); }
std::string number(double value) { return fmt::format("{:.4g}", value); }
std::string signed_number(double value) { return fmt::format("{:+.3f}", value); }

std::optional<io::Json> read_if_present(const fs::path& file) {
  if (!fs::is_regular_file(file)) return std::nullopt;
  return io::read_json_file(file);
}

std::string json_text(const io::Json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

// ---- sections ----

ReportSection overview_section(const io::Json& study, const std::optional<eval::Comparison>& comparison,
                               const std::optional<eval::EvalResults>& base) {
  ReportSection section{"Overview", {}};
  const io::Json settings = study.value("settings", io::Json::object());
  if (study.value("demo", false))
    section.blocks.push_back(notice("Demo run. " + study.value("demo_model", std::string("demo model")) +
                                    ". Real results need a real checkpoint: qtalign run --model DIR."));
  const io::Json build = study.value("stages", io::Json::object()).value("data: question-translation training set", io::Json::object());
  std::string text = fmt::format(
      "Question-translation tuning on the {} task's questions in {} (inputs in those languages, the same questions in "
      "English as targets, no answers anywhere), then few-shot evaluation",
      settings.value("task", "?"), fmt::join(settings.value("train_languages", std::vector<std::string>{}), ", "));
  if (base) {
    std::vector<std::string> tasks;
    for (const eval::TaskResults& task : base->tasks)
      tasks.push_back(fmt::format("{} ({} languages, {}-shot)", task.task, task.languages.size(), task.shots));
    text += fmt::format(" on {}, scored with {}", fmt::join(tasks, ", "), json_text(base->provenance.value("mode", io::Json("?"))));
  }
  text += ".";
  if (build.contains("examples")) text += fmt::format(" Training examples: {}.", json_text(build["examples"]));
  if (settings.value("eval_limit", 0) > 0)
    text += fmt::format(" At most {} evaluation items per task and language.", json_text(settings["eval_limit"]));
  section.blocks.push_back(paragraph(text));
  if (!comparison) {
    section.blocks.push_back(paragraph("The base-vs-tuned comparison is not available yet (its stage has not run)."));
    return section;
  }
  ReportTable averages{{"task", "base (%)", "tuned (%)", "delta (points)", "seen: base / tuned / delta",
                        "unseen: base / tuned / delta"},
                       {},
                       fmt::format("Macro-average accuracy over languages; seen = the tuning languages and the target "
                                   "({}), as in eval/tuned.json and compare/compare.json.",
                                   fmt::join(comparison->seen_languages, ", "))};
  const auto group = [](const std::optional<eval::AverageChange>& change) {
    return change ? fmt::format("{} / {} / {}", percent(change->base), percent(change->tuned), signed_points(change->delta))
                  : std::string("n/a");
  };
  for (const eval::TaskComparison& task : comparison->tasks)
    averages.rows.push_back({task.task, percent(task.all.base), percent(task.all.tuned), signed_points(task.all.delta),
                             group(task.seen), group(task.unseen)});
  averages.rows.push_back({"all tasks", percent(comparison->all.base), percent(comparison->all.tuned),
                           signed_points(comparison->all.delta), group(comparison->seen), group(comparison->unseen)});
  section.blocks.push_back(table_block(std::move(averages)));
  return section;
}

ReportSection accuracy_section(const fs::path& dir, const std::optional<eval::Comparison>& comparison) {
  ReportSection section{"Accuracy per language", {}};
  if (!comparison) {
    section.blocks.push_back(paragraph("Not available yet: the evaluations have not both run."));
    return section;
  }
  section.blocks.push_back(paragraph(
      "Few-shot accuracy of the base and the tuned model per language, with 95% Wilson intervals; "
      "delta in percentage points. Files: eval/base.json, eval/tuned.json, compare/compare.json."));
  for (const eval::TaskComparison& task : comparison->tasks) {
    ReportTable table{{"language", "seen in tuning", "base (%)", "base 95% CI", "tuned (%)", "tuned 95% CI", "delta (points)"},
                      {},
                      fmt::format("{}: improved in {} of {} languages", task.task, task.improved().size(),
                                  task.languages.size())};
    for (const eval::LanguageChange& change : task.languages) {
      const bool seen = std::find(comparison->seen_languages.begin(), comparison->seen_languages.end(),
                                  change.language) != comparison->seen_languages.end();
      table.rows.push_back({change.language, seen ? "yes" : "", percent(change.base.value),
                            fmt::format("{}-{}", percent(change.base.lower), percent(change.base.upper)),
                            percent(change.tuned.value),
                            fmt::format("{}-{}", percent(change.tuned.lower), percent(change.tuned.upper)),
                            signed_points(change.delta)});
    }
    section.blocks.push_back(table_block(std::move(table)));
    section.blocks.push_back(figures(
        dir, {{fs::path("compare") / ("compare_" + task.task + ".png"), task.task + ": accuracy per language, base vs tuned"}}));
  }
  return section;
}

ReportSection training_section(const fs::path& dir) {
  ReportSection section{"Training", {}};
  const std::optional<io::Json> summary = read_if_present(dir / "adapter" / "training_summary.json");
  if (!summary) {
    section.blocks.push_back(paragraph("Not available yet: training has not finished."));
    return section;
  }
  ReportTable table{{"steps", "first training loss", "last training loss", "best validation loss (step)"}, {}, ""};
  table.rows.push_back({json_text(summary->value("steps", io::Json(0))), number(summary->value("first_loss", 0.0)),
                        number(summary->value("last_loss", 0.0)),
                        summary->contains("best_val_loss")
                            ? fmt::format("{} ({})", number((*summary)["best_val_loss"].get<double>()),
                                          json_text((*summary)["best_step"]))
                            : "n/a"});
  section.blocks.push_back(table_block(std::move(table)));
  if (const auto config = read_if_present(dir / "adapter" / "adapter_config.json"))
    section.blocks.push_back(paragraph(fmt::format(
        "LoRA adapter (PEFT format, adapter/): rank {}, alpha {}, dropout {}, target modules {}.",
        json_text(config->value("r", io::Json("?"))), json_text(config->value("lora_alpha", io::Json("?"))),
        json_text(config->value("lora_dropout", io::Json("?"))), json_text(config->value("target_modules", io::Json("?"))))));
  section.blocks.push_back(figures(dir, {{fs::path("adapter") / "loss.png", "Training and validation loss"}}));
  return section;
}

// The entry of `language` in a lens summary.json, if any.
const io::Json* lens_entry(const io::Json& summary, const std::string& language) {
  for (const io::Json& entry : summary)
    if (entry.at("language") == language) return &entry;
  return nullptr;
}

ReportSection lens_section(const fs::path& dir) {
  ReportSection section{"Logit lens", {}};
  section.blocks.push_back(paragraph(
      "As in the study (after Wendler et al. 2024): at every layer the residual stream at the answer position (the "
      "prompt ends right after the opening quote) is read through the final norm and the unembedding. Prompts use "
      "demonstrations answered in the test language itself. Per layer: the probability of the correct answer written "
      "in English (the latent answer), of the correct answer in the test language, of all possible answers in the "
      "test language and in English (each answer: the prefix-sum candidate tokens of its word), and the entropy. A "
      "model that works through English shows the latent answer rising in the middle layers before the test-language "
      "answer wins at the top. Items whose English and test-language answers share a candidate token are left out "
      "(counted below). Lines: mean over items with 95% bootstrap bands; entropy in bits on the fixed scale 0..log2(vocabulary)."));
  section.blocks.push_back(figures(dir, {{fs::path("lens/base/overview_latent.png"), "Base: latent English answer"},
                                         {fs::path("lens/tuned/overview_latent.png"), "Tuned: latent English answer"}}));
  section.blocks.push_back(
      figures(dir, {{fs::path("lens/base/overview_native.png"), "Base: correct answer in the test language"},
                    {fs::path("lens/tuned/overview_native.png"), "Tuned: correct answer in the test language"}}));
  const std::optional<io::Json> base = read_if_present(dir / "lens" / "base" / "summary.json");
  const std::optional<io::Json> tuned = read_if_present(dir / "lens" / "tuned" / "summary.json");
  if (!base || !tuned) {
    section.blocks.push_back(paragraph("The lens table needs both the base and the tuned lens (not run yet)."));
    return section;
  }
  ReportTable table{{"language", "items", "dropped (shared tokens)", "latent English answer, peak (layer): base",
                     "tuned", "correct answer in language, last layer: base", "tuned", "entropy (bits), last layer: base",
                     "tuned"},
                    {},
                    "Peak: the layer where the mean probability of the correct English answer is highest. Last layer: "
                    "the model's own output distribution."};
  std::vector<ReportBlock> per_language;
  for (const io::Json& entry : *base) {
    const std::string language = entry.at("language").get<std::string>();
    const io::Json* other = lens_entry(*tuned, language);
    if (!other) continue;
    const std::string items = json_text(entry.at("items")), dropped = json_text(entry.at("dropped_overlap"));
    if (!entry.contains("last_layer") || !other->contains("last_layer")) {
      table.rows.push_back({language, items, dropped, "every item dropped", "", "", "", "", ""});
      continue;
    }
    const io::Json& b = entry.at("last_layer");
    const io::Json& t = other->at("last_layer");
    const auto peak = [](const io::Json& e) {
      const io::Json& p = e.at("peak_correct_english");
      return fmt::format("{} ({})", number(p.at("mean").get<double>()), json_text(p.at("layer")));
    };
    table.rows.push_back({language, items, dropped, peak(entry), peak(*other),
                          number(b.at("correct_native").get<double>()), number(t.at("correct_native").get<double>()),
                          fmt::format("{:.3f}", b.at("entropy_bits").get<double>()),
                          fmt::format("{:.3f}", t.at("entropy_bits").get<double>())});
    per_language.push_back(figures(dir, {{fs::path("lens/comparison") / (language + ".png"),
                                          language + ": base (dashed) vs tuned (solid)"}}));
    per_language.push_back(figures(dir, {{fs::path("lens/base") / (language + ".png"), language + ", base"},
                                         {fs::path("lens/tuned") / (language + ".png"), language + ", tuned"}}));
  }
  section.blocks.push_back(table_block(std::move(table)));
  section.blocks.push_back(details("Per-language lens charts (base vs tuned; base | tuned)", std::move(per_language)));
  return section;
}

std::optional<analysis::RepresentationResult> read_representations(const fs::path& file) {
  if (!fs::is_regular_file(file)) return std::nullopt;
  return analysis::representation_result_from_json(io::read_json_file(file), file);
}

std::vector<size_t> shown_layers(size_t count) {
  std::vector<size_t> shown;
  if (count <= kScatterLayersShown) {
    for (size_t i = 0; i < count; ++i) shown.push_back(i);
    return shown;
  }
  for (size_t k = 0; k < kScatterLayersShown; ++k) {
    const size_t index = static_cast<size_t>(std::llround(double(k) * double(count - 1) / double(kScatterLayersShown - 1)));
    if (shown.empty() || shown.back() != index) shown.push_back(index);
  }
  return shown;
}

std::string prompt_description(analysis::RepresentationPrompt prompt) {
  switch (prompt) {
    case analysis::RepresentationPrompt::study: return "the study's prompt (2-shot, demonstrations answered in the language itself)";
    case analysis::RepresentationPrompt::question: return "the question alone";
    case analysis::RepresentationPrompt::few_shot: return "the few-shot evaluation prompt (English labels)";
  }
  return analysis::representation_prompt_name(prompt);
}

// Representation results as the report reads them (read_representations).
using Representations = std::optional<analysis::RepresentationResult>;

// What the representation analysis measures, in the words of the study.
ReportBlock representation_method(const analysis::RepresentationResult& base) {
  return paragraph(fmt::format(
      "As in the study: per layer, each item's prompt ({}) is {}-pooled over its tokens into one vector, for the "
      "same {} items ({}) in {} languages (the last layer after the final norm). One 1-D PCA is fitted to the "
      "study's seven languages (en, de, fr, hi, th, sw, ms) together and each pair's item coordinates are "
      "correlated (Pearson r, paired by parallel item), as the study's notebook; the study's claim is that "
      "tuning raises this correlation for low-resource languages with the high-resource ones. The cosine "
      "similarity with English's vector of the same item measures alignment directly; the PCA scatters show "
      "whether languages cluster apart or mix.",
      prompt_description(base.prompt), analysis::pooling_name(base.pooling), base.item_indices.size(),
      base.item_pick, base.languages.size()));
}

// The pair correlations base -> tuned at the `shown` layers: a table, the last layer's chart and the others'.
void add_pair_correlations(ReportSection& section, const fs::path& dir, const analysis::RepresentationResult& base,
                           const analysis::RepresentationResult& tuned, const std::vector<size_t>& shown) {
  ReportTable correlations{{"pair"}, {}, "Pearson r of the items' 1-D PCA coordinates, base -> tuned (delta), at evenly "
                                         "spaced layers; every layer is in pca/pair_correlation_comparison.md."};
  for (size_t index : shown) correlations.header.push_back(fmt::format("layer {}", base.layers[index].layer));
  for (size_t p = 0; p < base.pairs.size(); ++p) {
    std::vector<std::string> row{base.pairs[p].first + "-" + base.pairs[p].second};
    for (size_t index : shown) {
      const std::optional<double>& before = base.layers[index].pair_correlation[p];
      const std::optional<double>& after = tuned.layers[index].pair_correlation[p];
      row.push_back(before && after ? fmt::format("{:.2f} -> {:.2f} ({:+.2f})", *before, *after, *after - *before)
                                    : std::string("n/a"));
    }
    correlations.rows.push_back(std::move(row));
  }
  section.blocks.push_back(table_block(std::move(correlations)));
  std::vector<ReportFigure> bars;
  for (size_t index : shown)
    bars.push_back({fs::path("pca") / fmt::format("pair_correlation_layer_{:02d}.png", base.layers[index].layer),
                    fmt::format("Layer {}: pair correlations, base vs tuned", base.layers[index].layer)});
  section.blocks.push_back(figures(dir, {bars.back()}));
  bars.pop_back();
  std::vector<ReportBlock> rows;
  for (size_t i = 0; i < bars.size(); i += 2)
    rows.push_back(figures(dir, std::vector<ReportFigure>(bars.begin() + i, bars.begin() + std::min(bars.size(), i + 2))));
  section.blocks.push_back(details("Pair correlations at the other layers shown (base vs tuned)", std::move(rows)));
}

// Each language's cosine similarity to English, base -> tuned: at the last layer and the mean over layers.
ReportTable cosine_table(const analysis::RepresentationResult& base, const analysis::RepresentationResult& tuned) {
  const analysis::LayerAnalysis& base_last = base.layers.back();
  const analysis::LayerAnalysis& tuned_last = tuned.layers.back();
  const size_t reference = static_cast<size_t>(
      std::find(base.languages.begin(), base.languages.end(), base.reference_language) - base.languages.begin());
  ReportTable table{{"language", "cosine to en, last layer: base", "tuned", "delta", "mean over layers: base", "tuned",
                     "delta"},
                    {},
                    fmt::format("Last layer = layer {}; means over the {} analysed layers.", base_last.layer,
                                base.layers.size())};
  const auto layer_mean = [](const analysis::RepresentationResult& result, size_t language) {
    double total = 0;
    for (const analysis::LayerAnalysis& layer : result.layers) total += layer.cosine_to_reference[language].value;
    return total / static_cast<double>(result.layers.size());
  };
  for (size_t l = 0; l < base.languages.size(); ++l) {
    if (l == reference) continue;
    const double before = base_last.cosine_to_reference[l].value, after = tuned_last.cosine_to_reference[l].value;
    const double mean_before = layer_mean(base, l), mean_after = layer_mean(tuned, l);
    table.rows.push_back({base.languages[l], fmt::format("{:.3f}", before), fmt::format("{:.3f}", after),
                          signed_number(after - before), fmt::format("{:.3f}", mean_before),
                          fmt::format("{:.3f}", mean_after), signed_number(mean_after - mean_before)});
  }
  return table;
}

// The PCA scatters of base and tuned side by side at the `shown` layers.
ReportBlock scatter_details(const fs::path& dir, const analysis::RepresentationResult& base,
                            const std::vector<size_t>& shown) {
  std::vector<ReportBlock> scatters;
  for (size_t index : shown) {
    const std::string stem = fmt::format("layer_{:02d}.png", base.layers[index].layer);
    scatters.push_back(figures(dir, {{fs::path("pca/base") / stem, fmt::format("Base, layer {}", base.layers[index].layer)},
                                     {fs::path("pca/tuned") / stem, fmt::format("Tuned, layer {}", base.layers[index].layer)}}));
  }
  return details("PCA scatter plots by layer (base | tuned); every layer is in pca/base and pca/tuned",
                 std::move(scatters));
}

ReportSection representation_section(const fs::path& dir) {
  ReportSection section{"Representations", {}};
  const Representations base = read_representations(dir / "pca" / "base" / "representations.json");
  const Representations tuned = read_representations(dir / "pca" / "tuned" / "representations.json");
  if (base) section.blocks.push_back(representation_method(*base));
  if (!base || !tuned || base->languages != tuned->languages || base->pairs != tuned->pairs ||
      base->layers.size() != tuned->layers.size()) {
    section.blocks.push_back(figures(dir, {{fs::path("pca/cosine_comparison.png"),
                                            "Mean cosine similarity to English per layer: base (dashed) vs tuned (solid)"}}));
    section.blocks.push_back(paragraph("The representation tables need both the base and the tuned analysis (not run yet)."));
    return section;
  }
  if (base->item_indices.size() < analysis::kMinimumPairedItems)
    section.blocks.push_back(notice(fmt::format(
        "Only {} paired items (fewer than {}): the correlations below are too noisy to mean anything.",
        base->item_indices.size(), analysis::kMinimumPairedItems)));
  const std::vector<size_t> shown = shown_layers(base->layers.size());
  if (!base->pairs.empty()) add_pair_correlations(section, dir, *base, *tuned, shown);
  section.blocks.push_back(figures(dir, {{fs::path("pca/cosine_comparison.png"),
                                          "Mean cosine similarity to English per layer: base (dashed) vs tuned (solid)"}}));
  section.blocks.push_back(table_block(cosine_table(*base, *tuned)));
  section.blocks.push_back(figures(dir, {{fs::path("pca/base/cosine.png"), "Base: cosine to English per layer"},
                                         {fs::path("pca/tuned/cosine.png"), "Tuned: cosine to English per layer"}}));
  section.blocks.push_back(scatter_details(dir, *base, shown));
  return section;
}

ReportSection provenance_section(const io::Json& study, const std::optional<eval::EvalResults>& base,
                                 const std::optional<eval::EvalResults>& tuned) {
  ReportSection section{"Provenance", {}};
  ReportTable sources{{"what", "value"}, {}, "Inputs and their content hashes."};
  if (base) {
    const io::Json& p = base->provenance;
    const io::Json model = p.value("model", io::Json::object());
    sources.rows.push_back({"model", json_text(model.value("path", io::Json("?")))});
    sources.rows.push_back({"model config.json sha1", json_text(model.value("config_sha1", io::Json("?")))});
    sources.rows.push_back({"model type", json_text(model.value("model_type", io::Json("?")))});
    const io::Json tokenizer = p.value("tokenizer", io::Json::object());
    sources.rows.push_back({"tokenizer.json sha1", json_text(tokenizer.value("sha1", io::Json("?")))});
    sources.rows.push_back({"scoring mode", json_text(p.value("mode", io::Json("?")))});
    const io::Json runtime = p.value("runtime", io::Json::object());
    sources.rows.push_back({"compute", fmt::format("{} on {}", json_text(runtime.value("dtype", io::Json("?"))),
                                                   json_text(runtime.value("device", io::Json("?"))))});
    // What io::run_provenance recorded for the base evaluation.
    const io::Json weights = model.value("weights", io::Json::object());
    sources.rows.push_back({"model weights fingerprint", fmt::format("{} ({})", json_text(weights.value("sha1", io::Json("?"))),
                                                                     json_text(weights.value("method", io::Json("?"))))});
    const io::Json software = p.value("software", io::Json::object());
    sources.rows.push_back({"software", fmt::format("qtalign {}, libtorch {}, BLAS {}",
                                                    json_text(software.value("qtalign", io::Json("?"))),
                                                    json_text(software.value("libtorch", io::Json("?"))),
                                                    json_text(software.value("blas", io::Json("?"))))});
    const io::Json hardware = p.value("hardware", io::Json::object());
    sources.rows.push_back({"hardware", fmt::format("{}, {} threads{}", json_text(hardware.value("cpu", io::Json("?"))),
                                                    json_text(hardware.value("threads", io::Json("?"))),
                                                    hardware.contains("gpu") ? ", GPU " + json_text(hardware["gpu"]) : "")});
    std::string command;
    for (const io::Json& word : p.value("command_line", io::Json::array())) command += (command.empty() ? "" : " ") + json_text(word);
    sources.rows.push_back({"base evaluation command", command.empty() ? "?" : command});
  }
  if (tuned && tuned->provenance.contains("adapter") && tuned->provenance["adapter"].is_object()) {
    const io::Json& adapter = tuned->provenance["adapter"];
    sources.rows.push_back({"adapter", json_text(adapter.value("path", io::Json("?")))});
    sources.rows.push_back({"adapter weights sha1", json_text(adapter.value("weights_sha1", io::Json("?")))});
  }
  const io::Json data = study.value("data", io::Json::object());
  sources.rows.push_back({"benchmark data", json_text(data.value("dir", io::Json("?")))});
  sources.rows.push_back({"prompts.json sha1", json_text(data.value("prompts_sha1", io::Json("?")))});
  sources.rows.push_back({"qtalign (this report)", io::qtalign_version()});
  sources.rows.push_back({"study finished", json_text(study.value("finished", io::Json("not yet")))});
  section.blocks.push_back(table_block(std::move(sources)));

  ReportTable settings{{"setting", "value"}, {}, "The study's settings (study.json); a resumed study must match them."};
  const io::Json recorded_settings = study.value("settings", io::Json::object());
  for (const auto& [key, value] : recorded_settings.items()) settings.rows.push_back({key, json_text(value)});
  section.blocks.push_back(table_block(std::move(settings)));

  ReportTable stages = stage_table(study);
  section.blocks.push_back(table_block(std::move(stages)));
  return section;
}

// ---- rendering ----

std::string html_escape(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string encoded;
  encoded.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t left = std::min<size_t>(3, bytes.size() - i);
    uint32_t group = 0;
    for (size_t k = 0; k < 3; ++k)
      group = (group << 8) | (k < left ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    for (size_t k = 0; k < 4; ++k) encoded += k <= left ? kAlphabet[(group >> (18 - 6 * k)) & 63] : '=';
  }
  return encoded;
}

bool numeric_cell(const std::string& cell) {
  return !cell.empty() && (std::isdigit(static_cast<unsigned char>(cell[0])) ||
                           ((cell[0] == '+' || cell[0] == '-') && cell.size() > 1));
}

// The class of a numeric cell: a signed change is coloured by its sign, and a change shown as zero
// ("+0.0", "-0.0") is none.
std::string numeric_class(const std::string& text) {
  if (!numeric_cell(text)) return "";
  if ((text[0] != '+' && text[0] != '-') || std::strtod(text.c_str(), nullptr) == 0.0) return "num";
  return text[0] == '+' ? "num up" : "num down";
}

// A cell written **like this** (the best value of its column in the study's tables) is shown in bold,
// as Markdown shows it.
std::string html_cell(const std::string& cell, const char* tag) {
  const bool bold = cell.size() > 4 && cell.rfind("**", 0) == 0 && cell.find("**", 2) != std::string::npos;
  const std::string text = bold ? cell.substr(2, cell.find("**", 2) - 2) + cell.substr(cell.find("**", 2) + 2) : cell;
  const std::string classes = numeric_class(text);
  const std::string body = bold ? "<strong>" + html_escape(cell.substr(2, cell.find("**", 2) - 2)) + "</strong>" +
                                      html_escape(cell.substr(cell.find("**", 2) + 2))
                                : html_escape(text);
  return fmt::format("<{0}{1}>{2}</{0}>", tag, classes.empty() ? "" : " class=\"" + classes + "\"", body);
}

void render_html_block(const ReportBlock& block, const fs::path& dir, std::string& html) {
  switch (block.kind) {
    case Kind::paragraph:
      html += "<p>" + html_escape(block.text) + "</p>\n";
      break;
    case Kind::notice:
      html += "<p class=\"notice\">" + html_escape(block.text) + "</p>\n";
      break;
    case Kind::table: {
      // Wide tables scroll inside their box, the first column staying in view (style: .table-scroll); the
      // caption stays outside, so that it wraps to the page rather than to the table.
      if (!block.table.caption.empty()) html += "<p class=\"caption\">" + html_escape(block.table.caption) + "</p>\n";
      html += "<div class=\"table-scroll\"><table>\n";
      html += "<thead><tr>";
      for (const std::string& cell : block.table.header) html += html_cell(cell, "th");
      html += "</tr></thead>\n<tbody>\n";
      for (const auto& row : block.table.rows) {
        html += "<tr>";
        for (const std::string& cell : row) html += html_cell(cell, "td");
        html += "</tr>\n";
      }
      html += "</tbody></table></div>\n";
      break;
    }
    case Kind::figures:
      html += "<div class=\"figures\">\n";
      for (const ReportFigure& figure : block.figures)
        html += fmt::format("<figure><img src=\"data:image/png;base64,{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>\n",
                            base64(io::read_file(dir / figure.image)), html_escape(figure.caption),
                            html_escape(figure.caption));
      html += "</div>\n";
      break;
    case Kind::details:
      html += "<details><summary>" + html_escape(block.text) + "</summary>\n";
      for (const ReportBlock& child : block.children) render_html_block(child, dir, html);
      html += "</details>\n";
      break;
  }
}

std::string markdown_cell(const std::string& cell) {
  std::string escaped;
  for (char c : cell) escaped += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return escaped;
}

void render_markdown_block(const ReportBlock& block, std::string& markdown) {
  switch (block.kind) {
    case Kind::paragraph:
      markdown += block.text + "\n\n";
      break;
    case Kind::notice:
      markdown += "> **" + block.text + "**\n\n";
      break;
    case Kind::table: {
      if (!block.table.caption.empty()) markdown += "*" + block.table.caption + "*\n\n";
      std::vector<std::string> header, rule;
      for (const std::string& cell : block.table.header) {
        header.push_back(markdown_cell(cell));
        rule.push_back("---");
      }
      markdown += fmt::format("| {} |\n| {} |\n", fmt::join(header, " | "), fmt::join(rule, " | "));
      for (const auto& row : block.table.rows) {
        std::vector<std::string> cells;
        for (const std::string& cell : row) cells.push_back(markdown_cell(cell));
        markdown += fmt::format("| {} |\n", fmt::join(cells, " | "));
      }
      markdown += "\n";
      break;
    }
    case Kind::figures:
      for (const ReportFigure& figure : block.figures)
        markdown += fmt::format("![{}]({})\n", figure.caption, figure.image.generic_string());
      markdown += "\n";
      break;
    case Kind::details:
      markdown += "**" + block.text + "**\n\n";
      for (const ReportBlock& child : block.children) render_markdown_block(child, markdown);
      break;
  }
}

constexpr const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1240px;
       padding: 24px 32px 64px; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
nav a { margin-right: 14px; }
.notice { background: #fff4d6; border: 1px solid #e0b64a; padding: 10px 14px; border-radius: 6px; font-weight: 600; }
p.caption { color: #555; margin: 12px 0 4px; }
.table-scroll { max-width: 100%; overflow-x: auto; margin: 0 0 20px; }
table { border-collapse: separate; border-spacing: 0; border-top: 1px solid #d6d6d6; border-left: 1px solid #d6d6d6;
        font-size: 0.92em; }
th, td { border-right: 1px solid #d6d6d6; border-bottom: 1px solid #d6d6d6; padding: 4px 9px; background: #fff; }
th { background: #f3f3f3; text-align: left; }
tr > :first-child { position: sticky; left: 0; z-index: 1; box-shadow: 1px 0 0 #d6d6d6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } td.up { color: #176b2c; } td.down { color: #a11d1d; }
.figures { display: flex; flex-wrap: wrap; gap: 16px; margin: 12px 0; }
figure { margin: 0; flex: 1 1 560px; max-width: 100%; } figure img { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
details { margin: 12px 0; } summary { cursor: pointer; font-weight: 600; }
)";

}  // namespace

ReportTable stage_table(const io::Json& study) {
  ReportTable stages{{"stage", "status", "seconds", "command"}, {}, "Stages in pipeline order (skipped = output already there)."};
  // study.json keeps stages in an object (no order): each records its position.
  std::vector<std::pair<int64_t, std::vector<std::string>>> ordered;
  const io::Json recorded = study.value("stages", io::Json::object());
  for (const auto& [name, stage] : recorded.items())
    ordered.push_back({stage.value("order", int64_t{0}),
                       {name, json_text(stage.value("status", io::Json("?"))),
                        fmt::format("{:.1f}", stage.value("seconds", 0.0)), json_text(stage.value("command", io::Json("")))}});
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& row : ordered) stages.rows.push_back(std::move(row.second));
  return stages;
}

ReportDocument build_study_report(const fs::path& study_dir) {
  const io::Json study = read_if_present(study_dir / "study.json").value_or(io::Json::object());
  std::optional<eval::EvalResults> base, tuned;
  if (fs::is_regular_file(study_dir / "eval" / "base.json")) base = eval::read_results(study_dir / "eval" / "base.json");
  if (fs::is_regular_file(study_dir / "eval" / "tuned.json")) tuned = eval::read_results(study_dir / "eval" / "tuned.json");
  std::optional<eval::Comparison> comparison;
  const io::Json settings = study.value("settings", io::Json::object());
  // No seen list of its own: the one the tuned results carry, which the study's comparison used too.
  if (base && tuned) comparison = eval::compare_results(*base, *tuned, {}, "eval/base.json", "eval/tuned.json");
  ReportDocument document;
  document.title = fmt::format("qtalign study: {} question translation, tuned on {}", settings.value("task", "?"),
                               fmt::join(settings.value("train_languages", std::vector<std::string>{}), ", "));
  document.sections.push_back(overview_section(study, comparison, base));
  document.sections.push_back(accuracy_section(study_dir, comparison));
  document.sections.push_back(training_section(study_dir));
  document.sections.push_back(lens_section(study_dir));
  document.sections.push_back(representation_section(study_dir));
  document.sections.push_back(provenance_section(study, base, tuned));
  return document;
}

std::string render_report_html(const ReportDocument& document, const fs::path& study_dir) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
                     html_escape(document.title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<h1>" +
                     html_escape(document.title) + "</h1>\n<nav>";
  for (size_t s = 0; s < document.sections.size(); ++s)
    html += fmt::format("<a href=\"#section-{}\">{}</a>", s, html_escape(document.sections[s].title));
  html += "</nav>\n";
  for (size_t s = 0; s < document.sections.size(); ++s) {
    html += fmt::format("<section id=\"section-{}\">\n<h2>{}</h2>\n", s, html_escape(document.sections[s].title));
    for (const ReportBlock& block : document.sections[s].blocks) render_html_block(block, study_dir, html);
    html += "</section>\n";
  }
  return html + "</body>\n</html>\n";
}

std::string render_report_markdown(const ReportDocument& document) {
  std::string markdown = "# " + document.title + "\n\n";
  for (const ReportSection& section : document.sections) {
    markdown += "## " + section.title + "\n\n";
    for (const ReportBlock& block : section.blocks) render_markdown_block(block, markdown);
  }
  return markdown;
}

void write_study_report(const fs::path& study_dir) {
  const ReportDocument document = build_study_report(study_dir);
  io::write_file_atomically(study_dir / "report.md", render_report_markdown(document));
  io::write_file_atomically(study_dir / "report.html", render_report_html(document, study_dir));
}

}  // namespace qtalign::report
