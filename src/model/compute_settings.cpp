#include "model/compute_settings.h"

#include "model/dtype.h"

namespace qtalign::model {

LoadOptions load_options(const ComputeSettings& settings) {
  LoadOptions options;
  options.dtype = settings.dtype;
  options.device = settings.device;
  options.quantization = settings.quantization;
  return options;
}

std::vector<std::string> compute_arguments(const ComputeSettings& settings) {
  std::vector<std::string> arguments = {"--threads", std::to_string(settings.threads), "--device",
                                        settings.device.str(), "--dtype", dtype_name(settings.dtype)};
  if (settings.quantization.type)
    arguments.insert(arguments.end(), {"--quantize", quant_type_name(*settings.quantization.type), "--quant-blocksize",
                                       std::to_string(settings.quantization.blocksize)});
  if (settings.quantization.double_quant) arguments.push_back("--double-quant");
  return arguments;
}

}  // namespace qtalign::model
