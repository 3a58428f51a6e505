// The bad-input corpus: every file here is broken in one way, and each must give one InputError
// line that names the file, with nothing printed by VTK.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>

#include "mesh/grid.h"
#include "mesh/io.h"
#include "mesh_fixtures.h"

using namespace flare::mesh;
using namespace flare::mesh::test;

namespace {

// A minimal ASCII .vtu: `points` 3-vectors, one cell of `cell_type` over `cell_points`, and a
// point array with `array_values` scalars.
std::string ascii_vtu(int points, const std::string& coords, int cell_type,
                      const std::string& cell_points, int array_values) {
  std::string values;
  for (int i = 0; i < array_values; ++i) values += std::to_string(i) + " ";
  int n = 1;
  for (char c : cell_points) n += c == ' ';
  return "<?xml version=\"1.0\"?>\n"
         "<VTKFile type=\"UnstructuredGrid\" version=\"0.1\" byte_order=\"LittleEndian\">\n"
         "<UnstructuredGrid><Piece NumberOfPoints=\"" + std::to_string(points) +
         "\" NumberOfCells=\"1\">\n"
         "<PointData><DataArray type=\"Float64\" Name=\"temperature\" format=\"ascii\">" + values +
         "</DataArray></PointData>\n"
         "<Points><DataArray type=\"Float64\" NumberOfComponents=\"3\" format=\"ascii\">" + coords +
         "</DataArray></Points>\n"
         "<Cells><DataArray type=\"Int64\" Name=\"connectivity\" format=\"ascii\">" + cell_points +
         "</DataArray>\n<DataArray type=\"Int64\" Name=\"offsets\" format=\"ascii\">" +
         std::to_string(n) + "</DataArray>\n<DataArray type=\"UInt8\" Name=\"types\" format=\"ascii\">" +
         std::to_string(cell_type) + "</DataArray></Cells>\n</Piece></UnstructuredGrid></VTKFile>\n";
}

const std::string k_tet_coords = "0 0 0 1 0 0 0 1 0 0 0 1";

// A legacy binary file written by hand (big-endian, as the format requires), so that coordinates
// our writer would refuse (NaN) can be put on disk.
std::string legacy_binary_tet(double x0) {
  std::string s = "# vtk DataFile Version 3.0\nnan test\nBINARY\nDATASET UNSTRUCTURED_GRID\n"
                  "POINTS 4 double\n";
  const double c[12] = {x0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
  for (double v : c) {
    auto bits = std::bit_cast<std::uint64_t>(v);
    for (int b = 7; b >= 0; --b) s += char((bits >> (8 * b)) & 0xff);
  }
  s += "\nCELLS 1 5\n";
  const std::int32_t cells[5] = {4, 0, 1, 2, 3};
  for (std::int32_t v : cells)
    for (int b = 3; b >= 0; --b) s += char((std::uint32_t(v) >> (8 * b)) & 0xff);
  s += "\nCELL_TYPES 1\n";
  for (int b = 3; b >= 0; --b) s += char((10u >> (8 * b)) & 0xff);
  return s + "\n";
}

// Expects an InputError whose message is one line naming `file` and containing `expect`.
void expect_bad(const fs::path& file, const std::string& expect) {
  ::testing::internal::CaptureStderr();
  const std::string msg = input_error([&] { read_mesh(file); });
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(expect), std::string::npos) << "expected '" << expect << "' in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
  EXPECT_EQ(err, "") << "VTK printed to stderr while reading " << file;
}

TEST(BadInput, MissingFile) {
  ScratchDir dir;
  expect_bad(dir / "nope.vtu", "no such file");
}

TEST(BadInput, Directory) {
  ScratchDir dir;
  fs::create_directories(dir / "d.vtu");
  expect_bad(dir / "d.vtu", "is a directory");
}

TEST(BadInput, Unreadable) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files whatever their permissions";
  ScratchDir dir;
  write_vtu(hex_grid(1, 1, 1, 1.0), dir / "a.vtu");
  fs::permissions(dir / "a.vtu", fs::perms::none);
  expect_bad(dir / "a.vtu", "permissions");
}

TEST(BadInput, UnsupportedExtensionListsSupportedOnes) {
  ScratchDir dir;
  write_text(dir / "mesh.obj", "v 0 0 0\n");
  expect_bad(dir / "mesh.obj", ".vtu, .vtp, .vtk, .stl");
}

TEST(BadInput, PvdToReadMeshPointsToReadSeries) {
  ScratchDir dir;
  write_pvd(dir / "s.pvd", {0.0}, {"a.vtu"});
  expect_bad(dir / "s.pvd", "read_series");
}

TEST(BadInput, EmptyFile) {
  ScratchDir dir;
  write_text(dir / "e.vtu", "");
  expect_bad(dir / "e.vtu", "empty");
}

TEST(BadInput, GarbageBytes) {
  ScratchDir dir;
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk += char((i * 2654435761u) >> 13);
  // Not "solid" at the start, and a size that no binary STL triangle count explains.
  junk[0] = 'x';
  junk[80] = 1;
  for (const char* ext : {".vtu", ".vtp", ".vtk", ".stl"}) {
    write_text(dir / (std::string("junk") + ext), junk);
    ::testing::internal::CaptureStderr();
    const std::string msg = input_error([&] { read_mesh(dir / (std::string("junk") + ext)); });
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "") << ext;
    EXPECT_NE(msg.find((dir / ("junk" + std::string(ext))).string() + ": "), std::string::npos)
        << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(BadInput, StlWhoseSizeDoesNotMatchItsTriangleCount) {
  ScratchDir dir;
  // Binary STL: 80-byte header, count 2 (little-endian), one 50-byte triangle instead of two.
  std::string stl(80, ' ');
  stl += std::string("\x02\x00\x00\x00", 4);
  auto triangle = [](float z) {
    const float v[12] = {0, 0, 1, 0, 0, z, 1, 0, z, 0, 1, z};  // normal, then three vertices
    std::string t(reinterpret_cast<const char*>(v), sizeof v);  // little-endian host
    return t + std::string(2, '\0');
  };
  std::string good = stl + triangle(0) + triangle(1);
  write_text(dir / "good.stl", good);
  EXPECT_EQ(read_mesh(dir / "good.stl").num_cells(), 2);
  write_text(dir / "short.stl", stl + triangle(0));
  expect_bad(dir / "short.stl", "triangle count");
}

TEST(BadInput, TruncatedXml) {
  ScratchDir dir;
  Mesh m = hex_grid(6, 5, 4, 1.0);
  m.point_data.put(DataArray::from_doubles("t", 1, std::vector<double>(m.num_points(), 1.5)));
  write_vtu(m, dir / "full.vtu");
  const std::string bytes = read_bytes(dir / "full.vtu");
  // Cut inside the XML header, and inside the appended binary data.
  write_text(dir / "cut_header.vtu", bytes.substr(0, bytes.find("<Points>") + 4));
  expect_bad(dir / "cut_header.vtu", "corrupt");
  write_text(dir / "cut_data.vtu", bytes.substr(0, bytes.size() - bytes.size() / 4));
  expect_bad(dir / "cut_data.vtu", "corrupt");
}

TEST(BadInput, TruncatedLegacy) {
  ScratchDir dir;
  write_mesh(hex_grid(6, 5, 4, 1.0), dir / "full.vtk");
  const std::string bytes = read_bytes(dir / "full.vtk");
  write_text(dir / "cut.vtk", bytes.substr(0, bytes.size() / 2));
  expect_bad(dir / "cut.vtk", "cut.vtk");
}

TEST(BadInput, WrongContentForExtension) {
  ScratchDir dir;
  write_mesh(hex_grid(1, 1, 1, 1.0), dir / "a.vtk");
  fs::copy_file(dir / "a.vtk", dir / "legacy_named.vtu");
  expect_bad(dir / "legacy_named.vtu", "not a VTK XML unstructured grid");
  write_vtu(hex_grid(1, 1, 1, 1.0), dir / "b.vtu");
  fs::copy_file(dir / "b.vtu", dir / "xml_named.vtk");
  expect_bad(dir / "xml_named.vtk", "not a legacy VTK file");
  fs::copy_file(dir / "b.vtu", dir / "grid_named.vtp");
  expect_bad(dir / "grid_named.vtp", "not a VTK XML polydata");
}

TEST(BadInput, ZeroPoints) {
  ScratchDir dir;
  write_text(dir / "empty_mesh.vtu",
             "<?xml version=\"1.0\"?>\n<VTKFile type=\"UnstructuredGrid\" version=\"0.1\">\n"
             "<UnstructuredGrid><Piece NumberOfPoints=\"0\" NumberOfCells=\"0\">\n"
             "<Points><DataArray type=\"Float64\" NumberOfComponents=\"3\" format=\"ascii\">"
             "</DataArray></Points>\n<Cells>"
             "<DataArray type=\"Int64\" Name=\"connectivity\" format=\"ascii\"></DataArray>"
             "<DataArray type=\"Int64\" Name=\"offsets\" format=\"ascii\"></DataArray>"
             "<DataArray type=\"UInt8\" Name=\"types\" format=\"ascii\"></DataArray></Cells>\n"
             "</Piece></UnstructuredGrid></VTKFile>\n");
  expect_bad(dir / "empty_mesh.vtu", "no points");
}

TEST(BadInput, NanCoordinates) {
  ScratchDir dir;
  write_text(dir / "ok.vtk", legacy_binary_tet(0.0));
  EXPECT_EQ(read_mesh(dir / "ok.vtk").num_cells(), 1);  // the hand-made file itself is valid
  write_text(dir / "nan.vtk", legacy_binary_tet(std::nan("")));
  expect_bad(dir / "nan.vtk", "non-finite");
  write_text(dir / "inf.vtk", legacy_binary_tet(HUGE_VAL));
  expect_bad(dir / "inf.vtk", "non-finite");
}

TEST(BadInput, ArrayLengthMismatch) {
  ScratchDir dir;
  write_text(dir / "ok.vtu", ascii_vtu(4, k_tet_coords, 10, "0 1 2 3", 4));
  EXPECT_EQ(read_mesh(dir / "ok.vtu").point_data.get("temperature", "t").tuples(), 4);
  write_text(dir / "short.vtu", ascii_vtu(4, k_tet_coords, 10, "0 1 2 3", 2));
  expect_bad(dir / "short.vtu", "short.vtu");
}

TEST(BadInput, UnsupportedCellType) {
  ScratchDir dir;
  // VTK_HEXAGONAL_PRISM (16) over 12 points.
  std::string coords;
  for (int i = 0; i < 12; ++i) coords += std::to_string(i) + " " + std::to_string(i % 3) + " 0 ";
  write_text(dir / "prism.vtu", ascii_vtu(12, coords, 16, "0 1 2 3 4 5 6 7 8 9 10 11", 12));
  expect_bad(dir / "prism.vtu", "VTK cell type 16");
}

TEST(BadInput, CellIndexOutOfRange) {
  ScratchDir dir;
  write_text(dir / "oob.vtu", ascii_vtu(4, k_tet_coords, 10, "0 1 2 9", 4));
  expect_bad(dir / "oob.vtu", "oob.vtu");
}

TEST(BadSeries, TruncatedPvd) {
  ScratchDir dir;
  write_text(dir / "cut.pvd", "<?xml version=\"1.0\"?>\n<VTKFile type=\"Collection\">\n<Collec");
  ::testing::internal::CaptureStderr();
  const std::string msg = input_error([&] { read_series(dir / "cut.pvd"); });
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_NE(msg.find("cut.pvd"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(BadSeries, MissingStepFileIsNamed) {
  ScratchDir dir;
  write_pvd(dir / "s.pvd", {0.0, 1.0}, {"here.vtu", "gone.vtu"});
  write_vtu(hex_grid(1, 1, 1, 1.0), dir / "here.vtu");
  const std::string msg = input_error([&] { read_series(dir / "s.pvd"); });
  EXPECT_NE(msg.find("s.pvd"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gone.vtu"), std::string::npos) << msg;
}

TEST(BadSeries, BadStepIsNamedByItsOwnFile) {
  ScratchDir dir;
  write_text(dir / "bad.vtu", "not xml at all");
  write_pvd(dir / "s.pvd", {0.0}, {"bad.vtu"});
  const std::string msg = input_error([&] { read_series(dir / "s.pvd"); });
  EXPECT_NE(msg.find("bad.vtu"), std::string::npos) << msg;
}

}  // namespace
