#include "io/interruption.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace qtalign::io {
namespace {

// The interruption line, composed before any signal can arrive: a handler may only write() it.
char interrupt_message[2048] =
    "\nqtalign: interrupted; outputs are written whole or not at all, so none is half-written\n";

void on_interrupt(int signal_number) {
  const ssize_t ignored = ::write(STDERR_FILENO, interrupt_message, std::strlen(interrupt_message));
  (void)ignored;
  // Dies of the signal as it would have, so callers see the same status.
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

}  // namespace

void report_interruptions() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

void set_interrupt_hint(const std::string& hint) {
  // `run` sets its hint before running its stages in process; a stage's own hint would mislead.
  static bool set = false;
  if (set) return;
  set = true;
  std::snprintf(interrupt_message, sizeof interrupt_message, "\nqtalign: interrupted; %s\n", hint.c_str());
}

}  // namespace qtalign::io
