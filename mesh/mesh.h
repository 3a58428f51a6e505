// The mesh model: what every module passes around. Plain arrays (libigl style), no VTK types:
// VTK stays inside mesh/io_*.cpp.
//
//   points        #N by 3, double
//   cells         CSR: cell i has vertices connectivity[offsets[i] .. offsets[i+1]) and VTK type
//                 types[i] (VTK's own numbering and vertex order, so files round-trip unchanged)
//   point_data    arrays with N tuples; cell_data arrays with #cells tuples; field_data any length
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace flare::mesh {

/// VTK cell type ids (vtkCellType.h) that flare-surrogate understands.
enum class CellType : std::uint8_t {
  Vertex = 1,
  PolyVertex = 2,
  Line = 3,
  PolyLine = 4,
  Triangle = 5,
  TriangleStrip = 6,
  Polygon = 7,
  Pixel = 8,
  Quad = 9,
  Tetra = 10,
  Voxel = 11,
  Hexahedron = 12,
  Wedge = 13,
  Pyramid = 14,
  QuadraticEdge = 21,
  QuadraticTriangle = 22,
  QuadraticQuad = 23,
  QuadraticTetra = 24,
  QuadraticHexahedron = 25,
};

/// True for the types above; files with other cell types are refused with a clear message.
bool is_supported_cell_type(int vtk_type);
/// Human name ("hexahedron") for messages and `info`.
const char* cell_type_name(CellType t);
/// Topological dimension: 0 vertex, 1 line, 2 surface, 3 volume.
int cell_dimension(CellType t);
/// Vertex count for fixed-size types; -1 for variable ones (poly-vertex, poly-line, strip, polygon).
int cell_vertex_count(CellType t);

/// Element type of a data array; round-trips through every supported file format that has it.
enum class DType : std::uint8_t { Int8, UInt8, Int16, UInt16, Int32, UInt32, Int64, UInt64, Float32, Float64 };
std::size_t dtype_size(DType t);
const char* dtype_name(DType t);

/// A named array of `tuples` tuples with `components` values each, stored as raw bytes of `type`.
class DataArray {
 public:
  DataArray() = default;
  DataArray(std::string name, DType type, int components, std::int64_t tuples);

  /// A Float64 array from values (row-major, tuples × components).
  static DataArray from_doubles(std::string name, int components, const std::vector<double>& values);
  /// A Float32 array from values (row-major, tuples × components).
  static DataArray from_floats(std::string name, int components, const std::vector<float>& values);

  const std::string& name() const { return m_name; }
  void set_name(std::string n) { m_name = std::move(n); }
  DType type() const { return m_type; }
  int components() const { return m_components; }
  std::int64_t tuples() const { return m_tuples; }
  std::int64_t size() const { return m_tuples * m_components; }

  /// Value (tuple, component) converted to double, whatever the stored type.
  double get(std::int64_t tuple, int component = 0) const;
  void set(std::int64_t tuple, int component, double value);
  /// All values converted to double, row-major.
  std::vector<double> to_doubles() const;

  /// Raw storage; `data<T>()` checks that T matches type().
  void* raw() { return m_bytes.data(); }
  const void* raw() const { return m_bytes.data(); }
  std::size_t bytes() const { return m_bytes.size(); }
  template <typename T> T* data();
  template <typename T> const T* data() const;

 private:
  std::string m_name;
  DType m_type = DType::Float64;
  int m_components = 1;
  std::int64_t m_tuples = 0;
  std::vector<std::byte> m_bytes;
};

/// An ordered set of named arrays (order is kept so outputs list arrays as the input did).
class ArraySet {
 public:
  std::vector<DataArray>& all() { return m_arrays; }
  const std::vector<DataArray>& all() const { return m_arrays; }
  bool has(const std::string& name) const { return find(name) != nullptr; }
  const DataArray* find(const std::string& name) const;
  DataArray* find(const std::string& name);
  /// Throws InputError naming `context` and listing the available arrays when `name` is absent.
  const DataArray& get(const std::string& name, const std::string& context) const;
  /// Adds, or replaces an array of the same name.
  void put(DataArray a);
  bool remove(const std::string& name);
  std::size_t size() const { return m_arrays.size(); }
  std::vector<std::string> names() const;

 private:
  std::vector<DataArray> m_arrays;
};

using Points = Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>;

struct Mesh {
  Points points;                          ///< #N by 3
  std::vector<std::int64_t> offsets{0};   ///< #cells+1, CSR row pointers into connectivity
  std::vector<std::int64_t> connectivity; ///< point indices
  std::vector<std::uint8_t> types;        ///< #cells, VTK cell type ids
  ArraySet point_data;                    ///< N tuples each
  ArraySet cell_data;                     ///< #cells tuples each
  ArraySet field_data;                    ///< global values (material, parameters, ...)
  std::map<std::string, std::string> field_strings; ///< global string metadata

  std::int64_t num_points() const { return points.rows(); }
  std::int64_t num_cells() const { return std::int64_t(types.size()); }
  CellType cell_type(std::int64_t c) const { return CellType(types[c]); }
  std::int64_t cell_size(std::int64_t c) const { return offsets[c + 1] - offsets[c]; }
  const std::int64_t* cell(std::int64_t c) const { return connectivity.data() + offsets[c]; }
  void add_cell(CellType t, std::initializer_list<std::int64_t> vertices);
  void add_cell(CellType t, const std::int64_t* vertices, std::int64_t count);
  /// Highest topological dimension among the cells (0 when there are none).
  int dimension() const;

  /// Throws InputError (prefixed with `source`) on: zero points, NaN/Inf coordinates, CSR
  /// inconsistencies, out-of-range vertex indices, unsupported cell types, array length mismatch.
  void validate(const std::string& source) const;
};

/// A time series of meshes (a .pvd collection).
struct MeshSeries {
  std::vector<double> times;
  std::vector<std::string> files;  ///< as resolved from the .pvd
  std::vector<Mesh> meshes;
};

}  // namespace flare::mesh
