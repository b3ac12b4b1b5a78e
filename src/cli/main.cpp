// qtalign: the command-line front end. Errors the user can act on end in one line and exit 1; a bug
// ends in one line that says where to report it, exit 2; never a library backtrace.
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/error.h"
#include "io/heap_policy.h"
#include "io/interruption.h"
#include "io/provenance.h"

namespace {

constexpr const char* kReportTo =
    "this is a bug in qtalign: please report it, with the command line and this message, to the qtalign "
    "issue tracker";

// The top-level --help lists each command with the first line of its description only.
class OneLineCommands : public CLI::Formatter {
 public:
  std::string make_subcommand(const CLI::App* sub) const override {
    const std::string description = sub->get_description();
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true), description.substr(0, description.find('\n')),
                             column_width_);
    return out.str();
  }
};

// CLI11 wraps "-1" into 18446744073709551615 for unsigned options; every unsigned option of every
// command refuses negative values instead.
void refuse_negative_unsigned(CLI::App& app) {
  for (CLI::Option* option : app.get_options())
    if (option->get_type_name() == "UINT") option->check(qtalign::cli::at_least(0));
  for (CLI::App* command : app.get_subcommands({})) refuse_negative_unsigned(*command);
}

// The first line of a message: libtorch appends its C++ backtrace to what().
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

int main(int argc, char** argv) {
  qtalign::io::keep_large_blocks_on_heap();
  qtalign::io::set_command_line(argc, argv);
  qtalign::io::report_interruptions();
  CLI::App app{"qtalign: multilingual alignment of LLMs through question translation"};
  app.formatter(std::make_shared<OneLineCommands>());
  app.set_version_flag("--version", std::string("qtalign ") + QTALIGN_VERSION);
  qtalign::cli::add_data_command(app);
  qtalign::cli::add_eval_command(app);
  qtalign::cli::add_compare_command(app);
  qtalign::cli::add_train_command(app);
  qtalign::cli::add_merge_command(app);
  qtalign::cli::add_launch_command(app);
  qtalign::cli::add_lens_command(app);
  qtalign::cli::add_pca_command(app);
  qtalign::cli::add_run_command(app);
  qtalign::cli::add_study_command(app);
  qtalign::cli::add_generate_command(app);
  qtalign::cli::add_init_model_command(app);
  qtalign::cli::add_task_command(app);
  refuse_negative_unsigned(app);
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version print and succeed; a usage error ends in one line, like every other error.
    if (e.get_exit_code() == 0) return app.exit(e);
    // CLI11 reads an unknown first word as a stray argument and says only that a subcommand is
    // missing; name the word instead.
    if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty()) {
      std::fprintf(stderr, "qtalign: error: unknown command '%s' (see --help for the commands)\n", argv[1]);
      return 1;
    }
    std::fprintf(stderr, "qtalign: error: %s (see --help)\n", first_line(e.what()).c_str());
    return 1;
  } catch (const qtalign::Error& e) {
    std::fprintf(stderr, "qtalign: error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "qtalign: internal error: %s (%s)\n", first_line(e.what_without_backtrace()).c_str(),
                 kReportTo);
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "qtalign: error: out of memory (a smaller --batch, --dtype bf16 or a machine with more "
                         "memory may help)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qtalign: internal error: %s (%s)\n", first_line(e.what()).c_str(), kReportTo);
    return 2;
  }
  return 0;
}
