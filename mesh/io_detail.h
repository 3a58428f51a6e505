// Internals shared by the mesh/io_*.cpp files. Only forward declarations of VTK types here, so
// that including this header does not pull VTK into anything else.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
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
/// InputError unless `path` exists (and can be looked up) and is not a directory.
void check_exists(const std::filesystem::path& path);
/// InputError unless `path` is an existing, readable, non-empty regular file.
void check_readable_file(const std::filesystem::path& path);

/// InputError naming `source` and cell `cell` unless `type` is a VTK cell type the Mesh supports.
void check_cell_type(int type, std::int64_t cell, const std::string& source);

/// The .vtu reader for binary, appended, raw, little-endian, one-piece files (uncompressed,
/// zlib, LZ4 or LZMA), decoding in parallel straight into the Mesh (mesh/io_vtu_fast.cpp).
/// Empty when the file is of another kind or does not decode: read_xml_vtk then reads it, with
/// VTK's own errors. Does not call validate.
std::optional<Mesh> read_vtu_fast(const std::filesystem::path& path);

/// Writes `mesh` to `file` as VTK's XML writer does with write_vtu's settings (appended raw,
/// UInt64 headers, Int64 ids, LZ4 blocks of 32 KiB), the blocks compressed in parallel
/// (mesh/io_vtu_write.cpp). Errors are InputErrors naming `target`, the file the user asked for.
void write_vtu_fast(const Mesh& mesh, const std::filesystem::path& file,
                    const std::filesystem::path& target, int lz4_acceleration);

/// VTK's XML reader (.vtu when `unstructured`, else .vtp), converted; does not call validate.
/// The reference that read_vtu_fast is tested against.
Mesh read_xml_vtk(const std::filesystem::path& path, bool unstructured);

/// Any VTK dataset to a Mesh (fast paths for unstructured grids and polydata arrays). Throws
/// InputError prefixed with `source` for unsupported cell types; does not call validate.
Mesh from_vtk(vtkDataSet* data, const std::string& source);

/// Fills `out` with views of `mesh`'s arrays (no copies: `mesh` must outlive `out`).
void to_vtk(const Mesh& mesh, vtkUnstructuredGrid* out);

/// Fills `out` with `mesh` as polydata (copies; cells grouped verts, lines, polys, strips). Throws
/// InputError prefixed with `source` for cells polydata cannot hold.
void to_vtk_polydata(const Mesh& mesh, vtkPolyData* out, const std::string& source);

}  // namespace flare::mesh::detail
