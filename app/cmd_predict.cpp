// `flare-surrogate predict`: run a trained checkpoint on meshes and write the predicted fields.
//
// Outputs: one input mesh and -o FILE (.vtu/.vtk/.vtp) → that file. Otherwise (several inputs, a
// .pvd series, or -o naming a directory) -o is a directory: each mesh X becomes X_pred.vtu in it
// (steps of a series S.pvd become S_<k>_pred.vtu) and predictions.pvd lists them all, with the
// series' times or the input order as time.
//
// Without -m the bundled model is used (surrogate::find_default_model: $FLARE_MODEL, then next to
// the executable, the installed share/ folder, the source tree). A mesh outside the model's
// training domain gets a one-line warning on stderr and is still predicted.
#include <iostream>

#include "app/command.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "mesh/io.h"
#include "surrogate/predictor.h"

namespace {

using namespace flare;
namespace fs = std::filesystem;
namespace po = app::po;

bool is_mesh_file(const fs::path& p) {
  const auto e = p.extension();
  return e == ".vtu" || e == ".vtk" || e == ".vtp";
}

int predict_cmd(const app::Args& args) {
  std::vector<std::string> inputs;
  std::string model, output, device = "cpu", precision = "fp32";
  po::options_description opts("options");
  opts.add_options()
      ("input", po::value(&inputs)->multitoken(), "meshes (.vtu, .vtk, .vtp, .stl) or .pvd series")
      ("model,m", po::value(&model), "checkpoint from `train` (default: the installed models/lpbf-default.h5)")
      ("output,o", po::value(&output), "output mesh (one input) or directory (several inputs or a .pvd)")
      ("device", po::value(&device)->default_value(device), "cpu | cuda")
      ("precision", po::value(&precision)->default_value(precision), "fp32 | bf16 (bf16 activations; needs --device cuda)");
  po::positional_options_description pos;
  pos.add("input", -1);
  po::variables_map vm;
  if (!app::parse_args("predict", args, opts, pos, vm, "predict MESH... [-m model.h5] -o OUT",
                       "  flare-surrogate predict part.vtu -m model.h5 -o part_pred.vtu\n"
                       "  flare-surrogate predict parts/*.vtu -m model.h5 -o predictions/   # + predictions.pvd\n"
                       "  flare-surrogate predict build.pvd -m model.h5 -o predictions/\n"
                       "  flare-surrogate predict part.vtu -m model.h5 --device cuda -o part_pred.vtu\n"
                       "  flare-surrogate predict part.vtu -m model.h5 --device cuda --precision bf16\n"
                       "  flare-surrogate predict part.vtu                # bundled models/lpbf-default.h5\n"
                       "  FLARE_MODEL=my.h5 flare-surrogate predict part.vtu\n"))
    return 0;
  FLARE_INPUT_CHECK(!inputs.empty(), "predict: no input mesh given (see --help)");
  surrogate::check_precision(device, precision);
  if (model.empty()) {
    const fs::path d = surrogate::find_default_model();
    FLARE_INPUT_CHECK(!d.empty(), "predict: no model given and no bundled model found (looked for ",
                      surrogate::kDefaultModelName, " in $FLARE_MODEL, <bin>/../models/, "
                      "<bin>/../share/flare-surrogate/models/ and the source tree's models/); pass -m model.h5, set FLARE_MODEL, or put the file in one of those folders");
    model = d.string();
    std::cerr << "using bundled model " << model << "\n";
  }
  for (const auto& in : inputs) FLARE_INPUT_CHECK(fs::exists(in), in, ": no such file");
  const bool single = inputs.size() == 1 && fs::path(inputs[0]).extension() != ".pvd";
  if (output.empty()) {
    FLARE_INPUT_CHECK(single, "predict: several inputs or a .pvd need -o DIRECTORY");
    const fs::path in(inputs[0]);
    output = (in.parent_path() / (in.stem().string() + "_pred.vtu")).string();
  }
  const bool to_file = single && is_mesh_file(output) && !fs::is_directory(output);
  FLARE_INPUT_CHECK(to_file || !is_mesh_file(output), "predict: -o ", output,
                    " names a mesh file but there are several outputs; give a directory");

  surrogate::Predictor predictor(model, device, precision);
  // The domain warning follows a successful prediction, so a mesh the model refuses gets only the
  // error line.
  auto predict_one = [&](mesh::Mesh& m, const std::string& source) {
    predictor.predict(m, source);
    const std::string why = predictor.outside_domain(m);
    if (!why.empty())
      std::cerr << "warning: " << source << " lies outside the training domain of " << model
                << " (" << why << "); predicted anyway, expect larger errors\n";
  };
  if (to_file) {
    check_writable(output);
    mesh::Mesh m = mesh::read_mesh(inputs[0]);
    predict_one(m, inputs[0]);
    mesh::write_mesh(m, output);
    std::cout << "wrote " << output << "\n";
    return 0;
  }

  // Predict everything before writing anything, so a bad input leaves no partial collection.
  std::vector<std::pair<std::string, mesh::Mesh>> results;
  std::vector<double> times;
  for (const auto& in : inputs) {
    const fs::path p(in);
    if (p.extension() == ".pvd") {
      mesh::MeshSeries s = mesh::read_series(p);
      for (std::size_t k = 0; k < s.meshes.size(); ++k) {
        predict_one(s.meshes[k], s.files[k]);
        results.emplace_back(p.stem().string() + "_" + std::to_string(k) + "_pred.vtu",
                             std::move(s.meshes[k]));
        times.push_back(s.times[k]);
      }
    } else {
      mesh::Mesh m = mesh::read_mesh(p);
      predict_one(m, in);
      results.emplace_back(p.stem().string() + "_pred.vtu", std::move(m));
      times.push_back(double(times.size()));
    }
  }
  const fs::path dir(output);
  fs::create_directories(dir);
  std::vector<std::string> files;
  for (const auto& [name, m] : results) {
    mesh::write_vtu(m, dir / name);
    files.push_back(name);
  }
  mesh::write_pvd(dir / "predictions.pvd", times, files);
  std::cout << "wrote " << files.size() << " meshes and " << (dir / "predictions.pvd").string()
            << "\n";
  return 0;
}

FLARE_COMMAND("predict", "predict fields on meshes with a trained checkpoint", predict_cmd);

}  // namespace
