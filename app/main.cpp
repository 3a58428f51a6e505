// flare-surrogate: dispatch to a subcommand, and the one place where exceptions become messages
// and exit codes (0 ok, 1 internal or runtime failure, 2 bad input or usage).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>

#include "app/command.h"
#include "common/error.h"
#include "surrogate/comm.h"

using flare::app::Command;
using flare::app::registry;

namespace {

void print_usage(std::ostream& os) {
  auto cmds = registry();
  std::sort(cmds.begin(), cmds.end(),
            [](const Command& a, const Command& b) { return a.name < b.name; });
  os << "flare-surrogate: FLARE transformer surrogates for simulations on meshes\n\n"
        "usage: flare-surrogate <command> [options]   (flare-surrogate <command> --help)\n\n"
        "commands:\n";
  flare::app::print_command_list(os, cmds);
}

// `flare-surrogate GROUP [--help | WORD ...]` where no command matched: the group's usage (exit 0
// for --help, 2 when the group is given alone), or one line naming the unknown subcommand (exit 2).
// Returns -1 when argv[1] is not a group.
int group_usage(int argc, char** argv) {
  const std::string group = argv[1];
  if (flare::app::group_commands(group).empty()) return -1;
  const std::string next = argc > 2 ? argv[2] : "";
  if (argc == 2 || next == "--help" || next == "-h") {
    flare::app::print_group_usage(std::cout, group);
    return argc == 2 ? 2 : 0;
  }
  std::cerr << "flare-surrogate: unknown " << group << " command '" << next << "' (run 'flare-surrogate "
            << group << " --help' for the list)\n";
  return 2;
}

// Longest registered command name matching the leading arguments ("am simulate" before "am").
const Command* find_command(int argc, char** argv, int& consumed) {
  const Command* best = nullptr;
  for (const auto& c : registry()) {
    std::string joined;
    for (int i = 1; i < argc; ++i) {
      joined += (i > 1 ? " " : "") + std::string(argv[i]);
      if (joined == c.name && (!best || c.name.size() > best->name.size())) {
        best = &c;
        consumed = i;
      }
    }
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  // Under mpirun only rank 0 speaks on stdout, for every command and from the start (--help and
  // usage included); errors stay on every rank's stderr. The launcher's rank is known before MPI
  // starts. A failed stream drops what is written to it and, unlike a swapped buffer, leaves
  // nothing to dangle when the statics are torn down after main.
  if (flare::surrogate::launcher_rank() > 0) std::cout.setstate(std::ios::badbit);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    print_usage(std::cout);
    return argc < 2 ? 2 : 0;
  }
  if (std::string(argv[1]) == "--version") {
    std::cout << "flare-surrogate " FLARE_VERSION "\n";
    return 0;
  }
  int consumed = 0;
  const Command* cmd = find_command(argc, argv, consumed);
  if (!cmd) {
    if (const int code = group_usage(argc, argv); code >= 0) return code;
    std::cerr << "flare-surrogate: unknown command '" << argv[1]
              << "' (run 'flare-surrogate --help' for the list)\n";
    return 2;
  }
  flare::app::Args args(argv + consumed + 1, argv + argc);
  try {
    return cmd->run(args);
  } catch (const flare::InputError& e) {
    flare::app::print_error(e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    flare::app::print_error("out of memory (try a smaller input or batch)");
    return 1;
  } catch (const std::exception& e) {
    flare::app::print_error(e.what());
    return 1;
  }
}
