#include "surrogate/h5.h"

#include <cstdint>
#include <type_traits>

namespace flare::h5 {

namespace {

// HDF5 prints its whole error stack to stderr by default; our exceptions say what went wrong, so
// silence it once, before the first call that may fail.
void silence_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

[[noreturn]] void bad_input(hid_t loc, const std::string& what) {
  throw InputError(detail::concat(file_name(loc), ": ", what));
}

Handle open_dataset(hid_t loc, const std::string& name) {
  if (!exists(loc, name))
    bad_input(loc, detail::concat("missing dataset '", name,
                                  "' (the file is incomplete or was written by another tool)"));
  Handle d(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.valid()) bad_input(loc, detail::concat("cannot open dataset '", name, "' (damaged file?)"));
  return d;
}

Handle open_attr(hid_t loc, const std::string& name) {
  if (!has_attr(loc, name)) bad_input(loc, detail::concat("missing attribute '", name, "'"));
  Handle a(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!a.valid()) bad_input(loc, detail::concat("cannot open attribute '", name, "' (damaged file?)"));
  return a;
}

template <typename T>
void write_scalar_attr(hid_t loc, const std::string& name, T value) {
  if (has_attr(loc, name)) FLARE_H5_CHECK(H5Adelete(loc, name.c_str()), "deleting attribute ", name);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  FLARE_H5_CHECK(space.id(), "dataspace for attribute ", name);
  Handle attr(H5Acreate2(loc, name.c_str(), native_type<T>(), space, H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  FLARE_H5_CHECK(attr.id(), "creating attribute ", name);
  FLARE_H5_CHECK(H5Awrite(attr, native_type<T>(), &value), "writing attribute ", name);
}

template <typename T>
T read_scalar_attr(hid_t loc, const std::string& name) {
  Handle attr = open_attr(loc, name);
  Handle type(H5Aget_type(attr), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT)
    bad_input(loc, detail::concat("attribute '", name, "' is not a number"));
  Handle space(H5Aget_space(attr), H5Sclose);
  if (H5Sget_simple_extent_npoints(space) != 1)
    bad_input(loc, detail::concat("attribute '", name, "' is not a scalar"));
  T value{};
  if (H5Aread(attr, native_type<T>(), &value) < 0)
    bad_input(loc, detail::concat("cannot read attribute '", name, "' (damaged file?)"));
  return value;
}

}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    m_id = o.m_id;
    m_close = o.m_close;
    o.m_id = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (m_id >= 0 && m_close) m_close(m_id);
  m_id = H5I_INVALID_HID;
}

Handle open_file(const std::filesystem::path& path) {
  silence_hdf5();
  FLARE_INPUT_CHECK(std::filesystem::exists(path), path.string(),
                    ": file not found (check the path)");
  FLARE_INPUT_CHECK(H5Fis_hdf5(path.c_str()) > 0, path.string(),
                    ": not an HDF5 file, or truncated/damaged (regenerate it)");
  Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  FLARE_INPUT_CHECK(f.valid(), path.string(), ": cannot open as HDF5 (truncated or damaged file?)");
  return f;
}

Handle create_file(const std::filesystem::path& path) {
  silence_hdf5();
  Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!f.valid()) throw Error(detail::concat(path.string(), ": cannot create HDF5 file"));
  return f;
}

Handle create_group(hid_t loc, const std::string& name) {
  Handle g(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  FLARE_H5_CHECK(g.id(), "creating group ", name);
  return g;
}

Handle open_group(hid_t loc, const std::string& name) {
  if (!exists(loc, name)) bad_input(loc, detail::concat("missing group '", name, "'"));
  Handle g(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) bad_input(loc, detail::concat("cannot open group '", name, "' (damaged file?)"));
  return g;
}

std::string file_name(hid_t loc) {
  const ssize_t n = H5Fget_name(loc, nullptr, 0);
  if (n <= 0) return "<hdf5>";
  std::string s(static_cast<std::size_t>(n) + 1, '\0');
  H5Fget_name(loc, s.data(), s.size());
  s.resize(static_cast<std::size_t>(n));
  return s;
}

bool exists(hid_t loc, const std::string& name) {
  // H5Lexists must be asked for every path component in turn: it fails (not "false") when an
  // intermediate group is missing.
  std::size_t pos = 0;
  while (true) {
    const std::size_t slash = name.find('/', pos);
    const std::string prefix = name.substr(0, slash);
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

std::vector<std::string> list_group(hid_t loc, const std::string& name) {
  Handle g = open_group(loc, name);
  H5G_info_t info;
  if (H5Gget_info(g, &info) < 0) bad_input(loc, detail::concat("cannot list group '", name, "'"));
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t n = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) bad_input(loc, detail::concat("cannot list group '", name, "'"));
    std::string s(static_cast<std::size_t>(n) + 1, '\0');
    H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, s.data(), s.size(), H5P_DEFAULT);
    s.resize(static_cast<std::size_t>(n));
    names.push_back(std::move(s));
  }
  return names;
}

template <typename T>
void write_dataset(hid_t loc, const std::string& name, const T* data,
                   const std::vector<std::int64_t>& dims) {
  std::vector<hsize_t> hd(dims.begin(), dims.end());
  Handle space(H5Screate_simple(static_cast<int>(hd.size()), hd.data(), nullptr), H5Sclose);
  FLARE_H5_CHECK(space.id(), "dataspace for ", name);
  Handle d(H5Dcreate2(loc, name.c_str(), native_type<T>(), space, H5P_DEFAULT, H5P_DEFAULT,
                      H5P_DEFAULT),
           H5Dclose);
  FLARE_H5_CHECK(d.id(), "creating dataset ", name);
  std::int64_t count = 1;
  for (auto v : dims) count *= v;
  if (count > 0)
    FLARE_H5_CHECK(H5Dwrite(d, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
                   "writing dataset ", name);
}

std::vector<std::int64_t> dataset_shape(hid_t loc, const std::string& name) {
  Handle d = open_dataset(loc, name);
  Handle space(H5Dget_space(d), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) bad_input(loc, detail::concat("dataset '", name, "' has no simple shape"));
  std::vector<hsize_t> hd(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, hd.data(), nullptr);
  return {hd.begin(), hd.end()};
}

template <typename T>
void read_dataset(hid_t loc, const std::string& name, T* out, std::int64_t count) {
  Handle d = open_dataset(loc, name);
  Handle space(H5Dget_space(d), H5Sclose);
  const auto n = H5Sget_simple_extent_npoints(space);
  if (n != count)
    bad_input(loc, detail::concat("dataset '", name, "' has ", n, " elements, expected ", count));
  if (count > 0 && H5Dread(d, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    bad_input(loc, detail::concat("cannot read dataset '", name, "' (truncated or damaged file?)"));
}

template <typename T>
std::vector<T> read_dataset(hid_t loc, const std::string& name) {
  std::int64_t count = 1;
  for (auto v : dataset_shape(loc, name)) count *= v;
  std::vector<T> out(static_cast<std::size_t>(count));
  read_dataset(loc, name, out.data(), count);
  return out;
}

template <typename T>
void read_rows(hid_t loc, const std::string& name, std::int64_t row0, std::int64_t rows, T* out) {
  const auto shape = dataset_shape(loc, name);
  if (shape.size() != 2) bad_input(loc, detail::concat("dataset '", name, "' is not 2-D"));
  if (row0 < 0 || rows < 0 || row0 + rows > shape[0])
    bad_input(loc, detail::concat("rows ", row0, "..", row0 + rows, " of dataset '", name,
                                  "' are out of range (it has ", shape[0], " rows)"));
  if (rows == 0) return;
  Handle d = open_dataset(loc, name);
  Handle file_space(H5Dget_space(d), H5Sclose);
  const hsize_t start[2] = {static_cast<hsize_t>(row0), 0};
  const hsize_t count[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(shape[1])};
  FLARE_H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr),
                 "selecting rows of ", name);
  Handle mem_space(H5Screate_simple(2, count, nullptr), H5Sclose);
  if (H5Dread(d, native_type<T>(), mem_space, file_space, H5P_DEFAULT, out) < 0)
    bad_input(loc, detail::concat("cannot read rows of dataset '", name, "' (damaged file?)"));
}

#define FLARE_H5_INSTANTIATE(T)                                                                \
  template void write_dataset<T>(hid_t, const std::string&, const T*,                          \
                                 const std::vector<std::int64_t>&);                           \
  template void read_dataset<T>(hid_t, const std::string&, T*, std::int64_t);                  \
  template std::vector<T> read_dataset<T>(hid_t, const std::string&);                          \
  template void read_rows<T>(hid_t, const std::string&, std::int64_t, std::int64_t, T*);
FLARE_H5_INSTANTIATE(float)
FLARE_H5_INSTANTIATE(double)
FLARE_H5_INSTANTIATE(std::int64_t)
FLARE_H5_INSTANTIATE(std::int32_t)
FLARE_H5_INSTANTIATE(std::uint8_t)
#undef FLARE_H5_INSTANTIATE

bool has_attr(hid_t loc, const std::string& name) { return H5Aexists(loc, name.c_str()) > 0; }

void write_attr(hid_t loc, const std::string& name, const std::string& value) {
  if (has_attr(loc, name)) FLARE_H5_CHECK(H5Adelete(loc, name.c_str()), "deleting attribute ", name);
  // Variable-length UTF-8: h5py reads it back as a Python str.
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  FLARE_H5_CHECK(H5Tset_size(type, H5T_VARIABLE), "string type");
  FLARE_H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8), "string type");
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  FLARE_H5_CHECK(attr.id(), "creating attribute ", name);
  const char* p = value.c_str();
  FLARE_H5_CHECK(H5Awrite(attr, type, &p), "writing attribute ", name);
}

void write_attr(hid_t loc, const std::string& name, std::int64_t value) {
  write_scalar_attr(loc, name, value);
}

void write_attr(hid_t loc, const std::string& name, double value) {
  write_scalar_attr(loc, name, value);
}

void write_attr_json(hid_t loc, const std::string& name, const nlohmann::json& value) {
  write_attr(loc, name, value.dump());
}

std::string read_attr_string(hid_t loc, const std::string& name) {
  Handle attr = open_attr(loc, name);
  Handle type(H5Aget_type(attr), H5Tclose);
  if (H5Tget_class(type) != H5T_STRING)
    bad_input(loc, detail::concat("attribute '", name, "' is not a string"));
  if (H5Tis_variable_str(type) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));
    char* p = nullptr;
    if (H5Aread(attr, mem, &p) < 0 || !p)
      bad_input(loc, detail::concat("cannot read attribute '", name, "' (damaged file?)"));
    std::string s(p);
    H5free_memory(p);
    return s;
  }
  const std::size_t size = H5Tget_size(type);
  std::string s(size, '\0');
  if (H5Aread(attr, type, s.data()) < 0)
    bad_input(loc, detail::concat("cannot read attribute '", name, "' (damaged file?)"));
  s.resize(s.find('\0') == std::string::npos ? size : s.find('\0'));
  return s;
}

std::int64_t read_attr_int(hid_t loc, const std::string& name) {
  return read_scalar_attr<std::int64_t>(loc, name);
}

double read_attr_double(hid_t loc, const std::string& name) {
  return read_scalar_attr<double>(loc, name);
}

nlohmann::json read_attr_json(hid_t loc, const std::string& name) {
  const std::string s = read_attr_string(loc, name);
  try {
    return nlohmann::json::parse(s);
  } catch (const nlohmann::json::exception& e) {
    bad_input(loc, detail::concat("attribute '", name, "' is not valid JSON (", e.what(), ")"));
  }
}

}  // namespace flare::h5
