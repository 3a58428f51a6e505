// Shared helpers for the mesh tests: a scratch folder per test, meshes with every cell type and
// every DType, exact comparison, and catching InputError messages.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "common/error.h"
#include "mesh/mesh.h"
#include "tests/support/errors.h"

namespace flare::mesh::test {

namespace fs = std::filesystem;

/// A fresh folder named after the running test, removed when the fixture ends.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "flare_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
                       std::to_string(::getpid());
    for (char& c : name)
      if (c == '/') c = '_';
    m_path = fs::temp_directory_path() / name;
    fs::remove_all(m_path);
    fs::create_directories(m_path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::permissions(m_path, fs::perms::all, fs::perm_options::add, ec);
    fs::remove_all(m_path, ec);
  }
  fs::path operator/(const std::string& name) const { return m_path / name; }
  const fs::path& path() const { return m_path; }

 private:
  fs::path m_path;
};

inline void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

inline std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

using flare::test::input_error;

/// Vertex counts used for the variable-size types.
inline int test_vertex_count(CellType t) {
  const int n = cell_vertex_count(t);
  if (n > 0) return n;
  return t == CellType::PolyVertex ? 3 : t == CellType::PolyLine ? 4 : 5;
}

/// One cell of each type in `types`, each on its own points; cell data "cell_id" (int32) and
/// points on a jittered line so every coordinate is distinct.
inline Mesh mesh_with_cells(const std::vector<CellType>& types) {
  Mesh m;
  std::int64_t n = 0;
  for (auto t : types) n += test_vertex_count(t);
  m.points.resize(n, 3);
  for (std::int64_t i = 0; i < n; ++i) m.points.row(i) << 0.1 * i, std::sin(1.0 + i), 1.0 / (i + 3);
  std::int64_t next = 0;
  for (auto t : types) {
    std::vector<std::int64_t> v(std::size_t(test_vertex_count(t)));
    for (auto& x : v) x = next++;
    m.add_cell(t, v.data(), std::int64_t(v.size()));
  }
  DataArray id("cell_id", DType::Int32, 1, m.num_cells());
  for (std::int64_t c = 0; c < m.num_cells(); ++c) id.set(c, 0, double(c * 7 - 3));
  m.cell_data.put(id);
  return m;
}

inline const std::vector<DType>& all_dtypes() {
  static const std::vector<DType> d = {DType::Int8,    DType::UInt8,  DType::Int16, DType::UInt16,
                                       DType::Int32,   DType::UInt32, DType::Int64, DType::UInt64,
                                       DType::Float32, DType::Float64};
  return d;
}

/// Adds, for every DType, a point array "p_<type>" with `components` components holding values at
/// the edges of the type's range, plus a field array.
inline void add_every_dtype(Mesh& m, int components) {
  for (DType t : all_dtypes()) {
    DataArray a(std::string("p_") + dtype_name(t), t, components, m.num_points());
    for (std::int64_t i = 0; i < a.tuples(); ++i)
      for (int k = 0; k < components; ++k) {
        const bool is_signed = t == DType::Int8 || t == DType::Int16 || t == DType::Int32 ||
                               t == DType::Int64 || t == DType::Float32 || t == DType::Float64;
        double v = double((i * 31 + k * 7) % 100);
        if (is_signed && (i + k) % 2) v = -v;
        if (t == DType::Float32 || t == DType::Float64) v += 0.123456789 * (k + 1);
        a.set(i, k, v);
      }
    // Extremes that a lossy conversion through double or a narrower type would break.
    if (t == DType::Int64) a.data<std::int64_t>()[0] = std::numeric_limits<std::int64_t>::min() + 1;
    if (t == DType::UInt64)
      a.data<std::uint64_t>()[0] = std::numeric_limits<std::uint64_t>::max() - 1;
    m.point_data.put(a);
  }
  DataArray f("f_params", DType::Float64, 2, 3);
  for (int i = 0; i < 6; ++i) f.set(i / 2, i % 2, 1.5 * i - 2);
  m.field_data.put(f);
}

/// Exact equality of geometry, topology and every array (bytes compared).
inline void expect_same_mesh(const Mesh& a, const Mesh& b, bool compare_field_data = true) {
  ASSERT_EQ(a.num_points(), b.num_points());
  EXPECT_TRUE(a.points == b.points);
  EXPECT_EQ(a.offsets, b.offsets);
  EXPECT_EQ(a.connectivity, b.connectivity);
  EXPECT_EQ(a.types, b.types);
  auto same_set = [](const ArraySet& x, const ArraySet& y, const char* kind) {
    ASSERT_EQ(x.names(), y.names()) << kind;
    for (const auto& ax : x.all()) {
      const DataArray* ay = y.find(ax.name());
      ASSERT_NE(ay, nullptr) << kind << " " << ax.name();
      EXPECT_EQ(ax.type(), ay->type()) << kind << " " << ax.name();
      EXPECT_EQ(ax.components(), ay->components()) << kind << " " << ax.name();
      ASSERT_EQ(ax.bytes(), ay->bytes()) << kind << " " << ax.name();
      EXPECT_EQ(std::memcmp(ax.raw(), ay->raw(), ax.bytes()), 0) << kind << " " << ax.name();
    }
  };
  same_set(a.point_data, b.point_data, "point_data");
  same_set(a.cell_data, b.cell_data, "cell_data");
  if (compare_field_data) {
    same_set(a.field_data, b.field_data, "field_data");
    EXPECT_EQ(a.field_strings, b.field_strings);
  }
}

}  // namespace flare::mesh::test
