// flare-surrogate am layer-study: the convergence study that sets the default layer-group height.
// Each part (a closed surface scaled to a size in mm) is voxelised at several resolutions and
// built with layer groups of several heights; the table gives, per solve, the difference to the
// next finer layering, to the voxel halved and to the finest solve, and the command prints the
// layer height the rule of docs/layering_study.md picks.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include "am/layer_study.h"
#include "am/simulate.h"
#include "app/bench_report.h"
#include "app/command.h"
#include "common/error.h"
#include "mesh/io.h"

namespace {

using flare::app::OrderedJson;

std::vector<double> parse_list(const std::string& text, const std::string& option) {
  std::vector<double> v;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');) {
    try {
      v.push_back(std::stod(item));
    } catch (const std::exception&) {
      throw flare::InputError("am layer-study: " + option + ": '" + item + "' is not a number");
    }
    FLARE_INPUT_CHECK(v.back() > 0, "am layer-study: ", option, " values must be positive");
  }
  FLARE_INPUT_CHECK(!v.empty(), "am layer-study: ", option, " is empty");
  return v;
}

double max_norm(const flare::mesh::Mesh& m) {
  const auto u = m.point_data.get("displacement", "study").to_doubles();
  double best = 0;
  for (std::size_t i = 0; i + 2 < u.size(); i += 3)
    best = std::max(best, std::sqrt(u[i] * u[i] + u[i + 1] * u[i + 1] + u[i + 2] * u[i + 2]));
  return best;
}

int run_layer_study(const flare::app::Args& args) {
  namespace po = flare::app::po;
  const std::string ex = std::string(FLARE_SOURCE_DIR) + "/examples/lpbf/";
  std::string parts_text = ex + "bracket.stl:5," + ex + "cantilever.stl:20," + ex + "overhang.stl:40," + ex +
                           "blade.stl:80," + ex + "bracket.stl:120";
  std::string voxels_text = "24,48,96", layers_text = "8,4,2,1,0.5,0.25,0.125,0.0625", device = "cuda", jsonl;
  std::string material = "ti64";
  double target = 0.05, box = 0;
  po::options_description opts("options");
  opts.add_options()("parts", po::value(&parts_text)->default_value(parts_text),
                     "SURFACE:SIZE,... closed surfaces scaled so their largest extent is SIZE mm")(
      "voxels", po::value(&voxels_text)->default_value(voxels_text), "voxels across each part's largest extent")(
      "layer-heights", po::value(&layers_text)->default_value(layers_text),
      "layer-group heights (mm); those below a voxel collapse into one voxel layer per group")(
      "device", po::value(&device)->default_value(device), "cuda | cpu")(
      "supports", po::value<std::string>()->default_value("auto"), "auto | none (am simulate --supports)")(
      "material", po::value(&material)->default_value(material), "material")(
      "target", po::value(&target)->default_value(target), "relative L2 difference that counts as converged")(
      "box", po::value(&box)->default_value(0), "box size (mm) of the smoothed field (0: a tenth of each part)")(
      "jsonl", po::value(&jsonl), "append every row to this JSONL file");
  po::variables_map vm;
  if (!flare::app::parse_args("am layer-study", args, opts, {}, vm,
                              "am layer-study [--parts SURFACE:SIZE,...] [--voxels N,...] [--layer-heights MM,...] [--device cuda]",
                              "  flare-surrogate am layer-study --device cuda --jsonl study.jsonl\n"
                              "  flare-surrogate am layer-study --parts part.stl:30 --voxels 16,32 --device cpu"))
    return 0;
  FLARE_INPUT_CHECK(device == "cuda" || device == "cpu" || device == "lattice-host",
                    "am layer-study: --device must be cuda or cpu");
  std::vector<double> voxels = parse_list(voxels_text, "--voxels");
  std::vector<double> layers = parse_list(layers_text, "--layer-heights");
  std::sort(voxels.begin(), voxels.end());
  std::sort(layers.begin(), layers.end(), std::greater<>());
  std::vector<std::pair<std::string, double>> parts;
  std::stringstream ps(parts_text);
  for (std::string item; std::getline(ps, item, ',');) {
    const auto colon = item.rfind(':');
    FLARE_INPUT_CHECK(colon != std::string::npos, "am layer-study: --parts: '", item, "' is not SURFACE:SIZE");
    parts.push_back({item.substr(0, colon), parse_list(item.substr(colon + 1), "--parts size")[0]});
  }

  flare::app::BenchReport report("layer-study", {{"device", device}, {"material", material}, {"target", target},
                                                 {"supports", vm["supports"].as<std::string>()}});
  std::vector<flare::am::StudyRow> rows;
  for (const auto& [file, size] : parts) {
    const flare::mesh::Mesh surface = flare::mesh::read_mesh(file);
    const std::string name = std::filesystem::path(file).stem().string() + "@" + flare::detail::concat(size);
    // solved[voxel index][layer] = mesh; a layer below the voxel is stored under the voxel.
    std::vector<std::map<double, flare::mesh::Mesh>> solved(voxels.size());
    std::vector<std::size_t> first_row(voxels.size());
    for (std::size_t vi = 0; vi < voxels.size(); ++vi) {
      const flare::mesh::Mesh part = flare::am::study_part(surface, size, int(voxels[vi]), file);
      const double h = size / voxels[vi];
      first_row[vi] = rows.size();
      for (double l : layers) {
        // Slabs thinner than two voxel layers hold one voxel layer each (elements join by their
        // centroid), the same build as one voxel layer per group.
        const double layer = l < 2 * h ? h : l;
        if (solved[vi].count(layer)) continue;
        flare::mesh::Mesh m = part;
        flare::am::SimulationOptions o;
        o.material = flare::am::material_by_name(material);
        o.layer_height = layer;
        o.device = device;
        o.supports = vm["supports"].as<std::string>() != "none";
        const auto t0 = std::chrono::steady_clock::now();
        const flare::am::SimulationReport r = flare::am::simulate(m, o);
        flare::am::StudyRow row;
        row.part = name;
        row.size = size;
        row.voxel = h;
        row.layer = layer;
        row.nodes = m.num_points();
        row.solves = r.solves;
        row.max_u = max_norm(m);
        row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "am layer-study: %s voxel %.4g mm, layer %.4g mm: %lld nodes, %d groups, %.1f s\n",
                     name.c_str(), h, layer, (long long)row.nodes, row.solves, row.seconds);
        rows.push_back(row);
        solved[vi].emplace(layer, std::move(m));
      }
    }
    // Differences: to the next finer layering (same voxel), to the voxel halved (same layering),
    // to the finest solve of the part.
    const double smooth_box = box > 0 ? box : size / 10;
    const flare::mesh::Mesh& finest = solved.back().begin()->second;
    for (std::size_t vi = 0; vi < voxels.size(); ++vi) {
      for (std::size_t k = first_row[vi]; k < rows.size() && rows[k].part == name && rows[k].voxel == size / voxels[vi]; ++k) {
        flare::am::StudyRow& row = rows[k];
        const flare::mesh::Mesh& m = solved[vi].at(row.layer);
        auto finer = solved[vi].find(row.layer);
        if (finer != solved[vi].begin()) {
          --finer;  // the map is ascending: the next smaller layer height
          row.to_half_layer = flare::am::shared_node_difference(m, finer->second, "displacement");
          row.to_half_layer_smooth = flare::am::smooth_difference(m, finer->second, "displacement", smooth_box);
        }
        if (vi + 1 < voxels.size() && solved[vi + 1].count(row.layer))
          row.to_half_voxel = flare::am::shared_node_difference(m, solved[vi + 1].at(row.layer), "displacement");
        if (&m != &finest) row.to_finest = flare::am::shared_node_difference(m, finest, "displacement");
      }
    }
  }
  auto num = [](double v) { return v < 0 ? OrderedJson(nullptr) : OrderedJson(std::round(v * 1e4) / 1e4); };
  for (const flare::am::StudyRow& r : rows)
    report.add({{"part", r.part},
                {"voxel_mm", std::round(r.voxel * 1e4) / 1e4},
                {"layer_mm", std::round(r.layer * 1e4) / 1e4},
                {"nodes", r.nodes},
                {"groups", r.solves},
                {"max_u_mm", std::round(r.max_u * 1e5) / 1e5},
                {"to_next_finer_layer", num(r.to_half_layer)},
                {"smooth_to_next_finer", num(r.to_half_layer_smooth)},
                {"to_voxel_halved", num(r.to_half_voxel)},
                {"to_finest", num(r.to_finest)},
                {"seconds", std::round(r.seconds * 100) / 100}});
  report.print_markdown(std::cout);
  if (!jsonl.empty()) report.append_jsonl(jsonl);
  const flare::am::StudyChoice c = flare::am::choose_layer_height(rows, target);
  std::printf("\nlayer height: %.4g mm (%s; largest difference to the next finer layering %.3f)\n", c.layer,
              c.within ? "every part within the target" : "not every part within the target: the finest studied",
              c.worst);
  return 0;
}

}  // namespace

FLARE_COMMAND("am layer-study", "convergence study of the layer-group height and voxel size (sets the default)",
              run_layer_study);
