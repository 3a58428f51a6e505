#include "app/command.h"

#include <cstdio>

#include <algorithm>
#include <iostream>

#include "common/error.h"

namespace flare::app {

std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}

Registrar::Registrar(std::string name, std::string summary, Handler run) {
  registry().push_back({std::move(name), std::move(summary), std::move(run)});
}

std::vector<Command> group_commands(const std::string& group) {
  std::vector<Command> out;
  const std::string prefix = group + " ";
  for (const auto& c : registry())
    if (!group.empty() && c.name.size() > prefix.size() && c.name.compare(0, prefix.size(), prefix) == 0)
      out.push_back(c);
  std::sort(out.begin(), out.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  return out;
}

void print_error(const std::string& message) {
  const std::string line = "error: " + message + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void print_command_list(std::ostream& os, const std::vector<Command>& commands) {
  for (const auto& c : commands) {
    os << "  " << c.name;
    for (std::size_t i = c.name.size(); i < 18; ++i) os << ' ';
    os << c.summary << "\n";
  }
}

void print_group_usage(std::ostream& os, const std::string& group) {
  os << "usage: flare-surrogate " << group << " <command> [options]   (flare-surrogate " << group
     << " <command> --help)\n\n"
     << group << " commands:\n";
  print_command_list(os, group_commands(group));
}

bool parse_args(const std::string& command, const Args& args, const po::options_description& opts,
                const po::positional_options_description& positional, po::variables_map& vm,
                const std::string& usage_line, const std::string& examples) {
  po::options_description all(opts);
  all.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: flare-surrogate " << usage_line << "\n\n" << all << "\n";
      if (!examples.empty()) std::cout << "examples:\n" << examples << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError("flare-surrogate " + command + ": " + e.what() + " (see 'flare-surrogate " +
                     command + " --help')");
  }
  return true;
}

}  // namespace flare::app
