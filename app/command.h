// Subcommand registry. Each subcommand lives in its own app/cmd_*.cpp and registers itself with
// FLARE_COMMAND, so adding one touches no shared file (app/CMakeLists.txt globs cmd_*.cpp).
//
// A command's name may have two words ("am simulate"); main() picks the longest registered match.
// The first word of a two-word name is a group ("am", "bench", "dataset"): the group alone, or with
// --help, lists its commands (exit 2 and 0).
// Handlers get the remaining arguments and return the exit code; they throw flare::InputError for
// problems the user can fix (exit 2) and flare::Error for the rest (exit 1).
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace flare::app {

using Args = std::vector<std::string>;
using Handler = std::function<int(const Args&)>;

struct Command {
  std::string name;     ///< "info", "am simulate"
  std::string summary;  ///< one line for the top-level usage
  Handler run;
};

std::vector<Command>& registry();

/// The commands of a group: those named "`group` <word>" ("am" -> am dataset, am part, ...),
/// sorted by name; empty when no command starts with the word `group`.
std::vector<Command> group_commands(const std::string& group);

/// One line per command: the name padded to a column, then its summary.
void print_command_list(std::ostream& os, const std::vector<Command>& commands);

/// Usage of a command group: "usage: flare-surrogate GROUP <command> [options]" and its commands.
void print_group_usage(std::ostream& os, const std::string& group);

/// Writes "error: <message>" and a newline to stderr in one write: std::cerr is unbuffered, so
/// `cerr << "error: " << m` is several writes, and under mpirun another process's output lands
/// between them (the one-line error would come out in pieces).
void print_error(const std::string& message);

struct Registrar {
  Registrar(std::string name, std::string summary, Handler run);
};

#define FLARE_COMMAND_CAT2(a, b) a##b
#define FLARE_COMMAND_CAT(a, b) FLARE_COMMAND_CAT2(a, b)
#define FLARE_COMMAND(name, summary, fn) \
  static ::flare::app::Registrar FLARE_COMMAND_CAT(flare_registrar_, __LINE__)(name, summary, fn)

namespace po = boost::program_options;

/// Parses args against `opts` (+ positional), handles --help by printing usage built from
/// `usage_line`, the options and `examples`; returns false when help was printed (exit 0).
/// Unknown options and bad values become InputError with the command name.
bool parse_args(const std::string& command, const Args& args, const po::options_description& opts,
                const po::positional_options_description& positional, po::variables_map& vm,
                const std::string& usage_line, const std::string& examples);

}  // namespace flare::app
