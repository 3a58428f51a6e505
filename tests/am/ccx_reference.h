// Test helper: the same single-step inherent-strain problem solved by CalculiX (the reference
// solver of record). The eigenstrain becomes an orthotropic thermal expansion alpha = eps* with a
// temperature rise of 1 (thermal strain = alpha (T - T0), the same sign as eps*), the plate nodes
// get *BOUNDARY 1..3, elements are C3D8 (full 2x2x2 integration, like ours).
#pragma once

#include <Eigen/Core>
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "am/material.h"
#include "mesh/mesh.h"

namespace flare::am::test {

/// Path of the CalculiX binary, or "" when it is not installed.
std::string ccx_binary();

/// Writes `dir`/part.inp, runs ccx in `dir`, parses the nodal displacements from part.dat.
/// Returns #N by 3 (row i = point i of `part`). Throws std::runtime_error on any failure.
Eigen::MatrixXd ccx_single_step(const mesh::Mesh& part, const Material& material,
                                const std::filesystem::path& dir);

/// One linear solve on a sub-mesh: only the cells with active[c] exist, and only those with
/// strained[c] carry the inherent strain (the others get a material without expansion); the
/// nodes of active cells on the plate z = min z of the whole part are fixed. Returns #N by 3 with
/// NaN rows for points in no active cell. A layer-by-layer build is a sum of such solves.
/// `reactions` (optional): #N by 3, the plate's reaction forces on the active plate nodes (NaN
/// elsewhere).
Eigen::MatrixXd ccx_solve(const mesh::Mesh& part, const Material& material,
                          const std::vector<char>& active, const std::vector<char>& strained,
                          const std::filesystem::path& dir, Eigen::MatrixXd* reactions = nullptr);

/// Whole part, no inherent strain: nodal loads #N by 3 and the given (node, dof) supports.
Eigen::MatrixXd ccx_loaded(const mesh::Mesh& part, const Material& material,
                           const Eigen::MatrixXd& loads, const std::vector<std::array<int, 2>>& fixed,
                           const std::filesystem::path& dir);

}  // namespace flare::am::test
