#pragma once
// What `qtalign data show` prints: one test item's evaluation prompt (or its question-translation
// question) as the model sees it, alone or in JSON with its answer and English label; and the options
// that ask for it.
#include <cstddef>
#include <filesystem>
#include <string>

#include "data/answer_type.h"
#include "data/data_dir.h"
#include "io/options.h"

namespace qtalign::data {

struct ItemShowSpec {
  std::string task;
  std::string language;
  size_t item = 0;                            // the item's index, from 0
  AnswerType labels = AnswerType::english;    // how the prompt's answers are written
  bool question = false;                      // the question-translation question instead of the prompt
  bool json = false;                          // a JSON record with the answer and the English label
  std::filesystem::path data_dir, tasks_dir;  // as data::load_protocol takes them (empty: the defaults)
};

// Every option of `qtalign data show`, in its order, with the field of `spec` (const or not) each
// reads and writes.
template <class Spec, class Visit, io::IfSpec<Spec, ItemShowSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  using io::option;
  visit(option("--task", "emotion, snli, paws or a task file's name").mandatory(), spec.task);
  visit(option("--lang", "language code").mandatory(), spec.language);
  visit(option("--item", "item index, from 0").shown(), spec.item);
  visit(option("--labels", "how answers are written: english, same-language (the lens demonstrations) or task-agnostic"),
        io::parsed(spec.labels, parse_answer_type, answer_type_name));
  visit(option("--question", "print the question-translation question instead"), spec.question);
  visit(option("--json", "print JSON with the answer and English label"), spec.json);
  visit(data_dir_option(), spec.data_dir);
  visit(tasks_dir_option(), spec.tasks_dir);
}

// The text `qtalign data show` prints for `spec` (without the final newline); throws Error for an
// unknown task or language or an item out of range.
std::string show_item(const ItemShowSpec& spec);

}  // namespace qtalign::data
