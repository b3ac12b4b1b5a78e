#include "study/representation_pipeline.h"

#include <cstdio>

#include "io/provenance.h"

namespace qtalign::study {

std::optional<analysis::RepresentationResult> run_representation_pipeline(
    distributed::ProcessGroup& group, const model::LoadedModel& loaded, const data::Protocol& protocol,
    const analysis::RepresentationOptions& options, const std::filesystem::path& directory, bool skip_existing) {
  const std::filesystem::path file = directory / "representations.json";
  // Rank 0 decides, as only its output directory is sure to exist.
  const bool skip = group.all_gather_text(skip_existing && std::filesystem::exists(file) ? "1" : "0").front() == "1";
  if (skip) {
    if (!group.is_main()) return std::nullopt;
    std::fprintf(stderr, "representations: already done (%s)\n", file.c_str());
    return analysis::representation_result_from_json(io::read_json_file(file), file);
  }
  std::optional<analysis::RepresentationResult> result =
      analysis::run_representations(group, loaded.model, loaded.tokenizer, protocol, options);
  if (!result) return std::nullopt;
  result->provenance = loaded.provenance;
  result->provenance["data"] = {{"dir", std::filesystem::absolute(protocol.data_dir).string()},
                                {"prompts_sha1", io::file_sha1(protocol.source)}};
  analysis::write_representation_outputs(*result, directory);
  return result;
}

}  // namespace qtalign::study
