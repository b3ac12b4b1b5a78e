#pragma once
// Fewer demonstrations than the protocol's: the first k shots of each language's few-shot block.
#include "data/protocol.h"

namespace qtalign::eval {

// The task with every language's demonstrations cut after the answer line of its `shots`-th
// demonstration (a line ending with "<English label>", trailing blanks kept), and the lens
// (same-language) blocks likewise after their native words; 0 shots also drops the
// "{demonstrations}\n" line from the templates, so a prompt is the item alone. The task itself when shots equals its own. Throws Error
// when shots is outside [0, task.shots] or a block does not hold task.shots answer lines.
data::TaskProtocol with_shots(const data::TaskProtocol& task, int shots);

}  // namespace qtalign::eval
