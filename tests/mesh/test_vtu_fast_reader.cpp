// The parallel .vtu reader (mesh/io_vtu_fast.cpp) against VTK's reader on the same files: files
// write_vtu writes (LZ4), zlib files of the examples, hand-made uncompressed files with 32-bit
// headers, 32-bit ids and float points; and the files it must leave to VTK (ascii, base64,
// corrupt or truncated data), where read_mesh still answers as before.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <fstream>

#include "mesh/grid.h"
#include "mesh/io.h"
#include "mesh/io_detail.h"
#include "mesh_fixtures.h"

using namespace flare::mesh;
using namespace flare::mesh::test;
using flare::test::input_error;

namespace {

// An uncompressed appended .vtu with UInt32 headers: a hexahedron and a tetrahedron on float32
// points, int32 ids, a float64 point array, a 2-component int16 cell array, a field array of two
// tuples and a field string array of two values.
std::string handmade_vtu(bool ascii_points = false) {
  std::string bin, xml_arrays[7];
  auto append = [&](const void* data, std::uint32_t bytes) {
    const std::size_t offset = bin.size();
    bin.append(reinterpret_cast<const char*>(&bytes), 4);
    bin.append(static_cast<const char*>(data), bytes);
    return std::to_string(offset);
  };
  const float pts[11 * 3] = {0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1,
                             2, 0, 0, 2, 1, 0, 2, 0.5f, 1.5f};
  const std::int32_t conn[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1};
  const std::int32_t offs[2] = {8, 12};
  const std::uint8_t types[2] = {12, 10};
  double t[11];
  for (int i = 0; i < 11; ++i) t[i] = 0.5 * i - 1;
  const std::int16_t c[4] = {-3, 7, 100, -32000};
  const double fd[2] = {1.25, -8};
  const char strings[] = {'a', '\0', 'b', 'c', '\0'};
  xml_arrays[0] = append(pts, sizeof pts);
  xml_arrays[1] = append(conn, sizeof conn);
  xml_arrays[2] = append(offs, sizeof offs);
  xml_arrays[3] = append(types, sizeof types);
  xml_arrays[4] = append(t, sizeof t);
  xml_arrays[5] = append(c, sizeof c);
  xml_arrays[6] = append(fd, sizeof fd);
  const std::string str_offset = append(strings, sizeof strings);
  std::string points_xml =
      ascii_points ? "<DataArray type=\"Float32\" Name=\"Points\" NumberOfComponents=\"3\" format=\"ascii\">\n" +
                         [&] {
                           std::string s;
                           for (float v : pts) s += std::to_string(v) + " ";
                           return s;
                         }() + "\n</DataArray>"
                   : "<DataArray type=\"Float32\" Name=\"Points\" NumberOfComponents=\"3\" format=\"appended\" offset=\"" +
                         xml_arrays[0] + "\"/>";
  return "<?xml version=\"1.0\"?>\n"
         "<VTKFile type=\"UnstructuredGrid\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt32\">\n"
         "  <UnstructuredGrid>\n"
         "    <FieldData>\n"
         "      <DataArray type=\"Float64\" Name=\"fd\" NumberOfTuples=\"2\" format=\"appended\" offset=\"" + xml_arrays[6] + "\"/>\n"
         "      <Array type=\"String\" Name=\"note\" NumberOfTuples=\"2\" format=\"appended\" offset=\"" + str_offset + "\"/>\n"
         "    </FieldData>\n"
         "    <Piece NumberOfPoints=\"11\" NumberOfCells=\"2\">\n"
         "      <PointData Scalars=\"t\">\n"
         "        <DataArray type=\"Float64\" Name=\"t\" format=\"appended\" offset=\"" + xml_arrays[4] + "\"/>\n"
         "      </PointData>\n"
         "      <CellData>\n"
         "        <DataArray type=\"Int16\" Name=\"c\" NumberOfComponents=\"2\" format=\"appended\" offset=\"" + xml_arrays[5] + "\">\n"
         "          <InformationKey name=\"L2_NORM_RANGE\" location=\"vtkDataArray\" length=\"2\">\n"
         "            <Value index=\"0\">1</Value>\n"
         "            <Value index=\"1\">2</Value>\n"
         "          </InformationKey>\n"
         "        </DataArray>\n"
         "      </CellData>\n"
         "      <Points>\n        " + points_xml + "\n      </Points>\n"
         "      <Cells>\n"
         "        <DataArray type=\"Int32\" Name=\"connectivity\" format=\"appended\" offset=\"" + xml_arrays[1] + "\"/>\n"
         "        <DataArray type=\"Int32\" Name=\"offsets\" format=\"appended\" offset=\"" + xml_arrays[2] + "\"/>\n"
         "        <DataArray type=\"UInt8\" Name=\"types\" format=\"appended\" offset=\"" + xml_arrays[3] + "\"/>\n"
         "      </Cells>\n"
         "    </Piece>\n"
         "  </UnstructuredGrid>\n"
         "  <AppendedData encoding=\"raw\">\n   _" + bin + "\n  </AppendedData>\n</VTKFile>\n";
}

void write_bytes(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

// The fast reader must accept `file` and give exactly VTK's mesh, with 1 and 3 threads.
void expect_fast_equals_vtk(const fs::path& file) {
  const Mesh ref = detail::read_xml_vtk(file, true);
  const int saved = omp_get_max_threads();
  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    const std::optional<Mesh> fast = detail::read_vtu_fast(file);
    ASSERT_TRUE(fast.has_value()) << file << " was left to VTK";
    expect_same_mesh(*fast, ref);
  }
  omp_set_num_threads(saved);
}

}  // namespace

TEST(VtuFastReader, EqualsVtkOnWhatWriteVtuWrites) {
  ScratchDir dir;
  Mesh m = mesh_with_cells({CellType::Vertex, CellType::PolyLine, CellType::Triangle, CellType::Polygon,
                            CellType::Tetra, CellType::Hexahedron, CellType::Wedge, CellType::Pyramid,
                            CellType::QuadraticTetra, CellType::QuadraticHexahedron});
  add_every_dtype(m, 3);
  m.field_strings["material"] = "Ti-6Al-4V";
  m.field_strings["empty"] = "";
  m.field_strings["lines"] = "two\nlines";
  write_vtu(m, dir / "m.vtu");
  expect_fast_equals_vtk(dir / "m.vtu");
  expect_same_mesh(*detail::read_vtu_fast(dir / "m.vtu"), m);

  // Big enough to be decoded by several threads, in many LZ4 blocks per array.
  Mesh big = hex_grid(60, 50, 40, 0.1);
  std::vector<float> u(std::size_t(big.num_points()) * 3);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = float(std::sin(0.01 * double(i)));
  big.point_data.put(DataArray::from_floats("u", 3, u));
  write_vtu(big, dir / "big.vtu");
  expect_fast_equals_vtk(dir / "big.vtu");
}

TEST(VtuFastReader, EqualsVtkOnZlibExamples) {
  const fs::path src = FLARE_SOURCE_DIR;
  for (const char* f : {"examples/lpbf/bracket.vtu", "examples/lpbf/blade.vtu", "examples/meshes/bracket.vtu"})
    expect_fast_equals_vtk(src / f);
}

TEST(VtuFastReader, EqualsVtkOnUncompressed32BitFiles) {
  ScratchDir dir;
  write_bytes(dir / "h.vtu", handmade_vtu());
  expect_fast_equals_vtk(dir / "h.vtu");
  const Mesh m = *detail::read_vtu_fast(dir / "h.vtu");
  EXPECT_EQ(m.connectivity.back(), 1);
  EXPECT_EQ(m.offsets, (std::vector<std::int64_t>{0, 8, 12}));
  EXPECT_EQ(m.points(10, 2), 1.5);
  EXPECT_EQ(m.field_strings.at("note"), "a\nbc");
  EXPECT_EQ(m.cell_data.find("c")->get(1, 1), -32000);
}

TEST(VtuFastReader, LeavesOtherFilesToVtkAndReadMeshStillWorks) {
  ScratchDir dir;
  // Inline ascii data: VTK reads it.
  write_bytes(dir / "ascii.vtu", handmade_vtu(true));
  EXPECT_FALSE(detail::read_vtu_fast(dir / "ascii.vtu").has_value());
  EXPECT_EQ(read_mesh(dir / "ascii.vtu").num_points(), 11);

  // A block that does not decode, and a file cut short: VTK's error, one line, names the file.
  Mesh big = hex_grid(30, 30, 30, 0.1);
  write_vtu(big, dir / "good.vtu");
  std::string bytes = read_bytes(dir / "good.vtu");
  std::string corrupt = bytes;
  for (std::size_t i = corrupt.size() / 2; i < corrupt.size() / 2 + 4000; ++i) corrupt[i] = char(i * 7);
  write_bytes(dir / "corrupt.vtu", corrupt);
  EXPECT_FALSE(detail::read_vtu_fast(dir / "corrupt.vtu").has_value());
  std::string msg = input_error([&] { read_mesh(dir / "corrupt.vtu"); });
  EXPECT_NE(msg.find("corrupt.vtu"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  write_bytes(dir / "cut.vtu", bytes.substr(0, bytes.size() * 2 / 3));
  EXPECT_FALSE(detail::read_vtu_fast(dir / "cut.vtu").has_value());
  msg = input_error([&] { read_mesh(dir / "cut.vtu"); });
  EXPECT_NE(msg.find("cut.vtu"), std::string::npos) << msg;
}
