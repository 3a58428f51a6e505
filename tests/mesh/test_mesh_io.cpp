// Round trips through every writer/reader pair, reading hand-written files (STL, .pvd), series.
#include <gtest/gtest.h>

#include "mesh/grid.h"
#include "mesh/io.h"
#include "mesh_fixtures.h"

using namespace flare::mesh;
using namespace flare::mesh::test;

namespace {

const std::vector<CellType> k_all_types = {CellType::Vertex,
                                           CellType::PolyVertex,
                                           CellType::Line,
                                           CellType::PolyLine,
                                           CellType::Triangle,
                                           CellType::TriangleStrip,
                                           CellType::Polygon,
                                           CellType::Pixel,
                                           CellType::Quad,
                                           CellType::Tetra,
                                           CellType::Voxel,
                                           CellType::Hexahedron,
                                           CellType::Wedge,
                                           CellType::Pyramid,
                                           CellType::QuadraticEdge,
                                           CellType::QuadraticTriangle,
                                           CellType::QuadraticQuad,
                                           CellType::QuadraticTetra,
                                           CellType::QuadraticHexahedron};

// Polydata holds these, numbered verts, lines, polys, strips (the order listed here).
const std::vector<CellType> k_poly_types = {
    CellType::Vertex,   CellType::PolyVertex, CellType::Line, CellType::PolyLine,
    CellType::Triangle, CellType::Polygon,    CellType::Quad, CellType::TriangleStrip};

Mesh full_mesh(const std::vector<CellType>& types) {
  Mesh m = mesh_with_cells(types);
  add_every_dtype(m, 1);
  // Same arrays again with 3 and 7 components, under other names.
  for (int comps : {3, 7}) {
    Mesh tmp = m;
    tmp.point_data = {};
    add_every_dtype(tmp, comps);
    for (auto a : tmp.point_data.all()) {
      a.set_name(a.name() + "_x" + std::to_string(comps));
      m.point_data.put(a);
    }
  }
  DataArray cell_f("cell_stress", DType::Float32, 6, m.num_cells());
  for (std::int64_t c = 0; c < m.num_cells(); ++c)
    for (int k = 0; k < 6; ++k) cell_f.set(c, k, 0.25 * c - k);
  m.cell_data.put(cell_f);
  m.field_strings["material"] = "Ti-6Al-4V";
  m.field_strings["note"] = "quotes \" & <brackets>";
  return m;
}

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, EveryCellTypeAndDTypeSurvives) {
  ScratchDir dir;
  const std::string ext = GetParam();
  const Mesh m = full_mesh(ext == ".vtp" ? k_poly_types : k_all_types);
  const auto file = dir / ("mesh" + ext);
  write_mesh(m, file);
  const Mesh back = read_mesh(file);
  expect_same_mesh(m, back);
}

INSTANTIATE_TEST_SUITE_P(Formats, RoundTrip, ::testing::Values(".vtu", ".vtk", ".vtp"),
                         [](const auto& info) { return info.param.substr(1); });

TEST(WriteVtu, IsBinaryAppendedCompressedAndLeavesNoTemporary) {
  ScratchDir dir;
  Mesh m = hex_grid(4, 3, 2, 0.5);
  m.point_data.put(DataArray::from_doubles("t", 1, std::vector<double>(m.num_points(), 2.0)));
  write_vtu(m, dir / "a.vtu");
  const std::string text = read_bytes(dir / "a.vtu");
  EXPECT_NE(text.find("format=\"appended\""), std::string::npos);
  EXPECT_NE(text.find("compressor=\"vtkLZ4DataCompressor\""), std::string::npos);
  EXPECT_NE(text.find("<AppendedData encoding=\"raw\">"), std::string::npos);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) entries += e.is_regular_file();
  EXPECT_EQ(entries, 1);
}

TEST(WriteVtu, RefusesAnInvalidMeshAndKeepsTheOldFile) {
  ScratchDir dir;
  Mesh good = hex_grid(1, 1, 1, 1.0);
  write_vtu(good, dir / "a.vtu");
  const std::string before = read_bytes(dir / "a.vtu");
  Mesh bad = good;
  bad.points(0, 0) = std::nan("");
  EXPECT_NE(input_error([&] { write_vtu(bad, dir / "a.vtu"); }).find("non-finite"),
            std::string::npos);
  EXPECT_EQ(read_bytes(dir / "a.vtu"), before);
}

TEST(WriteVtp, RefusesVolumeCells) {
  ScratchDir dir;
  const auto file = dir / "a.vtp";
  const std::string msg = input_error([&] { write_mesh(hex_grid(1, 1, 1, 1.0), file); });
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(".vtu"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(file));
}

TEST(WriteVtp, ReordersMixedCellsWithTheirCellData) {
  ScratchDir dir;
  // Polygon first, vertex last: polydata stores the vertex first.
  Mesh m = mesh_with_cells({CellType::Quad, CellType::Line, CellType::Vertex});
  write_mesh(m, dir / "a.vtp");
  Mesh back = read_mesh(dir / "a.vtp");
  ASSERT_EQ(back.num_cells(), 3);
  EXPECT_EQ(back.cell_type(0), CellType::Vertex);
  EXPECT_EQ(back.cell_type(1), CellType::Line);
  EXPECT_EQ(back.cell_type(2), CellType::Quad);
  const auto& id = back.cell_data.get("cell_id", "test");
  EXPECT_EQ(id.get(0), m.cell_data.get("cell_id", "test").get(2));
  EXPECT_EQ(id.get(2), m.cell_data.get("cell_id", "test").get(0));
  EXPECT_EQ(back.cell(0)[0], m.cell(2)[0]);
}

TEST(ReadStl, AsciiTrianglesWithSharedPointsMerged) {
  ScratchDir dir;
  write_text(dir / "tet.stl",
             "solid tet\n"
             " facet normal 0 0 -1\n  outer loop\n   vertex 0 0 0\n   vertex 0 1 0\n"
             "   vertex 1 0 0\n  endloop\n endfacet\n"
             " facet normal 0 -1 0\n  outer loop\n   vertex 0 0 0\n   vertex 1 0 0\n"
             "   vertex 0 0 1\n  endloop\n endfacet\n"
             " facet normal -1 0 0\n  outer loop\n   vertex 0 0 0\n   vertex 0 0 1\n"
             "   vertex 0 1 0\n  endloop\n endfacet\n"
             " facet normal 1 1 1\n  outer loop\n   vertex 1 0 0\n   vertex 0 1 0\n"
             "   vertex 0 0 1\n  endloop\n endfacet\n"
             "endsolid tet\n");
  const Mesh m = read_mesh(dir / "tet.stl");
  EXPECT_EQ(m.num_points(), 4);
  ASSERT_EQ(m.num_cells(), 4);
  for (std::int64_t c = 0; c < 4; ++c) EXPECT_EQ(m.cell_type(c), CellType::Triangle);
  EXPECT_EQ(m.points.colwise().maxCoeff(), Eigen::RowVector3d(1, 1, 1));
}

TEST(ReadLegacy, AsciiPolydataKeepsEveryAttributeArray) {
  ScratchDir dir;
  // Two scalars and a vector: the legacy reader drops all but the first of a kind unless told.
  write_text(dir / "square.vtk",
             "# vtk DataFile Version 3.0\nsquare\nASCII\nDATASET POLYDATA\n"
             "POINTS 5 float\n0 0 0  1 0 0  1 1 0  0 1 0  2 0 0\n"
             "POLYGONS 2 9\n4 0 1 2 3\n3 1 4 2\n"
             "POINT_DATA 5\nSCALARS a float 1\nLOOKUP_TABLE default\n1 2 3 4 5\n"
             "SCALARS b int 1\nLOOKUP_TABLE default\n-1 -2 -3 -4 -5\n"
             "VECTORS v double\n1 0 0  0 1 0  0 0 1  1 1 1  2 2 2\n"
             "CELL_DATA 2\nSCALARS id unsigned_char 1\nLOOKUP_TABLE default\n7 9\n");
  const Mesh m = read_mesh(dir / "square.vtk");
  EXPECT_EQ(m.num_points(), 5);
  ASSERT_EQ(m.num_cells(), 2);
  EXPECT_EQ(m.cell_type(0), CellType::Quad);
  EXPECT_EQ(m.cell_type(1), CellType::Triangle);
  EXPECT_EQ(m.point_data.names(), (std::vector<std::string>{"a", "b", "v"}));
  EXPECT_EQ(m.point_data.get("b", "t").type(), DType::Int32);
  EXPECT_EQ(m.point_data.get("b", "t").get(4), -5.0);
  EXPECT_EQ(m.point_data.get("v", "t").components(), 3);
  EXPECT_EQ(m.point_data.get("v", "t").get(4, 2), 2.0);
  EXPECT_EQ(m.cell_data.get("id", "t").type(), DType::UInt8);
  EXPECT_EQ(m.cell_data.get("id", "t").get(1), 9.0);
}

TEST(ReadSeries, PvdResolvesFilesRelativeToItsFolder) {
  ScratchDir dir;
  fs::create_directories(dir / "steps");
  std::vector<std::string> files;
  std::vector<double> times = {0.0, 0.5, 1.25};
  for (int i = 0; i < 3; ++i) {
    Mesh m = hex_grid(1 + i, 1, 1, 1.0);
    write_vtu(m, dir / ("steps/s" + std::to_string(i) + ".vtu"));
    files.push_back("steps/s" + std::to_string(i) + ".vtu");
  }
  write_pvd(dir / "run.pvd", times, files);
  // Read from another working directory: paths must not depend on it.
  const fs::path old = fs::current_path();
  fs::current_path(fs::temp_directory_path());
  const MeshSeries s = read_series(dir / "run.pvd");
  fs::current_path(old);
  ASSERT_EQ(s.meshes.size(), 3u);
  EXPECT_EQ(s.times, times);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s.meshes[i].num_cells(), 1 + i);
    EXPECT_EQ(fs::path(s.files[i]), dir / files[i]);
  }
}

TEST(ReadSeries, ParaviewStylePvdWithExactTimes) {
  ScratchDir dir;
  write_vtu(hex_grid(2, 2, 2, 1.0), dir / "a.vtu");
  write_text(dir / "p.pvd",
             "<?xml version=\"1.0\"?>\n<VTKFile type=\"Collection\" version=\"0.1\">\n"
             "<Collection>\n<DataSet timestep=\"0.1\" part=\"0\" file=\"a.vtu\"/>\n"
             "<DataSet timestep=\"1e-3\" group=\"\" part=\"0\" file=\"" +
                 (dir / "a.vtu").string() + "\"/>\n</Collection>\n</VTKFile>\n");
  const MeshSeries s = read_series(dir / "p.pvd");
  ASSERT_EQ(s.times.size(), 2u);
  EXPECT_EQ(s.times[0], 0.1);
  EXPECT_EQ(s.times[1], 1e-3);
  EXPECT_EQ(s.meshes[1].num_cells(), 8);
}

TEST(ReadSeries, SingleMeshIsOneStep) {
  ScratchDir dir;
  write_vtu(hex_grid(2, 1, 1, 1.0), dir / "a.vtu");
  const MeshSeries s = read_series(dir / "a.vtu");
  ASSERT_EQ(s.meshes.size(), 1u);
  EXPECT_EQ(s.times, std::vector<double>{0.0});
  EXPECT_EQ(s.meshes[0].num_cells(), 2);
}

TEST(WritePvd, TimesRoundTripExactly) {
  ScratchDir dir;
  write_vtu(hex_grid(1, 1, 1, 1.0), dir / "a.vtu");
  const std::vector<double> times = {1.0 / 3.0, 2e-17, 12345.678901234567};
  write_pvd(dir / "t.pvd", times, {"a.vtu", "a.vtu", "a.vtu"});
  EXPECT_EQ(read_series(dir / "t.pvd").times, times);
}

TEST(HexGrid, KeepDropsUnusedPoints) {
  const Mesh full = hex_grid(3, 2, 1, 0.5);
  EXPECT_EQ(full.num_points(), 4 * 3 * 2);
  EXPECT_EQ(full.num_cells(), 6);
  const Mesh one = hex_grid(3, 2, 1, 0.5, [](int i, int j, int) { return i == 2 && j == 1; });
  EXPECT_EQ(one.num_points(), 8);
  EXPECT_EQ(one.num_cells(), 1);
  EXPECT_EQ(one.points.colwise().minCoeff(), Eigen::RowVector3d(1.0, 0.5, 0.0));
  one.validate("hex_grid");
}

}  // namespace
