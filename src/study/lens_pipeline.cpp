#include "study/lens_pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "data/prompt_format.h"
#include "data/task_items.h"
#include "eval/label_tokens.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/provenance.h"
#include "plot/line_chart.h"

namespace qtalign::study {
namespace {

std::vector<int64_t> candidates_of(const tokenizer::Tokenizer& tokenizer, const std::string& word) {
  return eval::prefix_sum_candidates(tokenizer, word);
}

// The lens quantities in the order charts and tables show them, with their labels.
struct LensQuantity {
  const char* key;
  const char* name;  // "{}" stands for the test language
};
constexpr LensQuantity kLines[] = {
    {"correct_english", "correct answer, English (latent)"},
    {"correct_native", "correct answer, {}"},
    {"all_native", "all answers, {}"},
    {"all_english", "all answers, English"},
};

double estimate_at(const io::Json& layer, const char* quantity, const std::filesystem::path& file) {
  return io::required_field<double>(io::required_field<io::Json>(layer, quantity, file, "layers"), "mean", file,
                                    std::string("layers.") + quantity);
}

// What the overview and the comparison read back from a <lang>.json.
struct LensFileSummary {
  int64_t items = 0;
  int64_t dropped = 0;
  io::Json layers;  // the file's "layers" array (empty when every item was dropped)
};

LensFileSummary read_lens_file(const std::filesystem::path& file) {
  const io::Json result = io::read_json_file(file);
  LensFileSummary summary;
  summary.items = io::required_field<int64_t>(result, "items", file);
  summary.dropped = io::required_field<int64_t>(result, "dropped_overlap", file);
  summary.layers = io::required_field<io::Json>(result, "layers", file);
  if (!summary.layers.is_array() || (summary.items > 0 && summary.layers.empty())) fail_at(file, "no layers");
  return summary;
}

// The layer where a quantity peaks, and its value there.
std::pair<int64_t, double> peak_of(const io::Json& layers, const char* quantity, const std::filesystem::path& file) {
  std::pair<int64_t, double> peak{0, -1.0};
  for (const io::Json& layer : layers) {
    const double value = estimate_at(layer, quantity, file);
    if (value > peak.second) peak = {io::required_field<int64_t>(layer, "layer", file, "layers"), value};
  }
  return peak;
}

// The overview of every language's lens file: a JSON summary, a Markdown table and two charts.
void write_lens_overview(const std::vector<std::string>& languages, const std::filesystem::path& directory,
                         const std::string& variant) {
  io::Json summary = io::Json::array();
  std::string markdown =
      "| language | items | dropped (overlap) | latent English answer: peak (layer) | correct answer in language, "
      "last layer | all answers in language, last layer | all English answers, last layer | entropy, last layer "
      "(nats) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
  plot::LineChart latent_chart, native_chart;
  for (const std::string& language : languages) {
    const std::filesystem::path file = directory / (language + ".json");
    const LensFileSummary lens = read_lens_file(file);
    if (lens.items == 0) {
      summary.push_back({{"language", language}, {"items", 0}, {"dropped_overlap", lens.dropped}});
      markdown += fmt::format("| {} | 0 | {} | every item dropped: its English and {} answers share tokens |||||\n",
                              language, lens.dropped, language);
      continue;
    }
    // The palette's first colours are its most distinct: a language's colour is its place in this chart.
    plot::Series latent{language, {}, {}, {}, {}, plot::palette_color(latent_chart.series.size())};
    plot::Series native = latent;
    for (const io::Json& layer : lens.layers) {
      const double x = static_cast<double>(io::required_field<int64_t>(layer, "layer", file, "layers"));
      latent.x.push_back(x);
      latent.y.push_back(estimate_at(layer, "correct_english", file));
      native.x.push_back(x);
      native.y.push_back(estimate_at(layer, "correct_native", file));
    }
    const io::Json& last = lens.layers.back();
    const auto [peak_layer, peak] = peak_of(lens.layers, "correct_english", file);
    io::Json last_layer{{"layer", last.at("layer")}};
    for (const char* quantity : {"correct_english", "correct_native", "all_native", "all_english", "entropy"})
      last_layer[quantity] = estimate_at(last, quantity, file);
    summary.push_back({{"language", language},
                       {"items", lens.items},
                       {"dropped_overlap", lens.dropped},
                       {"last_layer", last_layer},
                       {"peak_correct_english", {{"layer", peak_layer}, {"mean", peak}}}});
    markdown += fmt::format("| {} | {} | {} | {:.4g} ({}) | {:.4g} | {:.4g} | {:.4g} | {:.3f} |\n", language,
                            lens.items, lens.dropped, peak, peak_layer, estimate_at(last, "correct_native", file),
                            estimate_at(last, "all_native", file), estimate_at(last, "all_english", file),
                            estimate_at(last, "entropy", file));
    latent_chart.series.push_back(std::move(latent));
    native_chart.series.push_back(std::move(native));
  }
  const std::string who = variant.empty() ? "" : variant + ": ";
  latent_chart.title = who + "latent answer (correct answer in English)";
  latent_chart.y_label = "probability of the correct English answer";
  native_chart.title = who + "correct answer in the test language";
  native_chart.y_label = "probability of the correct answer in the language";
  for (plot::LineChart* chart : {&latent_chart, &native_chart}) {
    chart->x_label = "layer (0 = embeddings)";
    chart->y_min = 0.0;
    // Shown two abreast in the report: a small canvas keeps the text readable there.
    chart->width = 640;
    chart->height = 480;
  }
  if (!latent_chart.series.empty()) {
    plot::write_line_chart(latent_chart, directory / "overview_latent");
    plot::write_line_chart(native_chart, directory / "overview_native");
  }
  io::write_file_atomically(directory / "summary.md", markdown);
  io::write_json_file(directory / "summary.json", summary);
}

}  // namespace

analysis::LensTokenSets lens_token_sets(const tokenizer::Tokenizer& tokenizer, const data::TaskProtocol& task,
                                        const std::string& language, data::AnswerType answer_type) {
  const data::AnswerWords native = data::answer_words(task, language, data::AnswerType::same_language);
  // The forced prefix is only in the prompt when the prompt answers in the language.
  const std::vector<std::string> native_words =
      answer_type == data::AnswerType::same_language ? native.scored_words() : native.words;
  analysis::LensTokenSets sets;
  for (size_t label = 0; label < task.labels.size(); ++label) {
    sets.english.push_back(candidates_of(tokenizer, task.labels[label]));
    sets.native.push_back(candidates_of(tokenizer, native_words.at(label)));
  }
  return sets;
}

std::vector<analysis::LensLanguagePlan> plan_lens(const tokenizer::Tokenizer& tokenizer,
                                                  const data::Protocol& protocol,
                                                  const std::vector<std::string>& languages,
                                                  const analysis::LensOptions& options) {
  if (languages.empty()) throw Error("logit lens: no languages to analyse");
  if (options.answer_type == data::AnswerType::task_agnostic)
    throw Error("logit lens: --labels must be english or same-language (the lens reads answers in both writings)");
  const data::TaskProtocol& task = protocol.task(options.task);
  std::vector<analysis::LensLanguagePlan> plans;
  size_t kept = 0;
  for (const std::string& language : languages) {
    protocol.require_language(language);
    analysis::LensLanguagePlan plan;
    plan.task = task.name;
    plan.language = language;
    plan.answer_type = options.answer_type;
    plan.english_labels = task.labels;
    plan.native_labels = data::answer_words(task, language, data::AnswerType::same_language).words;
    plan.forced_prefix = data::answer_words(task, language, options.answer_type).forced_prefix;
    plan.token_sets = lens_token_sets(tokenizer, task, language, options.answer_type);

    const std::vector<data::TaskItem> items = data::read_test_set(protocol, task.name, language);
    plan.sampled_indices =
        data::pick_test_items(items, options.item_indices, options.limit, fmt::format("{}/{}", task.name, language));
    std::vector<size_t> labels;
    for (size_t index : plan.sampled_indices)
      labels.push_back(static_cast<size_t>(std::find(task.labels.begin(), task.labels.end(), items[index].label) -
                                           task.labels.begin()));
    plan.item_indices = analysis::items_without_overlap(plan.sampled_indices, labels, plan.token_sets,
                                                        plan.dropped_indices);
    const std::vector<int64_t> prefix_ids =
        plan.forced_prefix.empty() ? std::vector<int64_t>() : tokenizer.encode(plan.forced_prefix, false);
    for (size_t i = 0; i < plan.sampled_indices.size(); ++i) {
      const size_t index = plan.sampled_indices[i];
      if (!std::binary_search(plan.item_indices.begin(), plan.item_indices.end(), index)) continue;
      plan.item_labels.push_back(labels[i]);
      std::vector<int64_t> prompt =
          tokenizer.encode(data::evaluation_prompt(task, language, items[index], options.answer_type), true);
      prompt.insert(prompt.end(), prefix_ids.begin(), prefix_ids.end());
      plan.prompts.push_back(std::move(prompt));
    }
    kept += plan.item_indices.size();
    plans.push_back(std::move(plan));
  }
  if (kept == 0)
    throw Error(fmt::format("logit lens: every item of every language ({}) was dropped because its English and "
                            "test-language answers share candidate tokens; choose languages with another script",
                            fmt::join(languages, ", ")));
  return plans;
}

void run_lens_pipeline(distributed::ProcessGroup& group, const model::LoadedModel& loaded, const data::Protocol& protocol,
                       const std::vector<analysis::LensLanguagePlan>& plans, const analysis::LensOptions& options,
                       const std::filesystem::path& directory, bool skip_existing, const std::string& variant) {
  if (plans.empty()) throw Error("logit lens: no languages to analyse");
  io::Json provenance = loaded.provenance;
  provenance["data"] = {{"dir", std::filesystem::absolute(protocol.data_dir).string()},
                        {"prompts_sha1", io::file_sha1(protocol.source)}};
  provenance["lens"] = {{"limit", options.limit.count},
                        {"pick", data::item_pick_description(options.limit)},
                        {"requested_items", options.item_indices.size()},
                        {"top_k", options.top_k},
                        {"answer_type", data::answer_type_name(options.answer_type)},
                        {"token_sets", "prefix-sum candidates of the label words (prompts.json scoring)"},
                        {"overlap_filter", "items whose correct answer's English and test-language candidates "
                                           "share a token are dropped"}};
  if (group.is_main())
    for (const analysis::LensLanguagePlan& plan : plans) {
      if (plan.item_indices.empty())
        std::fprintf(stderr,
                     "lens %s/%s: all %zu items dropped: the English and %s answers share candidate tokens, so the "
                     "two readings cannot be told apart\n",
                     plan.task.c_str(), plan.language.c_str(), plan.dropped_indices.size(), plan.language.c_str());
      else if (!plan.dropped_indices.empty())
        std::fprintf(stderr, "lens %s/%s: %zu of %zu items dropped (English and %s answers share candidate tokens)\n",
                     plan.task.c_str(), plan.language.c_str(), plan.dropped_indices.size(),
                     plan.sampled_indices.size(), plan.language.c_str());
    }
  // Rank 0 decides what is left to run, as only its output directory is sure to exist.
  std::string skipped(plans.size(), '0');
  if (group.is_main())
    for (size_t p = 0; p < plans.size(); ++p) {
      const std::filesystem::path file = directory / (plans[p].language + ".json");
      if (!skip_existing || !std::filesystem::exists(file)) continue;
      std::fprintf(stderr, "lens %s/%s: already done (%s)\n", plans[p].task.c_str(), plans[p].language.c_str(),
                   file.c_str());
      skipped[p] = '1';
    }
  skipped = group.all_gather_text(skipped).front();
  std::vector<std::string> languages;
  std::vector<analysis::LensLanguagePlan> pending;
  for (size_t p = 0; p < plans.size(); ++p) {
    languages.push_back(plans[p].language);
    if (skipped[p] == '0') pending.push_back(plans[p]);
  }
  analysis::run_lens_shared(group, loaded.model, pending, options, [&](const analysis::LensLanguageResult& result) {
    analysis::write_lens_outputs(result, loaded.tokenizer, loaded.model.lm_head.size(0), variant, directory,
                                 provenance);
  });
  if (group.is_main()) write_lens_overview(languages, directory, variant);
}

void run_lens_pipeline(distributed::ProcessGroup& group, const model::LoadedModel& loaded, const data::Protocol& protocol,
                       const std::vector<std::string>& languages, const analysis::LensOptions& options,
                       const std::filesystem::path& directory, bool skip_existing, const std::string& variant) {
  run_lens_pipeline(group, loaded, protocol, plan_lens(loaded.tokenizer, protocol, languages, options), options,
                    directory, skip_existing, variant);
}

void write_lens_comparison(const std::filesystem::path& base_directory, const std::filesystem::path& tuned_directory,
                           const std::vector<std::string>& languages, const std::filesystem::path& directory) {
  std::filesystem::create_directories(directory);
  std::string markdown =
      "| language | items | latent English answer, peak: base (layer) | tuned (layer) | correct answer in language, "
      "last layer: base | tuned | delta |\n|---|---:|---:|---:|---:|---:|---:|\n";
  io::Json comparison = io::Json::array();
  for (const std::string& language : languages) {
    const std::filesystem::path base_file = base_directory / (language + ".json");
    const std::filesystem::path tuned_file = tuned_directory / (language + ".json");
    const LensFileSummary base = read_lens_file(base_file);
    const LensFileSummary tuned = read_lens_file(tuned_file);
    if (base.items != tuned.items || base.layers.size() != tuned.layers.size())
      throw Error(fmt::format("lens comparison: {} and {} cover different items or layers", base_file.string(),
                              tuned_file.string()));
    if (base.items == 0) {
      markdown += fmt::format("| {} | 0 | every item dropped (overlapping answers) |||||\n", language);
      comparison.push_back({{"language", language}, {"items", 0}, {"dropped_overlap", base.dropped}});
      continue;
    }
    plot::LineChart chart;
    chart.title = fmt::format("Logit lens, {}: base (dashed) vs tuned (solid), {} items", language, base.items);
    chart.x_label = "layer (0 = embeddings)";
    chart.y_label = "probability at the answer position";
    chart.y_min = 0.0;
    chart.width = 720;
    chart.height = 520;
    for (size_t q = 0; q < std::size(kLines); ++q) {
      const LensQuantity& quantity = kLines[q];
      const std::string name = fmt::format(fmt::runtime(quantity.name), language);
      for (const auto& [lens, file, tuned_variant] :
           {std::tuple{&base, &base_file, false}, std::tuple{&tuned, &tuned_file, true}}) {
        plot::Series series{name + (tuned_variant ? ", tuned" : ", base"), {}, {}, {}, {}, plot::palette_color(q),
                            tuned_variant ? plot::LineStyle::solid : plot::LineStyle::dashed};
        for (const io::Json& layer : lens->layers) {
          series.x.push_back(static_cast<double>(io::required_field<int64_t>(layer, "layer", *file, "layers")));
          series.y.push_back(estimate_at(layer, quantity.key, *file));
        }
        chart.series.push_back(std::move(series));
      }
    }
    plot::write_line_chart(chart, directory / language);
    const auto [base_layer, base_peak] = peak_of(base.layers, "correct_english", base_file);
    const auto [tuned_layer, tuned_peak] = peak_of(tuned.layers, "correct_english", tuned_file);
    const double base_native = estimate_at(base.layers.back(), "correct_native", base_file);
    const double tuned_native = estimate_at(tuned.layers.back(), "correct_native", tuned_file);
    markdown += fmt::format("| {} | {} | {:.4g} ({}) | {:.4g} ({}) | {:.4g} | {:.4g} | {:+.4g} |\n", language,
                            base.items, base_peak, base_layer, tuned_peak, tuned_layer, base_native, tuned_native,
                            tuned_native - base_native);
    comparison.push_back({{"language", language},
                          {"items", base.items},
                          {"dropped_overlap", base.dropped},
                          {"peak_correct_english", {{"base", {{"layer", base_layer}, {"mean", base_peak}}},
                                                    {"tuned", {{"layer", tuned_layer}, {"mean", tuned_peak}}}}},
                          {"last_layer_correct_native", {{"base", base_native}, {"tuned", tuned_native}}}});
  }
  io::write_file_atomically(directory / "comparison.md", markdown);
  io::write_json_file(directory / "comparison.json", comparison);
}

}  // namespace qtalign::study
