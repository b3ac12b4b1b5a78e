#pragma once
// What the program says when it is interrupted: one line, that it was, and how to resume.
#include <string>

namespace qtalign::io {

// Makes Ctrl-C (SIGINT) and SIGTERM end the program with one line: that it was interrupted, and the
// hint set for the running command (what was kept and how to resume). main calls it once.
void report_interruptions();

// What the interruption line says for the command running now; the first hint set stays (the
// outermost command's, when `run` runs stages in process).
void set_interrupt_hint(const std::string& hint);

}  // namespace qtalign::io
