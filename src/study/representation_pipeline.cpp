#include "study/representation_pipeline.h"

#include <cstdio>

#include "io/provenance.h"

namespace qtalign::study {

analysis::RepresentationResult run_representation_pipeline(const LoadedModel& loaded, const data::Protocol& protocol,
                                                           const analysis::RepresentationOptions& options,
                                                           const std::filesystem::path& directory, bool skip_existing) {
  const std::filesystem::path file = directory / "representations.json";
  if (skip_existing && std::filesystem::exists(file)) {
    std::fprintf(stderr, "representations: already done (%s)\n", file.c_str());
    return analysis::representation_result_from_json(io::read_json_file(file), file);
  }
  analysis::RepresentationResult result = analysis::run_representations(loaded.model, loaded.tokenizer, protocol, options);
  result.provenance = loaded.provenance;
  result.provenance["data"] = {{"dir", std::filesystem::absolute(protocol.data_dir).string()},
                               {"prompts_sha1", io::file_sha1(protocol.source)}};
  analysis::write_representation_outputs(result, directory);
  return result;
}

}  // namespace qtalign::study
