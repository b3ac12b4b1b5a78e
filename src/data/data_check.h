#pragma once
// `qtalign data check`: every file prompts.json names read and checked, the test sets parallel to English.
#include <cstddef>

#include "data/protocol.h"

namespace qtalign::data {

struct DataCheck {
  size_t files = 0;
  size_t items = 0;
};

// Reads every test set and shipped training set of the study's tasks and checks each language's
// test set is parallel to English (same size, same label item by item); throws Error naming the file.
DataCheck check_data_files(const Protocol& protocol);

}  // namespace qtalign::data
