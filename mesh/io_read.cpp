// read_mesh: checks the file before VTK sees it (exists, is a file, readable, known extension,
// right kind of content), runs the matching VTK reader with its errors captured, converts, and
// validates. Every failure is one InputError line that starts with the file name.
#include <vtkDataSet.h>
#include <vtkDataSetReader.h>
#include <vtkNew.h>
#include <vtkPolyData.h>
#include <vtkSTLReader.h>
#include <vtkUnstructuredGrid.h>
#include <vtkXMLPolyDataReader.h>
#include <vtkXMLUnstructuredGridReader.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>

#include "common/error.h"
#include "mesh/io.h"
#include "mesh/io_detail.h"

namespace flare::mesh {

namespace fs = std::filesystem;

const char* supported_mesh_extensions() { return ".vtu, .vtp, .vtk, .stl"; }

namespace detail {

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext;
}

// The checks every reader needs before parsing; the messages say what to do.
void check_exists(const fs::path& path) {
  const std::string f = path.string();
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  // An error here is not "missing": a folder on the way may not be searchable.
  FLARE_INPUT_CHECK(!ec, f, ": cannot access (", ec.message(), "; check the folder permissions)");
  FLARE_INPUT_CHECK(exists, f, ": no such file (check the path)");
  FLARE_INPUT_CHECK(!fs::is_directory(path, ec), f, ": is a directory, expected a mesh file");
}

void check_readable_file(const fs::path& path) {
  const std::string f = path.string();
  check_exists(path);
  std::error_code ec;
  std::ifstream probe(path, std::ios::binary);
  FLARE_INPUT_CHECK(probe.good(), f, ": cannot open the file for reading (check its permissions)");
  FLARE_INPUT_CHECK(fs::file_size(path, ec) > 0 && !ec, f, ": the file is empty");
}

}  // namespace detail

namespace {

[[noreturn]] void fail_read(const std::string& f, const char* what, const std::string& vtk_msg) {
  throw InputError(f + ": cannot read this " + what + " file" +
                   (vtk_msg.empty() ? std::string() : " (" + vtk_msg + ")") +
                   "; the file is truncated or corrupt, re-export it");
}

// Runs `reader` with errors captured; returns its output as a Mesh.
template <typename Reader>
Mesh run_reader(Reader* reader, const std::string& f, const char* what) {
  detail::VtkErrors errors(reader);
  reader->Update();
  if (errors.any() || reader->GetErrorCode() != 0) fail_read(f, what, errors.first());
  vtkDataSet* out = vtkDataSet::SafeDownCast(reader->GetOutputDataObject(0));
  if (!out) fail_read(f, what, "no dataset in the file");
  return detail::from_vtk(out, f);
}

}  // namespace

Mesh detail::read_xml_vtk(const fs::path& path, bool unstructured) {
  const std::string f = path.string();
  if (unstructured) {
    vtkNew<vtkXMLUnstructuredGridReader> r;
    detail::VtkErrors errors(r);
    FLARE_INPUT_CHECK(r->CanReadFile(f.c_str()), f,
                      ": is not a VTK XML unstructured grid (.vtu) file (wrong extension, or the "
                      "file is corrupt)");
    r->SetFileName(f.c_str());
    return run_reader(r.Get(), f, "VTK XML (.vtu)");
  }
  vtkNew<vtkXMLPolyDataReader> r;
  detail::VtkErrors errors(r);
  FLARE_INPUT_CHECK(r->CanReadFile(f.c_str()), f,
                    ": is not a VTK XML polydata (.vtp) file (wrong extension, or the file is "
                    "corrupt)");
  r->SetFileName(f.c_str());
  return run_reader(r.Get(), f, "VTK XML (.vtp)");
}

namespace {

// .vtu files of the common kind are decoded in parallel; the rest, and any file the fast reader
// does not accept, go through VTK.
Mesh read_xml(const fs::path& path, bool unstructured) {
  if (unstructured)
    if (std::optional<Mesh> m = detail::read_vtu_fast(path)) return std::move(*m);
  return detail::read_xml_vtk(path, unstructured);
}

Mesh read_legacy(const fs::path& path) {
  const std::string f = path.string();
  {
    std::ifstream in(path);
    std::string header;
    std::getline(in, header);
    FLARE_INPUT_CHECK(header.rfind("# vtk DataFile", 0) == 0, f,
                      ": is not a legacy VTK file (its first line should start with "
                      "'# vtk DataFile')");
  }
  vtkNew<vtkDataSetReader> r;
  r->SetFileName(f.c_str());
  // Without these the legacy reader keeps only the first array of each attribute kind.
  r->ReadAllScalarsOn();
  r->ReadAllVectorsOn();
  r->ReadAllNormalsOn();
  r->ReadAllTensorsOn();
  r->ReadAllColorScalarsOn();
  r->ReadAllTCoordsOn();
  r->ReadAllFieldsOn();
  return run_reader(r.Get(), f, "legacy VTK (.vtk)");
}

// VTK reads any bytes as a binary STL (an 80-byte header, a triangle count, 50 bytes per
// triangle), so check that the size matches the count, or that the file is ASCII ("solid ...").
void check_stl(const fs::path& path) {
  const std::string f = path.string();
  std::ifstream in(path, std::ios::binary);
  char head[84] = {};
  in.read(head, sizeof head);
  const auto got = in.gcount();
  std::uint32_t count = 0;
  for (int b = 3; b >= 0; --b) count = (count << 8) | static_cast<unsigned char>(head[80 + b]);
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  const bool binary = got == 84 && size == 84 + 50 * std::uintmax_t(count);
  const bool ascii = std::string(head, std::size_t(std::min<std::streamsize>(got, 5))) == "solid";
  FLARE_INPUT_CHECK(binary || ascii, f,
                    ": is neither an ASCII STL (starting with 'solid') nor a binary STL whose size "
                    "matches its triangle count (truncated or corrupt?); re-export it");
}

Mesh read_stl(const fs::path& path) {
  const std::string f = path.string();
  check_stl(path);
  vtkNew<vtkSTLReader> r;
  r->SetFileName(f.c_str());
  return run_reader(r.Get(), f, "STL");
}

}  // namespace

Mesh read_mesh(const fs::path& path) {
  detail::silence_vtk();
  const std::string f = path.string();
  const std::string ext = detail::lower_extension(path);
  detail::check_exists(path);
  FLARE_INPUT_CHECK(ext != ".pvd", f,
                    ": is a .pvd collection of meshes, not one mesh (read it with read_series, or "
                    "pass one of the mesh files it lists)");
  const bool known = ext == ".vtu" || ext == ".vtp" || ext == ".vtk" || ext == ".stl";
  FLARE_INPUT_CHECK(known, f, ": unsupported mesh format '", ext.empty() ? "(no extension)" : ext,
                    "' (supported: ", supported_mesh_extensions(), ", and .pvd series)");
  detail::check_readable_file(path);
  Mesh m = ext == ".vtu"   ? read_xml(path, true)
           : ext == ".vtp" ? read_xml(path, false)
           : ext == ".vtk" ? read_legacy(path)
                           : read_stl(path);
  m.validate(f);
  return m;
}

}  // namespace flare::mesh
