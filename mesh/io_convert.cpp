// Mesh <-> VTK datasets. Reading copies VTK's arrays into the Mesh with memcpy where the layout
// allows (array-of-structs storage of the same type); writing wraps the Mesh's own buffers in VTK
// arrays without copying (SetArray with save=1), which is what keeps a 1M-point write fast.
#include <vtkAOSDataArrayTemplate.h>
#include <vtkCellArray.h>
#include <vtkCellData.h>
#include <vtkDataSet.h>
#include <vtkDoubleArray.h>
#include <vtkFieldData.h>
#include <vtkIdList.h>
#include <vtkIdTypeArray.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkPointSet.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkSmartPointer.h>
#include <vtkStringArray.h>
#include <vtkTypeInt32Array.h>
#include <vtkTypeInt64Array.h>
#include <vtkUnsignedCharArray.h>
#include <vtkUnstructuredGrid.h>

#include <cstring>
#include <sstream>

#include "common/error.h"
#include "mesh/io_detail.h"

namespace flare::mesh::detail {

void check_cell_type(int type, std::int64_t cell, const std::string& source) {
  FLARE_INPUT_CHECK(is_supported_cell_type(type), source, ": cell ", cell, " has VTK cell type ",
                    type,
                    ", which flare-surrogate does not support (supported: linear and quadratic "
                    "vertex/line/triangle/quad/polygon/tetra/hexahedron/wedge/pyramid cells; "
                    "convert it, e.g. with ParaView's Tetrahedralize filter)");
}

static_assert(sizeof(vtkIdType) == sizeof(std::int64_t), "flare needs VTK built with 64-bit ids");

namespace {

// VTK data type id -> DType by signedness and width (VTK_LONG, VTK_LONG_LONG and VTK_ID_TYPE are
// all 64-bit integers here). VTK_BIT becomes UInt8.
bool dtype_from_vtk(int vtk_type, DType& out) {
  switch (vtk_type) {
    case VTK_CHAR:
    case VTK_SIGNED_CHAR:
      out = DType::Int8;
      return true;
    case VTK_BIT:
    case VTK_UNSIGNED_CHAR:
      out = DType::UInt8;
      return true;
    case VTK_SHORT:
      out = DType::Int16;
      return true;
    case VTK_UNSIGNED_SHORT:
      out = DType::UInt16;
      return true;
    case VTK_INT:
      out = DType::Int32;
      return true;
    case VTK_UNSIGNED_INT:
      out = DType::UInt32;
      return true;
    case VTK_LONG:
    case VTK_LONG_LONG:
    case VTK_ID_TYPE:
      out = sizeof(long) == 8 || vtk_type != VTK_LONG ? DType::Int64 : DType::Int32;
      return true;
    case VTK_UNSIGNED_LONG:
    case VTK_UNSIGNED_LONG_LONG:
      out = sizeof(long) == 8 || vtk_type != VTK_UNSIGNED_LONG ? DType::UInt64 : DType::UInt32;
      return true;
    case VTK_FLOAT:
      out = DType::Float32;
      return true;
    case VTK_DOUBLE:
      out = DType::Float64;
      return true;
    default:
      return false;
  }
}

DataArray array_from_vtk(vtkDataArray* a, const std::string& name) {
  DType t;
  // Callers filter unknown types first; this is a guard against new VTK types.
  FLARE_CHECK(dtype_from_vtk(a->GetDataType(), t), "unhandled VTK type ", a->GetDataTypeAsString());
  DataArray out(name, t, a->GetNumberOfComponents(), a->GetNumberOfTuples());
  if (a->HasStandardMemoryLayout() && a->GetDataType() != VTK_BIT &&
      std::size_t(a->GetDataTypeSize()) == dtype_size(t)) {
    if (out.bytes()) std::memcpy(out.raw(), a->GetVoidPointer(0), out.bytes());
  } else {
    for (vtkIdType i = 0; i < a->GetNumberOfTuples(); ++i)
      for (int k = 0; k < a->GetNumberOfComponents(); ++k) out.set(i, k, a->GetComponent(i, k));
  }
  return out;
}

// Copies every numeric array of `in` into `out`. Unnamed arrays (legal in legacy files) get
// "array_<i>"; string arrays are skipped (the Mesh has no per-point strings).
void arrays_from_vtk(vtkFieldData* in, ArraySet& out) {
  for (int i = 0; i < in->GetNumberOfArrays(); ++i) {
    vtkDataArray* a = in->GetArray(i);
    DType t;
    if (!a || !dtype_from_vtk(a->GetDataType(), t)) continue;
    std::string name = a->GetName() ? a->GetName() : "";
    if (name.empty()) name = "array_" + std::to_string(i);
    out.put(array_from_vtk(a, name));
  }
}

// Reads integer ids from whichever storage the cell array uses (32- or 64-bit).
void ids_from_vtk(vtkDataArray* a, std::vector<std::int64_t>& out) {
  const std::size_t n = std::size_t(a->GetNumberOfTuples());
  // assign() rather than resize() + copy: no zero-fill pass over 8M-entry connectivity arrays.
  if (auto* a64 = vtkTypeInt64Array::SafeDownCast(a)) {
    out.assign(a64->GetPointer(0), a64->GetPointer(0) + n);
  } else if (auto* a32 = vtkTypeInt32Array::SafeDownCast(a)) {
    out.assign(a32->GetPointer(0), a32->GetPointer(0) + n);
  } else {
    out.resize(n);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::int64_t(a->GetTuple1(vtkIdType(i)));
  }
}


template <typename T>
vtkSmartPointer<vtkDataArray> wrap(const DataArray& a) {
  auto v = vtkSmartPointer<vtkAOSDataArrayTemplate<T>>::New();
  v->SetNumberOfComponents(a.components());
  // save=1: VTK must not free memory the Mesh owns.
  v->SetArray(const_cast<T*>(a.data<T>()), vtkIdType(a.size()), 1);
  v->SetName(a.name().c_str());
  return v;
}

vtkSmartPointer<vtkDataArray> array_to_vtk(const DataArray& a) {
  switch (a.type()) {
    case DType::Int8:
      return wrap<std::int8_t>(a);
    case DType::UInt8:
      return wrap<std::uint8_t>(a);
    case DType::Int16:
      return wrap<std::int16_t>(a);
    case DType::UInt16:
      return wrap<std::uint16_t>(a);
    case DType::Int32:
      return wrap<std::int32_t>(a);
    case DType::UInt32:
      return wrap<std::uint32_t>(a);
    case DType::Int64:
      return wrap<std::int64_t>(a);
    case DType::UInt64:
      return wrap<std::uint64_t>(a);
    case DType::Float32:
      return wrap<float>(a);
    case DType::Float64:
      return wrap<double>(a);
  }
  throw Error("invalid DType");
}

void arrays_to_vtk(const ArraySet& in, vtkFieldData* out) {
  for (const auto& a : in.all()) out->AddArray(array_to_vtk(a));
}

void field_to_vtk(const Mesh& mesh, vtkDataSet* out) {
  vtkFieldData* fd = out->GetFieldData();
  arrays_to_vtk(mesh.field_data, fd);
  for (const auto& [key, value] : mesh.field_strings) {
    vtkNew<vtkStringArray> s;
    s->SetName(key.c_str());
    s->InsertNextValue(value);
    fd->AddArray(s);
  }
}

}  // namespace

Mesh from_vtk(vtkDataSet* data, const std::string& source) {
  Mesh m;
  const vtkIdType n = data->GetNumberOfPoints();
  m.points.resize(n, 3);
  auto* ps = vtkPointSet::SafeDownCast(data);
  vtkDataArray* coords = ps && ps->GetPoints() ? ps->GetPoints()->GetData() : nullptr;
  if (coords && coords->GetDataType() == VTK_DOUBLE && coords->HasStandardMemoryLayout()) {
    if (n)
      std::memcpy(m.points.data(), coords->GetVoidPointer(0), std::size_t(n) * 3 * sizeof(double));
  } else {
    for (vtkIdType i = 0; i < n; ++i) data->GetPoint(i, &m.points(i, 0));
  }

  if (auto* ug = vtkUnstructuredGrid::SafeDownCast(data); ug && ug->GetCells()) {
    vtkCellArray* cells = ug->GetCells();
    ids_from_vtk(cells->GetOffsetsArray(), m.offsets);
    ids_from_vtk(cells->GetConnectivityArray(), m.connectivity);
    if (m.offsets.empty()) m.offsets.push_back(0);
    vtkUnsignedCharArray* types = ug->GetCellTypesArray();
    const vtkIdType nc = ug->GetNumberOfCells();
    m.types.resize(std::size_t(nc));
    if (nc) std::memcpy(m.types.data(), types->GetPointer(0), std::size_t(nc));
    for (vtkIdType c = 0; c < nc; ++c) check_cell_type(m.types[c], c, source);
  } else {
    vtkNew<vtkIdList> ids;
    const vtkIdType nc = data->GetNumberOfCells();
    m.types.reserve(std::size_t(nc));
    m.offsets.reserve(std::size_t(nc) + 1);
    for (vtkIdType c = 0; c < nc; ++c) {
      int type = data->GetCellType(c);
      if (type == VTK_EMPTY_CELL) continue;
      check_cell_type(type, c, source);
      data->GetCellPoints(c, ids);
      std::vector<std::int64_t> v(ids->GetPointer(0), ids->GetPointer(0) + ids->GetNumberOfIds());
      m.add_cell(CellType(type), v.data(), std::int64_t(v.size()));
    }
  }

  arrays_from_vtk(data->GetPointData(), m.point_data);
  arrays_from_vtk(data->GetCellData(), m.cell_data);
  vtkFieldData* fd = data->GetFieldData();
  for (int i = 0; fd && i < fd->GetNumberOfArrays(); ++i) {
    auto* s = vtkStringArray::SafeDownCast(fd->GetAbstractArray(i));
    if (!s || !s->GetName()) continue;
    // A multi-valued string array becomes one string, values separated by newlines.
    std::string value;
    for (vtkIdType k = 0; k < s->GetNumberOfValues(); ++k)
      value += (k ? "\n" : "") + s->GetValue(k);
    m.field_strings[s->GetName()] = value;
  }
  if (fd) arrays_from_vtk(fd, m.field_data);
  return m;
}

void to_vtk(const Mesh& mesh, vtkUnstructuredGrid* out) {
  vtkNew<vtkDoubleArray> coords;
  coords->SetNumberOfComponents(3);
  coords->SetArray(const_cast<double*>(mesh.points.data()), vtkIdType(mesh.points.size()), 1);
  vtkNew<vtkPoints> points;
  points->SetData(coords);
  out->SetPoints(points);

  vtkNew<vtkIdTypeArray> offsets, connectivity;
  // The casts are between int64_t (long) and vtkIdType (long long): same size and representation.
  offsets->SetArray(reinterpret_cast<vtkIdType*>(const_cast<std::int64_t*>(mesh.offsets.data())),
                    vtkIdType(mesh.offsets.size()), 1);
  connectivity->SetArray(
      reinterpret_cast<vtkIdType*>(const_cast<std::int64_t*>(mesh.connectivity.data())),
      vtkIdType(mesh.connectivity.size()), 1);
  vtkNew<vtkCellArray> cells;
  cells->SetData(offsets, connectivity);
  vtkNew<vtkUnsignedCharArray> types;
  types->SetArray(const_cast<std::uint8_t*>(mesh.types.data()), vtkIdType(mesh.types.size()), 1);
  out->SetCells(types, cells);

  arrays_to_vtk(mesh.point_data, out->GetPointData());
  arrays_to_vtk(mesh.cell_data, out->GetCellData());
  field_to_vtk(mesh, out);
}

void to_vtk_polydata(const Mesh& mesh, vtkPolyData* out, const std::string& source) {
  vtkNew<vtkDoubleArray> coords;
  coords->SetNumberOfComponents(3);
  coords->SetArray(const_cast<double*>(mesh.points.data()), vtkIdType(mesh.points.size()), 1);
  vtkNew<vtkPoints> points;
  points->SetData(coords);
  out->SetPoints(points);

  // Polydata numbers its cells verts, then lines, polys, strips; cell arrays follow that order.
  vtkNew<vtkCellArray> verts, lines, polys, strips;
  std::vector<std::int64_t> order[4];
  for (std::int64_t c = 0; c < mesh.num_cells(); ++c) {
    int group;
    switch (mesh.cell_type(c)) {
      case CellType::Vertex:
      case CellType::PolyVertex:
        group = 0;
        break;
      case CellType::Line:
      case CellType::PolyLine:
        group = 1;
        break;
      case CellType::Triangle:
      case CellType::Polygon:
      case CellType::Quad:
        group = 2;
        break;
      case CellType::TriangleStrip:
        group = 3;
        break;
      default:
        throw InputError(
            flare::detail::concat(source, ": cell ", c, " is a ", cell_type_name(mesh.cell_type(c)),
                                  ", which .vtp (polydata) cannot hold; write .vtu instead"));
    }
    order[group].push_back(c);
  }
  vtkCellArray* arrays[4] = {verts, lines, polys, strips};
  for (int g = 0; g < 4; ++g)
    for (std::int64_t c : order[g])
      arrays[g]->InsertNextCell(vtkIdType(mesh.cell_size(c)),
                                reinterpret_cast<const vtkIdType*>(mesh.cell(c)));
  out->SetVerts(verts);
  out->SetLines(lines);
  out->SetPolys(polys);
  out->SetStrips(strips);

  arrays_to_vtk(mesh.point_data, out->GetPointData());
  std::vector<std::int64_t> perm;
  for (auto& o : order) perm.insert(perm.end(), o.begin(), o.end());
  for (const auto& a : mesh.cell_data.all()) {
    DataArray sorted(a.name(), a.type(), a.components(), a.tuples());
    const std::size_t row = std::size_t(a.components()) * dtype_size(a.type());
    for (std::size_t i = 0; i < perm.size(); ++i)
      std::memcpy(static_cast<std::byte*>(sorted.raw()) + i * row,
                  static_cast<const std::byte*>(a.raw()) + std::size_t(perm[i]) * row, row);
    // The polydata must own this copy: DeepCopy out of the temporary wrapper.
    vtkSmartPointer<vtkDataArray> view = array_to_vtk(sorted);
    vtkSmartPointer<vtkDataArray> owned;
    owned.TakeReference(view->NewInstance());
    owned->DeepCopy(view);
    owned->SetName(a.name().c_str());
    out->GetCellData()->AddArray(owned);
  }
  field_to_vtk(mesh, out);
}

}  // namespace flare::mesh::detail
