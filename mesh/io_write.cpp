// Writers. The Mesh's buffers are handed to VTK as views (detail::to_vtk), so writing costs the
// compression and the disk, not copies. Output goes through write_atomically: a failed write
// leaves any previous file in place.
#include <vtkNew.h>
#include <vtkPolyData.h>
#include <vtkPolyDataWriter.h>
#include <vtkUnstructuredGrid.h>
#include <vtkUnstructuredGridWriter.h>
#include <vtkXMLPolyDataWriter.h>
#include <vtkLZ4DataCompressor.h>

#include "common/atomic_file.h"
#include "common/error.h"
#include "mesh/io.h"
#include "mesh/io_detail.h"

namespace flare::mesh {

namespace fs = std::filesystem;

namespace {

// LZ4 (acceleration 1), not zlib: measured on a 985k-node predicted voxel part (points, hex
// connectivity, 4 point arrays), one thread, mean of 3 (docs/architecture.md has the table):
// zlib 1 wrote 36.5 MB in 0.96 s of CPU, zlib 5 35.6 MB in 2.1 s, LZ4 65.4 MB in 0.26 s, no
// compression 135 MB in 0.28 s. VTK writes single-threaded, so the write is most of a large
// predict after the model; LZ4 is 4x less CPU than zlib at half the size of raw. Readers of VTK
// 8.2 and later (ParaView 5.6+) decode it. The .vtu writer (io_vtu_write.cpp) now compresses the
// blocks on all threads; .vtp still goes through VTK's writer.
constexpr int k_lz4_acceleration = 1;

template <typename Writer>
void run_writer(Writer* w, const fs::path& tmp, const fs::path& target) {
  detail::VtkErrors errors(w);
  w->SetFileName(tmp.string().c_str());
  const int ok = w->Write();
  FLARE_INPUT_CHECK(ok == 1 && !errors.any(), target.string(), ": could not write the mesh (",
                    errors.any() ? errors.first() : std::string("VTK writer failed"),
                    "); check free disk space and permissions");
}

template <typename Writer>
void configure_xml(Writer* w) {
  w->SetDataModeToAppended();
  w->EncodeAppendedDataOff();
  w->SetHeaderTypeToUInt64();
  w->SetIdTypeToInt64();
  vtkNew<vtkLZ4DataCompressor> lz4;
  lz4->SetAccelerationLevel(k_lz4_acceleration);
  w->SetCompressor(lz4);
}

void check_mesh(const Mesh& mesh, const fs::path& path) {
  // The same checks a reader applies: never write a file we would refuse to read.
  mesh.validate(path.string() + " (mesh to write)");
}

}  // namespace

void write_vtu(const Mesh& mesh, const fs::path& path) {
  detail::silence_vtk();
  check_mesh(mesh, path);
  write_atomically(path, [&](const fs::path& tmp) {
    detail::write_vtu_fast(mesh, tmp, path, k_lz4_acceleration);
  });
}

void write_mesh(const Mesh& mesh, const fs::path& path) {
  const std::string ext = detail::lower_extension(path);
  if (ext == ".vtu") return write_vtu(mesh, path);
  FLARE_INPUT_CHECK(ext == ".vtk" || ext == ".vtp", path.string(), ": cannot write meshes as '",
                    ext, "' (use .vtu, .vtp or .vtk)");
  detail::silence_vtk();
  check_mesh(mesh, path);
  write_atomically(path, [&](const fs::path& tmp) {
    if (ext == ".vtk") {
      vtkNew<vtkUnstructuredGrid> grid;
      detail::to_vtk(mesh, grid);
      vtkNew<vtkUnstructuredGridWriter> w;
      w->SetFileTypeToBinary();
      w->SetInputData(grid);
      run_writer(w.Get(), tmp, path);
    } else {
      vtkNew<vtkPolyData> poly;
      detail::to_vtk_polydata(mesh, poly, path.string());
      vtkNew<vtkXMLPolyDataWriter> w;
      configure_xml(w.Get());
      w->SetInputData(poly);
      run_writer(w.Get(), tmp, path);
    }
  });
}

}  // namespace flare::mesh
