// qtalign: the command-line front end. Errors the user can act on end in one line and exit 1.
#include <CLI/CLI.hpp>
#include <malloc.h>

#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "io/error.h"

int main(int argc, char** argv) {
  // Logits over a 150k-token vocabulary are hundreds of MB per batch. glibc serves blocks above its
  // mmap threshold (at most 32 MB) with fresh mappings, so every such tensor would page-fault its
  // memory in again (training on the demo model spent most of its time there); keep them on the heap
  // and let freed memory be reused instead of returned to the kernel after every step.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
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
    // --help and --version print and succeed; a usage error ends in one line, like every other error.
    if (e.get_exit_code() == 0) return app.exit(e);
    // CLI11 reads an unknown first word as a stray argument and says only that a subcommand is
    // missing; name the word instead.
    if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty()) {
      std::fprintf(stderr, "qtalign: error: unknown command '%s' (see --help for the commands)\n", argv[1]);
      return 1;
    }
    std::fprintf(stderr, "qtalign: error: %s (see --help)\n", e.what());
    return 1;
  } catch (const qtalign::Error& e) {
    std::fprintf(stderr, "qtalign: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qtalign: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
