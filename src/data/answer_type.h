#pragma once
// How the answer of a prompt is written (the study's Table 6 settings): English label words (the
// default), the test language's own label words, or task-agnostic words standing for the labels.
// prompts.json says which words and demonstrations each one uses (tasks.<task>.output_types, lens).
#include <map>
#include <string>
#include <vector>

#include "data/protocol.h"

namespace qtalign::data {

enum class AnswerType {
  english,        // tasks.<task>.labels with the task's demonstrations
  same_language,  // lens.native_labels of the test language with lens.demonstrations
  task_agnostic,  // output_types.task_agnostic.labels with the English-label demonstrations rewritten
};

// "english" | "same-language" | "task-agnostic"; throws Error listing the valid names.
AnswerType parse_answer_type(const std::string& name);

// Throws Error unless prompts with `shots` demonstrations (-1: the task's own, at least one by
// prompts.json's rules) can say what answers of `type` mean: task-agnostic words ("ox", "horse")
// stand for the labels only through the demonstrations that answer with them, so with none the
// model cannot know which word is which label.
void require_answerable(AnswerType type, int shots);

// The command-line / results-file name of an answer type ("same-language", ...).
std::string answer_type_name(AnswerType type);

// What a prompt of (task, language) looks like under an answer type.
struct AnswerWords {
  std::string demonstrations;      // the few-shot block, its answers written this way
  std::vector<std::string> words;  // the word written for each English label, in the task's label order
  std::string forced_prefix;       // shared start of every word, appended to the prompt ("" = none; Thai)

  // What is scored after the prompt (and the forced prefix): each word less the forced prefix.
  std::vector<std::string> scored_words() const;
};

// The demonstrations and label words of `task` in `language` under `type`; throws Error naming the
// task, language and answer type when prompts.json has no such data.
AnswerWords answer_words(const TaskProtocol& task, const std::string& language, AnswerType type);

// The English-label demonstrations with each quoted label ("positive") replaced by the quoted word
// standing for it ("ox"), in one pass; throws Error naming `context` unless exactly `shots` answers
// were replaced.
std::string rewrite_demonstration_answers(const std::string& demonstrations,
                                          const std::map<std::string, std::string>& words, int shots,
                                          const std::string& context);

}  // namespace qtalign::data
