// qtalign: the command-line front end. Errors the user can act on end in one line and exit 1.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "io/error.h"

int main(int argc, char** argv) {
  CLI::App app{"qtalign: multilingual alignment of LLMs through question translation"};
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
  qtalign::cli::add_generate_command(app);
  qtalign::cli::add_init_model_command(app);
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const qtalign::Error& e) {
    std::fprintf(stderr, "qtalign: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qtalign: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
