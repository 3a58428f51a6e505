// The parallel .vtu writer (mesh/io_vtu_write.cpp), read back by VTK's own reader (the reference
// for what ParaView sees): names and strings that need XML escaping, arrays ending exactly on a
// 32 KiB block and just past one, point clouds without cells, the same bytes whatever the thread
// count, and a write that fails naming the file and leaving nothing behind.
#include <gtest/gtest.h>
#include <omp.h>

#include "mesh/grid.h"
#include "mesh/io.h"
#include "mesh/io_detail.h"
#include "mesh_fixtures.h"

using namespace flare::mesh;
using namespace flare::mesh::test;
using flare::test::input_error;

TEST(VtuWriter, VtkReadsBackEveryArrayAndEscapedName) {
  ScratchDir dir;
  Mesh m = mesh_with_cells({CellType::Triangle, CellType::Tetra, CellType::Hexahedron, CellType::Wedge});
  add_every_dtype(m, 2);
  m.point_data.find("p_float64")->set_name("u <x & \"y\"> 'z'");
  m.field_strings["key & <value>"] = "a \"quoted\" <b> & c";
  m.field_strings["empty"] = "";
  write_vtu(m, dir / "m.vtu");
  expect_same_mesh(detail::read_xml_vtk(dir / "m.vtu", true), m);
  expect_same_mesh(read_mesh(dir / "m.vtu"), m);  // entities in names: the parallel reader steps aside
}

TEST(VtuWriter, BlockBoundariesAndPointClouds) {
  ScratchDir dir;
  // 4096 points: the coordinates are exactly three 32 KiB blocks; "u" (4097 values) one float
  // past a block; "tiny" a few bytes in one partial block.
  Mesh cloud;
  cloud.points.resize(4096, 3);
  for (std::int64_t i = 0; i < 4096; ++i) cloud.points.row(i) << 0.5 * i, std::cos(0.1 * i), -1.0 * i;
  for (std::int64_t i = 0; i < 4096; ++i) cloud.add_cell(CellType::Vertex, {i});
  std::vector<double> u(4096 * 2);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = std::sin(0.3 * double(i));
  cloud.point_data.put(DataArray::from_doubles("u", 2, u));
  DataArray tiny("tiny", DType::UInt8, 1, 3);
  for (int i = 0; i < 3; ++i) tiny.set(i, 0, 200 + i);
  cloud.field_data.put(tiny);
  write_vtu(cloud, dir / "cloud.vtu");
  expect_same_mesh(detail::read_xml_vtk(dir / "cloud.vtu", true), cloud);
  ASSERT_TRUE(detail::read_vtu_fast(dir / "cloud.vtu").has_value());
  expect_same_mesh(*detail::read_vtu_fast(dir / "cloud.vtu"), cloud);

  Mesh bare;  // points only, no cells and no arrays
  bare.points = cloud.points.topRows(5);
  write_vtu(bare, dir / "bare.vtu");
  const Mesh back = detail::read_xml_vtk(dir / "bare.vtu", true);
  expect_same_mesh(back, bare);
  EXPECT_EQ(back.num_cells(), 0);
}

TEST(VtuWriter, SameBytesWhateverTheThreadCount) {
  ScratchDir dir;
  Mesh big = hex_grid(40, 30, 30, 0.2);
  std::vector<float> u(std::size_t(big.num_points()) * 3);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = float(std::sin(0.01 * double(i)));
  big.point_data.put(DataArray::from_floats("u", 3, u));
  const int saved = omp_get_max_threads();
  for (int t : {1, 4}) {
    omp_set_num_threads(t);
    write_vtu(big, dir / ("t" + std::to_string(t) + ".vtu"));
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(read_bytes(dir / "t1.vtu"), read_bytes(dir / "t4.vtu"));
  expect_same_mesh(detail::read_xml_vtk(dir / "t4.vtu", true), big);
  const std::optional<Mesh> fast = detail::read_vtu_fast(dir / "t4.vtu");
  ASSERT_TRUE(fast.has_value()) << "the parallel reader left our own file to VTK";
  expect_same_mesh(*fast, big);
}

TEST(VtuWriter, UnwritableFolderNamesTheFileAndLeavesNothing) {
  ScratchDir dir;
  const Mesh m = mesh_with_cells({CellType::Tetra});
  const fs::path target = dir / "missing" / "out.vtu";
  const std::string e = input_error([&] { write_vtu(m, target); });
  EXPECT_NE(e.find(target.string()), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir / "missing"));
}
