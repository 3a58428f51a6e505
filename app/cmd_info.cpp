// flare-surrogate info FILE... [--json]: what is in a mesh (or each step of a .pvd series): points,
// cells per type, bounds, volume or area, and every array with its statistics. All files are read
// before anything is printed, so a bad file gives exit code 2 and one error line, never half a
// report (or half a JSON document).
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "app/command.h"
#include "common/error.h"
#include "mesh/array_stats.h"
#include "mesh/io.h"
#include "mesh/measure.h"

namespace {

using flare::mesh::Mesh;
using Json = nlohmann::ordered_json;

Json array_json(const flare::mesh::DataArray& a) {
  const auto s = flare::mesh::array_stats(a);
  Json j;
  j["name"] = a.name();
  j["type"] = flare::mesh::dtype_name(a.type());
  j["components"] = a.components();
  j["tuples"] = a.tuples();
  j["min"] = s.values ? Json(s.min) : Json(nullptr);
  j["max"] = s.values ? Json(s.max) : Json(nullptr);
  j["mean"] = s.values ? Json(s.mean) : Json(nullptr);
  j["nan"] = s.nan_count;
  return j;
}

Json mesh_json(const Mesh& m, const std::string& file) {
  Json j;
  j["file"] = file;
  j["points"] = m.num_points();
  j["cells"] = m.num_cells();
  std::map<std::string, std::int64_t> per_type;
  for (std::int64_t c = 0; c < m.num_cells(); ++c)
    ++per_type[flare::mesh::cell_type_name(m.cell_type(c))];
  j["cell_types"] = per_type;
  const Eigen::RowVector3d lo = m.points.colwise().minCoeff(), hi = m.points.colwise().maxCoeff();
  j["bounds"] = {{lo(0), hi(0)}, {lo(1), hi(1)}, {lo(2), hi(2)}};
  j["dimension"] = m.dimension();
  if (m.dimension() == 3) j["volume"] = flare::mesh::mesh_volume(m);
  if (m.dimension() == 2) j["area"] = flare::mesh::mesh_area(m);
  for (const char* kind : {"point_data", "cell_data", "field_data"}) {
    const auto& set = std::string(kind) == "point_data"  ? m.point_data
                      : std::string(kind) == "cell_data" ? m.cell_data
                                                         : m.field_data;
    j[kind] = Json::array();
    for (const auto& a : set.all()) j[kind].push_back(array_json(a));
  }
  j["field_strings"] = m.field_strings;
  return j;
}

std::string num(const Json& v) {
  if (v.is_null()) return "-";
  std::ostringstream os;
  os << std::setprecision(6) << v.get<double>();
  return os.str();
}

void print_mesh(std::ostream& os, const Json& j, const std::string& indent) {
  os << indent << "points      " << j["points"].get<std::int64_t>() << "\n";
  os << indent << "cells       " << j["cells"].get<std::int64_t>();
  if (!j["cell_types"].empty()) {
    os << "  (";
    bool first = true;
    for (const auto& [name, count] : j["cell_types"].items()) {
      os << (first ? "" : ", ") << name << " " << count.get<std::int64_t>();
      first = false;
    }
    os << ")";
  }
  os << "\n" << indent << "bounds     ";
  const char* axes = "xyz";
  for (int k = 0; k < 3; ++k)
    os << " " << axes[k] << " [" << num(j["bounds"][k][0]) << ", " << num(j["bounds"][k][1]) << "]";
  os << "\n";
  if (j.contains("volume")) os << indent << "volume      " << num(j["volume"]) << "\n";
  if (j.contains("area")) os << indent << "area        " << num(j["area"]) << "\n";
  for (const char* kind : {"point_data", "cell_data", "field_data"}) {
    const Json& arrays = j[kind];
    if (arrays.empty()) continue;
    os << indent << kind << " (" << arrays.size() << (arrays.size() == 1 ? " array" : " arrays")
       << ")\n";
    for (const auto& a : arrays) {
      os << indent << "  " << std::left << std::setw(24) << a["name"].get<std::string>()
         << std::setw(8) << a["type"].get<std::string>() << "x" << std::setw(3)
         << a["components"].get<int>() << std::right << " min " << num(a["min"]) << "  max "
         << num(a["max"]) << "  mean " << num(a["mean"]) << "  nan " << a["nan"].get<std::int64_t>()
         << "\n";
    }
  }
  for (const auto& [key, value] : j["field_strings"].items())
    os << indent << "string      " << key << " = " << value.get<std::string>() << "\n";
}

int run_info(const flare::app::Args& args) {
  namespace po = flare::app::po;
  po::options_description opts("options");
  opts.add_options()("files", po::value<std::vector<std::string>>()->required(),
                     "mesh files (.vtu .vtp .vtk .stl) or .pvd series")(
      "json", po::bool_switch(), "print one JSON document instead of text");
  po::positional_options_description pos;
  pos.add("files", -1);
  po::variables_map vm;
  if (!flare::app::parse_args(
          "info", args, opts, pos, vm, "info FILE... [--json]",
          "  flare-surrogate info examples/meshes/bracket.vtu\n"
          "  flare-surrogate info results/series.pvd --json\n"
          "  flare-surrogate info a.vtu b.stl --json | jq '.files[].points'"))
    return 0;

  Json files = Json::array();
  for (const auto& f : vm["files"].as<std::vector<std::string>>()) {
    const bool series = f.size() >= 4 && (f.substr(f.size() - 4) == ".pvd" ||
                                          f.substr(f.size() - 4) == ".PVD");
    if (!series) {
      files.push_back(mesh_json(flare::mesh::read_mesh(f), f));
      continue;
    }
    const auto s = flare::mesh::read_series(f);
    Json entry;
    entry["file"] = f;
    entry["steps"] = Json::array();
    for (std::size_t i = 0; i < s.meshes.size(); ++i) {
      Json step = mesh_json(s.meshes[i], s.files[i]);
      step["time"] = s.times[i];
      entry["steps"].push_back(std::move(step));
    }
    files.push_back(std::move(entry));
  }

  if (vm["json"].as<bool>()) {
    std::cout << Json{{"files", files}}.dump(2) << "\n";
    return 0;
  }
  for (const auto& entry : files) {
    std::cout << entry["file"].get<std::string>() << "\n";
    if (!entry.contains("steps")) {
      print_mesh(std::cout, entry, "  ");
      continue;
    }
    std::cout << "  series of " << entry["steps"].size() << " steps\n";
    for (const auto& step : entry["steps"]) {
      std::cout << "  step t=" << num(step["time"]) << "  " << step["file"].get<std::string>()
                << "\n";
      print_mesh(std::cout, step, "    ");
    }
  }
  return 0;
}

FLARE_COMMAND("info", "summarise meshes: points, cells, bounds, volume, arrays", run_info);

}  // namespace
