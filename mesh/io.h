// Reading and writing meshes. VTK does the parsing; everything here returns or takes the plain
// Mesh model, so no other module sees a VTK type. Every failure the user can fix (missing,
// unreadable, truncated or corrupt file, unsupported format or cell type, NaN coordinates, empty
// mesh) is a one-line flare::InputError that names the file; VTK itself never prints.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mesh/mesh.h"

namespace flare::mesh {

/// Reads one mesh: .vtu, .vtp, legacy .vtk (unstructured grid, polydata or any other dataset),
/// .stl. The result has passed Mesh::validate. A .pvd is refused with a hint to use read_series.
Mesh read_mesh(const std::filesystem::path& path);

/// Reads a .pvd collection (times and file names, resolved relative to the .pvd's folder), or a
/// single mesh file as a one-step series at time 0.
MeshSeries read_series(const std::filesystem::path& path);

/// Writes a VTK XML unstructured grid: binary, appended, LZ4-compressed, 64-bit headers and ids;
/// keeps every point, cell and field array and field_strings. Atomic (write_atomically).
void write_vtu(const Mesh& mesh, const std::filesystem::path& path);

/// Writes by extension: .vtu (write_vtu), legacy binary .vtk (unstructured grid), or .vtp
/// (polydata: only vertex, poly-vertex, line, poly-line, triangle, strip, polygon and quad cells;
/// VTK stores them grouped verts, lines, polys, strips, so cells and cell arrays are written in
/// that order). Atomic.
void write_mesh(const Mesh& mesh, const std::filesystem::path& path);

/// Writes a ParaView .pvd collection listing `files` (as given, normally relative to the .pvd) at
/// `times`. Atomic.
void write_pvd(const std::filesystem::path& pvd, const std::vector<double>& times,
               const std::vector<std::string>& files);

/// The extensions read_mesh accepts, for messages: ".vtu, .vtp, .vtk, .stl".
const char* supported_mesh_extensions();

}  // namespace flare::mesh
