#include "analysis/representation_pipeline.h"

#include <cstdio>

#include "analysis/representation_outputs.h"
#include "analysis/representations_json.h"
#include "io/provenance.h"

namespace qtalign::analysis {
namespace {

RepresentationResult read_result(const std::filesystem::path& file) {
  return representation_result_from_json(io::read_json_file(file), file);
}

}  // namespace

std::optional<RepresentationResult> run_representation_variant(distributed::ProcessGroup& group,
                                                               const model::LoadedModel& loaded,
                                                               const data::Protocol& protocol,
                                                               const RepresentationSpec& spec,
                                                               const std::string& variant) {
  const std::filesystem::path directory = variant_directory(spec.out, variant);
  const std::filesystem::path file = directory / "representations.json";
  // Rank 0 decides, as only its output directory is sure to exist.
  const bool skip = group.all_gather_text(spec.resume && std::filesystem::exists(file) ? "1" : "0").front() == "1";
  if (skip) {
    if (!group.is_main()) return std::nullopt;
    std::fprintf(stderr, "representations: already done (%s)\n", file.c_str());
    return read_result(file);
  }
  std::optional<RepresentationResult> result =
      run_representations(group, loaded.model, loaded.tokenizer, protocol, spec);
  if (!result) return std::nullopt;
  result->provenance = loaded.provenance;
  result->provenance["data"] = {{"dir", std::filesystem::absolute(protocol.data_dir).string()},
                                {"prompts_sha1", io::file_sha1(protocol.source)}};
  write_representation_outputs(*result, directory);
  return result;
}

void compare_representation_variants(distributed::ProcessGroup& group, const RepresentationSpec& spec) {
  if (!group.is_main()) return;
  write_base_tuned_comparison(read_result(spec.out / "base" / "representations.json"),
                              read_result(spec.out / "tuned" / "representations.json"), spec.out);
}

std::filesystem::path run_representation_analysis(distributed::ProcessGroup& group, model::LoadedModel& loaded,
                                                  const data::Protocol& protocol, const RepresentationSpec& spec) {
  if (spec.compare_adapter.empty()) {
    run_representation_variant(group, loaded, protocol, spec, "");
    return spec.out / "representations.md";
  }
  run_base_and_tuned(
      &loaded, spec.compare_adapter,
      {{[&](const std::string& variant) { run_representation_variant(group, loaded, protocol, spec, variant); },
        [&] { compare_representation_variants(group, spec); }}});
  return spec.out / "pair_correlation_comparison.md";
}

void take_study_choices(RepresentationSpec& spec) {
  spec.task = "emotion";
  spec.languages = study_correlation_languages();
  spec.scatter_languages = study_scatter_languages();
  spec.limit = {};  // every item, in file order
  spec.prompt = RepresentationPrompt::study;
  spec.pooling = Pooling::mean;
}

}  // namespace qtalign::analysis
