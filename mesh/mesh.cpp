#include "mesh/mesh.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "common/error.h"

namespace flare::mesh {

bool is_supported_cell_type(int t) {
  switch (t) {
    case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8: case 9: case 10: case 11:
    case 12: case 13: case 14: case 21: case 22: case 23: case 24: case 25:
      return true;
    default:
      return false;
  }
}

const char* cell_type_name(CellType t) {
  switch (t) {
    case CellType::Vertex: return "vertex";
    case CellType::PolyVertex: return "poly_vertex";
    case CellType::Line: return "line";
    case CellType::PolyLine: return "poly_line";
    case CellType::Triangle: return "triangle";
    case CellType::TriangleStrip: return "triangle_strip";
    case CellType::Polygon: return "polygon";
    case CellType::Pixel: return "pixel";
    case CellType::Quad: return "quad";
    case CellType::Tetra: return "tetra";
    case CellType::Voxel: return "voxel";
    case CellType::Hexahedron: return "hexahedron";
    case CellType::Wedge: return "wedge";
    case CellType::Pyramid: return "pyramid";
    case CellType::QuadraticEdge: return "quadratic_edge";
    case CellType::QuadraticTriangle: return "quadratic_triangle";
    case CellType::QuadraticQuad: return "quadratic_quad";
    case CellType::QuadraticTetra: return "quadratic_tetra";
    case CellType::QuadraticHexahedron: return "quadratic_hexahedron";
  }
  return "unknown";
}

int cell_dimension(CellType t) {
  switch (t) {
    case CellType::Vertex: case CellType::PolyVertex: return 0;
    case CellType::Line: case CellType::PolyLine: case CellType::QuadraticEdge: return 1;
    case CellType::Triangle: case CellType::TriangleStrip: case CellType::Polygon:
    case CellType::Pixel: case CellType::Quad: case CellType::QuadraticTriangle:
    case CellType::QuadraticQuad: return 2;
    default: return 3;
  }
}

int cell_vertex_count(CellType t) {
  switch (t) {
    case CellType::Vertex: return 1;
    case CellType::Line: return 2;
    case CellType::Triangle: return 3;
    case CellType::Pixel: case CellType::Quad: case CellType::Tetra: return 4;
    case CellType::Pyramid: return 5;
    case CellType::Wedge: case CellType::QuadraticTriangle: return 6;
    case CellType::Voxel: case CellType::Hexahedron: case CellType::QuadraticQuad: return 8;
    case CellType::QuadraticEdge: return 3;
    case CellType::QuadraticTetra: return 10;
    case CellType::QuadraticHexahedron: return 20;
    default: return -1;
  }
}

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::Int8: case DType::UInt8: return 1;
    case DType::Int16: case DType::UInt16: return 2;
    case DType::Int32: case DType::UInt32: case DType::Float32: return 4;
    case DType::Int64: case DType::UInt64: case DType::Float64: return 8;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Int8: return "int8";
    case DType::UInt8: return "uint8";
    case DType::Int16: return "int16";
    case DType::UInt16: return "uint16";
    case DType::Int32: return "int32";
    case DType::UInt32: return "uint32";
    case DType::Int64: return "int64";
    case DType::UInt64: return "uint64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "unknown";
}

namespace {
// Calls f with a typed pointer to the storage, whatever its dtype.
template <typename F>
decltype(auto) visit(DType t, const void* p, F&& f) {
  switch (t) {
    case DType::Int8: return f(static_cast<const std::int8_t*>(p));
    case DType::UInt8: return f(static_cast<const std::uint8_t*>(p));
    case DType::Int16: return f(static_cast<const std::int16_t*>(p));
    case DType::UInt16: return f(static_cast<const std::uint16_t*>(p));
    case DType::Int32: return f(static_cast<const std::int32_t*>(p));
    case DType::UInt32: return f(static_cast<const std::uint32_t*>(p));
    case DType::Int64: return f(static_cast<const std::int64_t*>(p));
    case DType::UInt64: return f(static_cast<const std::uint64_t*>(p));
    case DType::Float32: return f(static_cast<const float*>(p));
    case DType::Float64: return f(static_cast<const double*>(p));
  }
  throw Error("invalid DType");
}

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<std::int8_t>() { return DType::Int8; }
template <> constexpr DType dtype_of<std::uint8_t>() { return DType::UInt8; }
template <> constexpr DType dtype_of<std::int16_t>() { return DType::Int16; }
template <> constexpr DType dtype_of<std::uint16_t>() { return DType::UInt16; }
template <> constexpr DType dtype_of<std::int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<std::uint32_t>() { return DType::UInt32; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<std::uint64_t>() { return DType::UInt64; }
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
}  // namespace

DataArray::DataArray(std::string name, DType type, int components, std::int64_t tuples)
    : m_name(std::move(name)), m_type(type), m_components(components), m_tuples(tuples) {
  FLARE_CHECK(components >= 1 && tuples >= 0, "array '", m_name, "': bad shape ", tuples, "x",
              components);
  m_bytes.resize(std::size_t(tuples) * components * dtype_size(type));
}

DataArray DataArray::from_doubles(std::string name, int components, const std::vector<double>& v) {
  FLARE_CHECK(components >= 1 && v.size() % components == 0, "array '", name, "': ", v.size(),
              " values is not a multiple of ", components, " components");
  DataArray a(std::move(name), DType::Float64, components, std::int64_t(v.size()) / components);
  std::memcpy(a.raw(), v.data(), a.bytes());
  return a;
}

DataArray DataArray::from_floats(std::string name, int components, const std::vector<float>& v) {
  FLARE_CHECK(components >= 1 && v.size() % components == 0, "array '", name, "': ", v.size(),
              " values is not a multiple of ", components, " components");
  DataArray a(std::move(name), DType::Float32, components, std::int64_t(v.size()) / components);
  std::memcpy(a.raw(), v.data(), a.bytes());
  return a;
}

double DataArray::get(std::int64_t tuple, int component) const {
  std::int64_t i = tuple * m_components + component;
  return visit(m_type, m_bytes.data(), [i](auto* p) { return double(p[i]); });
}

void DataArray::set(std::int64_t tuple, int component, double value) {
  std::int64_t i = tuple * m_components + component;
  visit(m_type, m_bytes.data(), [&](auto* p) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(p)>>;
    const_cast<T*>(p)[i] = static_cast<T>(value);
  });
}

std::vector<double> DataArray::to_doubles() const {
  std::vector<double> out(static_cast<std::size_t>(size()));
  visit(m_type, m_bytes.data(), [&](auto* p) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = double(p[i]);
  });
  return out;
}

template <typename T>
T* DataArray::data() {
  FLARE_CHECK(dtype_of<T>() == m_type, "array '", m_name, "' holds ", dtype_name(m_type),
              ", not ", dtype_name(dtype_of<T>()));
  return reinterpret_cast<T*>(m_bytes.data());
}
template <typename T>
const T* DataArray::data() const {
  FLARE_CHECK(dtype_of<T>() == m_type, "array '", m_name, "' holds ", dtype_name(m_type),
              ", not ", dtype_name(dtype_of<T>()));
  return reinterpret_cast<const T*>(m_bytes.data());
}
#define FLARE_INSTANTIATE(T) \
  template T* DataArray::data<T>(); \
  template const T* DataArray::data<T>() const;
FLARE_INSTANTIATE(std::int8_t)
FLARE_INSTANTIATE(std::uint8_t)
FLARE_INSTANTIATE(std::int16_t)
FLARE_INSTANTIATE(std::uint16_t)
FLARE_INSTANTIATE(std::int32_t)
FLARE_INSTANTIATE(std::uint32_t)
FLARE_INSTANTIATE(std::int64_t)
FLARE_INSTANTIATE(std::uint64_t)
FLARE_INSTANTIATE(float)
FLARE_INSTANTIATE(double)
#undef FLARE_INSTANTIATE

const DataArray* ArraySet::find(const std::string& name) const {
  for (const auto& a : m_arrays)
    if (a.name() == name) return &a;
  return nullptr;
}

DataArray* ArraySet::find(const std::string& name) {
  for (auto& a : m_arrays)
    if (a.name() == name) return &a;
  return nullptr;
}

const DataArray& ArraySet::get(const std::string& name, const std::string& context) const {
  if (const DataArray* a = find(name)) return *a;
  std::ostringstream os;
  os << context << ": no array named '" << name << "'";
  if (m_arrays.empty()) {
    os << " (the mesh has no arrays here)";
  } else {
    os << " (available:";
    for (const auto& a : m_arrays) os << " " << a.name();
    os << ")";
  }
  throw InputError(os.str());
}

void ArraySet::put(DataArray a) {
  if (DataArray* old = find(a.name()))
    *old = std::move(a);
  else
    m_arrays.push_back(std::move(a));
}

bool ArraySet::remove(const std::string& name) {
  for (auto it = m_arrays.begin(); it != m_arrays.end(); ++it)
    if (it->name() == name) {
      m_arrays.erase(it);
      return true;
    }
  return false;
}

std::vector<std::string> ArraySet::names() const {
  std::vector<std::string> n;
  for (const auto& a : m_arrays) n.push_back(a.name());
  return n;
}

void Mesh::add_cell(CellType t, std::initializer_list<std::int64_t> v) {
  add_cell(t, v.begin(), std::int64_t(v.size()));
}

void Mesh::add_cell(CellType t, const std::int64_t* v, std::int64_t count) {
  connectivity.insert(connectivity.end(), v, v + count);
  offsets.push_back(std::int64_t(connectivity.size()));
  types.push_back(std::uint8_t(t));
}

int Mesh::dimension() const {
  int d = 0;
  for (auto t : types) d = std::max(d, cell_dimension(CellType(t)));
  return d;
}

void Mesh::validate(const std::string& source) const {
  const std::int64_t n = num_points();
  FLARE_INPUT_CHECK(n > 0, source, ": the mesh has no points");
  for (std::int64_t i = 0; i < n; ++i)
    for (int k = 0; k < 3; ++k)
      FLARE_INPUT_CHECK(std::isfinite(points(i, k)), source, ": point ", i,
                        " has a non-finite coordinate (", points(i, k), ")");
  FLARE_INPUT_CHECK(offsets.size() == types.size() + 1 && offsets.front() == 0 &&
                        offsets.back() == std::int64_t(connectivity.size()),
                    source, ": inconsistent cell arrays (", types.size(), " cells, ",
                    offsets.size(), " offsets, ", connectivity.size(), " connectivity entries)");
  for (std::int64_t c = 0; c < num_cells(); ++c) {
    FLARE_INPUT_CHECK(is_supported_cell_type(types[c]), source, ": cell ", c,
                      " has unsupported VTK cell type ", int(types[c]));
    FLARE_INPUT_CHECK(offsets[c + 1] >= offsets[c], source, ": cell offsets decrease at cell ", c);
    int expect = cell_vertex_count(cell_type(c));
    FLARE_INPUT_CHECK(expect < 0 || cell_size(c) == expect, source, ": cell ", c, " (",
                      cell_type_name(cell_type(c)), ") has ", cell_size(c),
                      " vertices, expected ", expect);
  }
  for (std::int64_t v : connectivity)
    FLARE_INPUT_CHECK(v >= 0 && v < n, source, ": a cell refers to point ", v, " but the mesh has ",
                      n, " points");
  for (const auto& a : point_data.all())
    FLARE_INPUT_CHECK(a.tuples() == n, source, ": point array '", a.name(), "' has ", a.tuples(),
                      " tuples but the mesh has ", n, " points");
  for (const auto& a : cell_data.all())
    FLARE_INPUT_CHECK(a.tuples() == num_cells(), source, ": cell array '", a.name(), "' has ",
                      a.tuples(), " tuples but the mesh has ", num_cells(), " cells");
}

}  // namespace flare::mesh
