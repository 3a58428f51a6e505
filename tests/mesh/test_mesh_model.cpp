#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "mesh/mesh.h"
#include "tests/support/errors.h"

using namespace flare::mesh;

namespace {
Mesh unit_tetra() {
  Mesh m;
  m.points.resize(4, 3);
  m.points << 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1;
  m.add_cell(CellType::Tetra, {0, 1, 2, 3});
  return m;
}

using flare::test::input_error;
}  // namespace

TEST(DataArray, EveryTypeStoresAndConverts) {
  for (DType t : {DType::Int8, DType::UInt8, DType::Int16, DType::UInt16, DType::Int32,
                  DType::UInt32, DType::Int64, DType::UInt64, DType::Float32, DType::Float64}) {
    DataArray a("a", t, 3, 5);
    EXPECT_EQ(a.bytes(), 15 * dtype_size(t)) << dtype_name(t);
    a.set(4, 2, 7);
    a.set(0, 0, 1);
    EXPECT_EQ(a.get(4, 2), 7.0) << dtype_name(t);
    EXPECT_EQ(a.to_doubles()[0], 1.0);
    EXPECT_EQ(a.to_doubles()[14], 7.0);
  }
}

TEST(DataArray, TypedAccessChecksType) {
  DataArray a("a", DType::Float32, 1, 2);
  EXPECT_NO_THROW(a.data<float>());
  EXPECT_THROW(a.data<double>(), flare::Error);
}

TEST(ArraySet, PutReplacesAndGetNamesAlternatives) {
  ArraySet s;
  s.put(DataArray::from_doubles("u", 3, {1, 2, 3}));
  s.put(DataArray::from_doubles("u", 1, {5}));
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.get("u", "x").components(), 1);
  std::string msg = input_error([&] { s.get("temperature", "part.vtu"); });
  EXPECT_NE(msg.find("part.vtu"), std::string::npos) << msg;
  EXPECT_NE(msg.find("temperature"), std::string::npos) << msg;
  EXPECT_NE(msg.find("available: u"), std::string::npos) << msg;
}

TEST(Mesh, ValidateAcceptsGoodMesh) {
  Mesh m = unit_tetra();
  m.point_data.put(DataArray::from_doubles("t", 1, {0, 1, 2, 3}));
  EXPECT_NO_THROW(m.validate("tet"));
  EXPECT_EQ(m.dimension(), 3);
}

TEST(Mesh, ValidateRejectsBadMeshes) {
  Mesh empty;
  EXPECT_NE(input_error([&] { empty.validate("e.vtu"); }).find("no points"), std::string::npos);

  Mesh nan = unit_tetra();
  nan.points(2, 1) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_NE(input_error([&] { nan.validate("n.vtu"); }).find("point 2"), std::string::npos);

  Mesh range = unit_tetra();
  range.connectivity[3] = 9;
  EXPECT_NE(input_error([&] { range.validate("r.vtu"); }).find("point 9"), std::string::npos);

  Mesh len = unit_tetra();
  len.point_data.put(DataArray::from_doubles("t", 1, {0, 1}));
  EXPECT_NE(input_error([&] { len.validate("l.vtu"); }).find("'t' has 2 tuples"),
            std::string::npos);

  Mesh count = unit_tetra();
  count.types[0] = std::uint8_t(CellType::Hexahedron);
  EXPECT_NE(input_error([&] { count.validate("c.vtu"); }).find("expected 8"), std::string::npos);
}
