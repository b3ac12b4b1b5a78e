#include "data/item_show.h"

#include "data/prompt_format.h"
#include "data/protocol.h"
#include "data/task_items.h"
#include "io/json_file.h"

namespace qtalign::data {

std::string show_item(const ItemShowSpec& spec) {
  const Protocol protocol = load_protocol(resolve_data_dir(spec.data_dir), spec.tasks_dir);
  const TaskProtocol& task = protocol.task(spec.task);
  const TaskItem item = read_test_item(protocol, spec.task, spec.language, spec.item);
  const std::string text = spec.question ? question_text(task, spec.language, item)
                                         : evaluation_prompt(task, spec.language, item, spec.labels);
  if (!spec.json) return text;
  const io::Json record = {{"task", spec.task},    {"language", spec.language},
                           {"index", item.index},  {spec.question ? "question" : "prompt", text},
                           {"answer", item.answer}, {"label", item.label}};
  return record.dump(2, ' ', false, io::Json::error_handler_t::strict);
}

}  // namespace qtalign::data
