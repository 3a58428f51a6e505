// `flare-surrogate dataset build`: solved meshes -> one packed HDF5 training dataset.
//
// --split takes train,val,test fractions (a seeded shuffle by sample) or the word `manifest`: each
// input's split (and part family) then comes from the manifest.json that `am dataset` wrote in the
// input's folder, so the generator's split by part is kept.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "app/command.h"
#include "common/error.h"
#include "mesh/features.h"
#include "mesh/io.h"
#include "surrogate/checkpoint.h"
#include "surrogate/dataset.h"
#include "surrogate/manifest.h"

namespace {

using namespace flare;
namespace fs = std::filesystem;

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// A directory stands for the .vtu/.pvd files directly inside it, in name order.
std::vector<fs::path> expand_inputs(const std::vector<std::string>& args) {
  std::vector<fs::path> out;
  for (const auto& a : args) {
    if (!fs::is_directory(a)) {
      out.emplace_back(a);
      continue;
    }
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(a))
      if (e.is_regular_file() && (e.path().extension() == ".vtu" || e.path().extension() == ".pvd"))
        found.push_back(e.path());
    FLARE_INPUT_CHECK(!found.empty(), a, ": the directory holds no .vtu or .pvd files");
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

// A .pvd series contributes its last time step (the solved state); other files are read whole.
mesh::Mesh read_solved(const fs::path& path) {
  if (path.extension() == ".pvd") {
    mesh::MeshSeries series = mesh::read_series(path);
    FLARE_INPUT_CHECK(!series.meshes.empty(), path.string(), ": the series has no time steps");
    return std::move(series.meshes.back());
  }
  return mesh::read_mesh(path);
}

int dataset_build(const app::Args& args) {
  app::po::options_description opts("options");
  std::vector<std::string> inputs;
  std::string output, target, input_arrays, split = "0.8,0.1,0.1";
  std::uint64_t seed = 0;
  std::string recipe_from;
  int recipe_version = mesh::FeatureRecipe::kVersion;
  opts.add_options()
      ("input", app::po::value(&inputs)->multitoken(), "solved meshes (.vtu, .vtk, .vtp, .pvd: last step) or directories of them")
      ("output,o", app::po::value(&output)->required(), "dataset file to write (.h5)")
      ("target,t", app::po::value(&target)->required(), "point array(s) to predict, comma-separated (e.g. displacement)")
      ("inputs,i", app::po::value(&input_arrays), "extra point arrays used as input features, comma-separated")
      ("split", app::po::value(&split)->default_value(split), "train,val,test fractions (split by sample), or `manifest`: each input's split from the manifest.json of its folder (`am dataset` output)")
      ("seed", app::po::value(&seed)->default_value(seed), "seed of the split shuffle")
      ("recipe-version", app::po::value(&recipe_version)->default_value(recipe_version), "feature recipe: 2 = positions in each part's own frame (a part's features do not depend on where it sits on the plate); 1 = absolute plate positions, as the bundled models were trained (to rebuild their data or compare against them)")
      ("recipe-from", app::po::value(&recipe_from), "compute the features with this checkpoint's fitted recipe instead of fitting one on these parts: data to fine-tune that model on (train --init-from); its length scale then stays the model's")
      ("skip-bad", "leave out inputs that fail validation (reported) instead of stopping");
  app::po::positional_options_description pos;
  pos.add("input", -1);
  app::po::variables_map vm;
  if (!app::parse_args("dataset build", args, opts, pos, vm,
                       "dataset build INPUTS... -o data.h5 --target NAME [options]",
                       "  flare-surrogate dataset build runs/*.vtu -o data.h5 --target displacement\n"
                       "  flare-surrogate dataset build samples/ -o data.h5 --target displacement,von_mises \\\n"
                       "      --inputs layer --split 0.7,0.15,0.15 --seed 1 --skip-bad\n"
                       "  flare-surrogate am dataset --count 100 --out lpbf/ && \\\n"
                       "  flare-surrogate dataset build lpbf/ -o lpbf.h5 --target displacement --split manifest\n"
                       "  flare-surrogate dataset build more/ -o more.h5 --target displacement --recipe-from model.h5\n"))
    return 0;
  FLARE_INPUT_CHECK(!inputs.empty(), "dataset build: no input meshes given (see --help)");

  surrogate::DatasetBuildOptions o;
  o.inputs = expand_inputs(inputs);
  o.output = output;
  o.targets = split_list(target);
  o.input_arrays = split_list(input_arrays);
  if (split == "manifest") {
    for (auto& e : surrogate::read_manifest_entries(o.inputs)) {
      o.sample_splits.push_back(std::move(e.split));
      o.sample_families.push_back(std::move(e.family));
    }
  }
  const auto fractions = split_list(split);
  FLARE_INPUT_CHECK(split == "manifest" || fractions.size() == 3, "--split: expected three comma-separated fractions, got '",
                    split, "' (or `manifest`)");
  for (int k = 0; k < 3 && split != "manifest"; ++k) {
    try {
      std::size_t used = 0;
      o.split[k] = std::stod(fractions[k], &used);
      FLARE_INPUT_CHECK(used == fractions[k].size(), "--split: '", fractions[k], "' is not a number");
    } catch (const std::logic_error&) {
      throw InputError("--split: '" + fractions[k] + "' is not a number");
    }
  }
  FLARE_INPUT_CHECK(recipe_version >= mesh::FeatureRecipe::kMinVersion &&
                        recipe_version <= mesh::FeatureRecipe::kVersion,
                    "--recipe-version: ", recipe_version, " is not a feature recipe version (use ",
                    mesh::FeatureRecipe::kMinVersion, " or ", mesh::FeatureRecipe::kVersion, ")");
  o.recipe_version = recipe_version;
  if (!recipe_from.empty()) {
    const surrogate::Checkpoint c = surrogate::load_checkpoint(recipe_from);
    FLARE_INPUT_CHECK(!c.feature_recipe.is_null(), "--recipe-from: ", recipe_from,
                      " stores no feature recipe (a checkpoint written before recipes were stored); "
                      "build without --recipe-from");
    const int theirs = c.feature_recipe.value("version", 1);
    FLARE_INPUT_CHECK(vm["recipe-version"].defaulted() || theirs == recipe_version,
                      "--recipe-version ", recipe_version, " contradicts --recipe-from ", recipe_from,
                      ", whose recipe is version ", theirs, "; drop --recipe-version");
    o.fixed_recipe = c.feature_recipe;
  }
  o.seed = seed;
  o.skip_bad = vm.count("skip-bad") > 0;
  o.tool_version = FLARE_VERSION;
  o.command_line = "flare-surrogate dataset build";
  for (const auto& a : args) o.command_line += " " + a;

  const auto r = surrogate::build_dataset(o, read_solved, [](const std::string& msg) {
    std::cerr << "warning: " << msg << "\n";
  });
  std::cout << "wrote " << output << ": " << r.samples << " samples (train " << r.split_sizes[0]
            << ", val " << r.split_sizes[1] << ", test " << r.split_sizes[2] << "), " << r.points
            << " points, " << r.feature_names.size() << " features, " << r.target_names.size()
            << " targets" << (split == "manifest" ? " (split from the manifests)" : "") << "\n";
  if (!r.skipped.empty()) {
    std::cout << "skipped " << r.skipped.size() << " of " << o.inputs.size() << " inputs:\n";
    for (const auto& [file, why] : r.skipped) std::cout << "  " << why << "\n";
  }
  return 0;
}

FLARE_COMMAND("dataset build", "build a packed HDF5 training dataset from solved meshes", dataset_build);

}  // namespace
