// flare-surrogate info FILE... [--json]: what is in a mesh (or each step of a .pvd series): points,
// cells per type, bounds, volume or area, and every array with its statistics; for a .h5 file,
// what a checkpoint or a dataset holds (surrogate/h5_summary.h). All files are read before
// anything is printed, so a bad file gives exit code 2 and one error line, never half a report
// (or half a JSON document).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/command.h"
#include "common/error.h"
#include "mesh/array_stats.h"
#include "mesh/io.h"
#include "mesh/measure.h"
#include "surrogate/h5_summary.h"

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

bool is_h5(const std::string& file) {
  std::string ext = std::filesystem::path(file).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".h5" || ext == ".hdf5";
}

std::string joined(const Json& list, const char* sep = ", ") {
  std::string out;
  for (const auto& v : list)
    out += (out.empty() ? "" : sep) + (v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

// 593155 -> "593,155": parameter counts are read, not parsed.
std::string thousands(std::int64_t n) {
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > (n < 0 ? 1 : 0); i -= 3) s.insert(std::size_t(i), ",");
  return s;
}

std::string on_off(const Json& v) { return v.get<bool>() ? "on" : "off"; }

std::string triple(const Json& v) {
  return "(" + num(v[0]) + ", " + num(v[1]) + ", " + num(v[2]) + ")";
}

void print_features(std::ostream& os, const Json& f) {
  os << "  features    " << f["names"].size() << ": " << joined(f["names"]) << "\n";
  os << "  recipe      version " << f["recipe_version"].get<int>() << ": " << joined(f["recipe"])
     << "; "
     << (f["frame"] == "part"
             ? std::string("part frame (x, y from the bounding-box centre, z above the plate)")
             : "origin " + triple(f["origin"]) + " on the plate")
     << ", length scale " << num(f["length_scale"]) << "\n";
}

void print_targets(std::ostream& os, const Json& t) {
  os << "  targets     ";
  for (std::size_t k = 0; k < t["arrays"].size(); ++k)
    os << (k ? ", " : "") << t["arrays"][k].get<std::string>() << " ("
       << t["components"][k].get<int>()
       << (t["components"][k].get<int>() == 1 ? " component)" : " components)");
  os << "\n";
}

void print_domain(std::ostream& os, const Json& d) {
  if (d.is_null()) {
    os << "  domain      not recorded (predict cannot warn about parts outside it)\n";
    return;
  }
  os << "  domain      " << d["samples"].get<std::int64_t>() << " train meshes, "
     << d["nodes"][0].get<std::int64_t>() << ".." << d["nodes"][1].get<std::int64_t>()
     << " nodes, extent " << triple(d["extent_min"]) << ".." << triple(d["extent_max"]) << ", edge "
     << num(d["edge_length"][0]) << ".." << num(d["edge_length"][1]);
  if (d.contains("dimension")) {
    const int dim = d["dimension"][1].get<int>();
    os << ", " << (dim == 3 ? "volume" : dim == 2 ? "surface" : "dimension-" + std::to_string(dim))
       << " meshes";
  }
  os << "\n";
}

void print_ensemble(std::ostream& os, const Json& e) {
  if (e.is_null()) return;
  os << "  ensemble    " << e["members"].get<int>() << " members, sigma scale "
     << num(e["sigma_scale"]) << ", score scale " << num(e["score_scale"]) << ", warns above estimated rel-L2 " << num(e["warn_score"]) << "\n";
  const Json& c = e["calibration"];
  if (c.is_null()) {
    os << "  calibration none (sigma scale 1: ensembles are usually over-confident; rebuild with "
          "model ensemble --calibrate DATA)\n";
    return;
  }
  const Json& s = c["summary"];
  const auto band = [](const Json& b) {
    return b["warned"].dump() + " of " + b["parts"].dump();
  };
  os << "  calibration " << c["split"].get<std::string>() << " split of "
     << c["data"].get<std::string>() << ": " << s["parts"].get<std::int64_t>()
     << " parts, values within +-2 sigma " << num(s["coverage_2sigma"])
     << ", rank correlation of score and rel-L2 " << num(s["spearman"]) << ", warned "
     << (s["warn_score"] == e["warn_score"]
             ? std::string()
             : "(above " + num(s["warn_score"]) + ", the threshold of the calibration) ")
     << band(s["warned_error_above_0_5"]) << " parts with rel-L2 > 0.5 and "
     << band(s["warned_error_below_0_2"]) << " with rel-L2 < 0.2\n";
}

void print_checkpoint(std::ostream& os, const Json& j) {
  const Json& c = j["model"]["config"];
  os << "  checkpoint  format " << j["format"].get<std::string>() << " v" << j["version"].get<int>()
     << " (device-neutral: runs with --device cpu or cuda)\n";
  // H and M shape no tensor of a pointwise baseline (L = 0), so they are not shown for one.
  const bool pointwise = j["model"]["pointwise_baseline"].get<bool>();
  os << "  model       " << (pointwise ? "pointwise MLP baseline" : "FLARE")
     << "  C=" << c["channel_dim"].get<int>() << " L=" << c["num_blocks"].get<int>();
  if (!pointwise) os << " H=" << c["num_heads"].get<int>() << " M=" << c["num_latents"].get<int>();
  os << " F=" << c["in_dim"].get<int>() << " T=" << c["out_dim"].get<int>() << ", "
     << thousands(j["model"]["parameters"].get<std::int64_t>()) << " parameters\n";
  os << "  options     scale " << c["attn_scale"].get<std::string>() << ", activation "
     << c["activation"].get<std::string>() << ", layers in/out "
     << c["num_layers_in_out_proj"].get<int>() << " k " << c["num_layers_k_proj"].get<int>()
     << " v " << c["num_layers_v_proj"].get<int>() << " ffn " << c["num_layers_ffn"].get<int>()
     << ", mlp ratios k " << num(c["k_proj_mlp_ratio"]) << " v " << num(c["v_proj_mlp_ratio"])
     << " ffn " << num(c["ffn_mlp_ratio"]) << ", out_proj_norm " << on_off(c["out_proj_norm"])
     << ", qk_norm " << on_off(c["qk_norm"]) << ", separate_decode_keys "
     << on_off(c["separate_decode_keys"]) << "\n";
  const Json& t = j["training"];
  const auto int_or_dash = [](const Json& v) { return v.is_null() ? std::string("-") : v.dump(); };
  if (j["resumable"].get<bool>())
    os << "  resumable   yes: optimizer state at step "
       << j["optimizer"]["step"].get<std::int64_t>() << ", epoch " << int_or_dash(t["epoch"])
       << " (rerun its train command with --resume)\n";
  else
    os << "  resumable   no ("
       << (j["optimizer"].is_null() ? "no optimizer state" : "no training state")
       << "; the .last.h5 beside it is the resumable one)\n";
  if (t.is_null()) {
    os << "  training    not recorded\n";
  } else {
    os << "  trained     " << int_or_dash(t["epoch"]) << " epochs, " << int_or_dash(t["step"])
       << " steps; best val rel-L2 "
       << (t["best_val"].is_null() ? std::string("- (never validated)")
                                   : num(t["best_val"]) + " at step " + int_or_dash(t["best_step"]))
       << "\n";
    const Json& o = t["options"];
    os << "  training   ";
    for (const char* key : {"epochs", "lr", "schedule", "warmup", "pct_start", "div_factor",
                            "final_div_factor", "cycle_momentum", "batch_size", "weight_decay",
                            "clip_norm", "ema", "loss", "seed", "val_every", "augment"})
      if (o.contains(key))
        os << " " << key << " "
           << (o[key].is_string()         ? o[key].get<std::string>()
               : o[key].is_number_float() ? num(o[key])
                                          : o[key].dump());
    os << "\n";
    if (o.contains("data")) os << "  data        " << o["data"].get<std::string>() << "\n";
    if (const Json& i = t["init_from"]; i.is_object())
      os << "  started     from " << i.value("file", std::string("?"))
         << (i.contains("member") ? " member " + i["member"].dump() : std::string()) << " (step "
         << int_or_dash(i.value("step", Json())) << "; train --init-from)\n";
    if (!t["command_line"].get<std::string>().empty())
      os << "  command     " << t["command_line"].get<std::string>() << "\n";
  }
  if (j["features"].is_null())
    os << "  features    not recorded (this checkpoint cannot predict; use one written by train)\n";
  else
    print_features(os, j["features"]);
  if (!j["targets"].is_null()) print_targets(os, j["targets"]);
  print_domain(os, j["training_domain"]);
  print_ensemble(os, j["ensemble"]);
}

void print_dataset(std::ostream& os, const Json& j) {
  os << "  dataset     format " << j["format"].get<std::string>() << " v" << j["version"].get<int>()
     << "\n";
  os << "  samples     " << j["samples"].get<std::int64_t>() << ", "
     << j["points"].get<std::int64_t>() << " points ("
     << j["points_per_sample"]["min"].get<std::int64_t>() << ".."
     << j["points_per_sample"]["max"].get<std::int64_t>() << " per sample)\n";
  os << "  splits      train " << j["splits"]["train"].get<std::int64_t>() << ", val "
     << j["splits"]["val"].get<std::int64_t>() << ", test "
     << j["splits"]["test"].get<std::int64_t>() << "\n";
  print_features(os, j["features"]);
  print_targets(os, j["targets"]);
  os << "  families   ";
  for (const auto& [name, count] : j["families"].items())
    os << " " << (name.empty() ? "(unknown)" : name) << " " << count.get<std::int64_t>();
  os << "\n";
  os << "  stats       per column over the train split\n";
  for (const char* kind : {"features", "targets"})
    for (const auto& col : j["stats"][kind])
      os << "    " << std::left << std::setw(22) << col["name"].get<std::string>() << std::right
         << " mean " << std::setw(12) << num(col["mean"]) << "  std " << std::setw(12)
         << num(col["std"]) << "\n";
  print_domain(os, j["training_domain"]);
  const Json& p = j["provenance"];
  if (p.is_null()) {
    os << "  provenance  not recorded\n";
  } else {
    os << "  provenance  " << p.value("tool", std::string("?")) << " "
       << p.value("tool_version", std::string("?")) << ", " << p.value("date", std::string("?"))
       << ", seed " << p.value("seed", Json(nullptr)).dump() << ", split "
       << p.value("split", Json(nullptr)).dump() << "\n";
    os << "  command     " << p.value("command_line", std::string()) << "\n";
  }
  if (!j["skipped"].empty()) {
    os << "  skipped     " << j["skipped"].size() << " inputs\n";
    for (const auto& s : j["skipped"]) os << "    " << s.value("reason", std::string()) << "\n";
  }
}

int run_info(const flare::app::Args& args) {
  namespace po = flare::app::po;
  po::options_description opts("options");
  opts.add_options()(
      "files", po::value<std::vector<std::string>>()->required(),
      "mesh files (.vtu .vtp .vtk .stl), .pvd series, checkpoints or datasets (.h5)")(
      "json", po::bool_switch(), "print one JSON document instead of text");
  po::positional_options_description pos;
  pos.add("files", -1);
  po::variables_map vm;
  if (!flare::app::parse_args("info", args, opts, pos, vm, "info FILE... [--json]",
                              "  flare-surrogate info examples/meshes/bracket.vtu\n"
                              "  flare-surrogate info models/lpbf-default.h5 data.h5\n"
                              "  flare-surrogate info results/series.pvd --json\n"
                              "  flare-surrogate info a.vtu b.stl --json | jq '.files[].points'"))
    return 0;

  Json files = Json::array();
  for (const auto& f : vm["files"].as<std::vector<std::string>>()) {
    const bool series =
        f.size() >= 4 && (f.substr(f.size() - 4) == ".pvd" || f.substr(f.size() - 4) == ".PVD");
    if (is_h5(f)) {
      files.push_back(flare::surrogate::summarize_h5(f));
      continue;
    }
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
    if (entry.contains("kind")) {
      if (entry["kind"] == "checkpoint")
        print_checkpoint(std::cout, entry);
      else
        print_dataset(std::cout, entry);
      continue;
    }
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

FLARE_COMMAND("info", "summarise meshes (points, cells, bounds, arrays), checkpoints and datasets",
              run_info);

}  // namespace
