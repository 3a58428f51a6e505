// Internals shared by the mesh/io_*.cpp files. Only forward declarations of VTK types here, so
// that including this header does not pull VTK into anything else.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "mesh/mesh.h"

class vtkDataSet;
class vtkObject;
class vtkPolyData;
class vtkUnstructuredGrid;

namespace flare::mesh::detail {

/// Routes all VTK output (errors, warnings, debug text) into a per-thread buffer instead of the
/// terminal. Idempotent; every I/O entry point calls it.
void silence_vtk();

/// Collects the errors VTK reports while it is alive: through an ErrorEvent observer on `object`
/// (when given) and through the silenced output window (errors raised by VTK's helpers, e.g. the
/// XML parser inside a reader, which have no observer of ours).
class VtkErrors {
 public:
  explicit VtkErrors(vtkObject* object = nullptr);
  ~VtkErrors();
  VtkErrors(const VtkErrors&) = delete;
  VtkErrors& operator=(const VtkErrors&) = delete;

  bool any() const;
  /// The first error, squeezed onto one line without VTK's "vtkClass (0x...): " prefix.
  std::string first() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// ".VTU" -> ".vtu".
std::string lower_extension(const std::filesystem::path& path);
/// InputError unless `path` is an existing, readable, non-empty regular file.
void check_readable_file(const std::filesystem::path& path);

/// Any VTK dataset to a Mesh (fast paths for unstructured grids and polydata arrays). Throws
/// InputError prefixed with `source` for unsupported cell types; does not call validate.
Mesh from_vtk(vtkDataSet* data, const std::string& source);

/// Fills `out` with views of `mesh`'s arrays (no copies: `mesh` must outlive `out`).
void to_vtk(const Mesh& mesh, vtkUnstructuredGrid* out);

/// Fills `out` with `mesh` as polydata (copies; cells grouped verts, lines, polys, strips). Throws
/// InputError prefixed with `source` for cells polydata cannot hold.
void to_vtk_polydata(const Mesh& mesh, vtkPolyData* out, const std::string& source);

}  // namespace flare::mesh::detail
