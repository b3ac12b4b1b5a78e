#pragma once
// `qtalign eval` as the evaluation it asks for: the command's own options read into an
// eval::EvaluationSpec, without running it.
#include <string>
#include <vector>

#include "eval/evaluation_run.h"

namespace qtalign::cli {

// The spec an `eval` argument list ({"eval", "--model", ...}, as eval::command_line renders one) asks
// for, parsed with the command's options: the device as --device names it, the dtype resolved on it as
// the command resolves it. Throws CLI::ParseError for a list the command refuses, Error for bad values.
eval::EvaluationSpec parse_eval_spec(const std::vector<std::string>& arguments);

}  // namespace qtalign::cli
