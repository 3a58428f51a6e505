#include "tests/am/ccx_reference.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace flare::am::test {

std::string ccx_binary() {
  // FLARE_CCX: a command that runs ccx (the GPU host has no Debian packages: there it is the
  // bundled binary behind its library-path wrapper).
  if (const char* cmd = std::getenv("FLARE_CCX"); cmd && *cmd) return cmd;
  for (const char* p : {"/usr/bin/ccx", "/usr/local/bin/ccx"})
    if (std::filesystem::exists(p)) return p;
  return "";
}

namespace {

void run_ccx(const std::filesystem::path& dir) {
  const std::string cmd = "cd '" + dir.string() + "' && OMP_NUM_THREADS=1 " + ccx_binary() +
                          " -i part > ccx.log 2>&1";
  if (std::system(cmd.c_str()) != 0)
    throw std::runtime_error("ccx failed, see " + (dir / "ccx.log").string());
}

// The rows of one *NODE PRINT block of part.dat ("displacements" or "forces"): #N by 3, NaN for
// nodes the block does not list. Throws unless it lists exactly `expected` nodes.
Eigen::MatrixXd read_block(const std::filesystem::path& dir, const std::string& name,
                           std::int64_t num_points, std::int64_t expected) {
  std::ifstream dat(dir / "part.dat");
  if (!dat) throw std::runtime_error("ccx wrote no part.dat in " + dir.string());
  Eigen::MatrixXd u = Eigen::MatrixXd::Constant(num_points, 3, std::nan(""));
  std::string line;
  bool in_block = false;
  std::int64_t read = 0;
  while (std::getline(dat, line)) {
    if (!in_block) {
      in_block = line.find(" " + name + " ") != std::string::npos;
      continue;
    }
    std::istringstream is(line);
    std::int64_t node;
    double v[3];
    if (is >> node >> v[0] >> v[1] >> v[2]) {
      if (node < 1 || node > num_points) throw std::runtime_error("bad node in part.dat");
      u.row(node - 1) << v[0], v[1], v[2];
      ++read;
    } else if (read > 0 && line.find_first_not_of(' ') != std::string::npos) {
      break;
    }
  }
  if (read != expected)
    throw std::runtime_error("part.dat has " + std::to_string(read) + " nodal " + name +
                             ", expected " + std::to_string(expected));
  return u;
}

void write_nodes(std::ofstream& inp, const mesh::Mesh& part, const std::vector<char>& used) {
  inp << "*NODE, NSET=NALLNODES\n";
  for (std::int64_t i = 0; i < part.num_points(); ++i)
    if (used[i])
      inp << i + 1 << ", " << part.points(i, 0) << ", " << part.points(i, 1) << ", " << part.points(i, 2) << "\n";
}

void write_cells(std::ofstream& inp, const mesh::Mesh& part, const std::vector<std::int64_t>& cells,
                 const char* elset) {
  inp << "*ELEMENT, TYPE=C3D8, ELSET=" << elset << "\n";
  for (std::int64_t c : cells) {
    inp << c + 1;
    for (int a = 0; a < 8; ++a) inp << ", " << part.cell(c)[a] + 1;
    inp << "\n";
  }
}

}  // namespace

Eigen::MatrixXd ccx_single_step(const mesh::Mesh& part, const Material& material,
                                const std::filesystem::path& dir) {
  const std::vector<char> all(std::size_t(part.num_cells()), 1);
  return ccx_solve(part, material, all, all, dir);
}

Eigen::MatrixXd ccx_solve(const mesh::Mesh& part, const Material& material,
                          const std::vector<char>& active, const std::vector<char>& strained,
                          const std::filesystem::path& dir, Eigen::MatrixXd* reactions) {
  std::filesystem::create_directories(dir);
  const double z_min = part.points.col(2).minCoeff();
  std::vector<char> used(std::size_t(part.num_points()), 0);
  std::vector<std::int64_t> cells[2];  // [0] passive, [1] strained
  for (std::int64_t c = 0; c < part.num_cells(); ++c) {
    if (!active[c]) continue;
    cells[strained[c] ? 1 : 0].push_back(c);
    for (int a = 0; a < 8; ++a) used[part.cell(c)[a]] = 1;
  }
  std::int64_t n_used = 0, n_plate = 0;
  for (std::int64_t i = 0; i < part.num_points(); ++i) {
    n_used += used[i];
    n_plate += used[i] && part.points(i, 2) == z_min;
  }
  {
    std::ofstream inp(dir / "part.inp");
    inp.precision(17);
    write_nodes(inp, part, used);
    const char* elset[2] = {"EPASSIVE", "ESTRAINED"};
    for (int s = 0; s < 2; ++s) {
      if (!cells[s].empty()) write_cells(inp, part, cells[s], elset[s]);
    }
    inp << "*NSET, NSET=PLATE\n";
    int on_line = 0;
    for (std::int64_t i = 0; i < part.num_points(); ++i)
      if (used[i] && part.points(i, 2) == z_min) inp << i + 1 << (++on_line % 10 == 0 ? ",\n" : ", ");
    // The eigenstrain is an orthotropic thermal expansion alpha = eps* under a temperature rise
    // of 1; passive cells have the same elasticity and no expansion.
    for (int s = 0; s < 2; ++s) {
      if (cells[s].empty()) continue;
      const Eigen::Vector3d alpha = s ? Eigen::Vector3d(material.inherent_strain) : Eigen::Vector3d::Zero();
      inp << "\n*MATERIAL, NAME=M" << elset[s] << "\n*ELASTIC\n"
          << material.youngs_modulus << ", " << material.poisson_ratio << "\n"
          << "*EXPANSION, TYPE=ORTHO\n" << alpha[0] << ", " << alpha[1] << ", " << alpha[2] << "\n"
          << "*SOLID SECTION, ELSET=" << elset[s] << ", MATERIAL=M" << elset[s];
    }
    inp << "\n*INITIAL CONDITIONS, TYPE=TEMPERATURE\nNALLNODES, 0.0\n"
        << "*BOUNDARY\nPLATE, 1, 3\n"
        << "*STEP\n*STATIC\n*TEMPERATURE\nNALLNODES, 1.0\n"
        << "*NODE PRINT, NSET=NALLNODES\nU\n*NODE PRINT, NSET=PLATE\nRF\n*END STEP\n";
  }
  run_ccx(dir);
  if (reactions) *reactions = read_block(dir, "forces", part.num_points(), n_plate);
  return read_block(dir, "displacements", part.num_points(), n_used);
}

Eigen::MatrixXd ccx_loaded(const mesh::Mesh& part, const Material& material,
                           const Eigen::MatrixXd& loads, const std::vector<std::array<int, 2>>& fixed,
                           const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  {
    std::ofstream inp(dir / "part.inp");
    inp.precision(17);
    write_nodes(inp, part, std::vector<char>(std::size_t(part.num_points()), 1));
    std::vector<std::int64_t> all(std::size_t(part.num_cells()));
    std::iota(all.begin(), all.end(), 0);
    write_cells(inp, part, all, "EALL");
    inp << "*MATERIAL, NAME=PART\n*ELASTIC\n" << material.youngs_modulus << ", "
        << material.poisson_ratio << "\n*SOLID SECTION, ELSET=EALL, MATERIAL=PART\n*BOUNDARY\n";
    for (const auto& [node, dof] : fixed) inp << node + 1 << ", " << dof + 1 << ", " << dof + 1 << "\n";
    inp << "*STEP\n*STATIC\n*CLOAD\n";
    for (std::int64_t i = 0; i < part.num_points(); ++i)
      for (int d = 0; d < 3; ++d)
        if (loads(i, d) != 0) {
          char value[32];  // ccx reads at most 20 characters a field
          std::snprintf(value, sizeof value, "%.12e", loads(i, d));
          inp << i + 1 << ", " << d + 1 << ", " << value << "\n";
        }
    inp << "*NODE PRINT, NSET=NALLNODES\nU\n*END STEP\n";
  }
  run_ccx(dir);
  return read_block(dir, "displacements", part.num_points(), part.num_points());
}

}  // namespace flare::am::test
