#include "app/command.h"

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
