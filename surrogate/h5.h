// Small RAII layer over the HDF5 C API, shared by checkpoints and the dataset file.
//
// - Handle closes its hid_t with the matching H5?close; every handle starts as H5I_INVALID_HID
//   (mfem vtkhdf.hpp), so a half-built object never closes garbage.
// - FLARE_H5_CHECK(expr, msg...) throws flare::Error when an HDF5 call returns < 0.
// - Readers throw flare::InputError naming the file and the object (a user-supplied file is
//   missing something or is damaged); writers throw flare::Error.
// - HDF5's own error stack printing is switched off: our messages replace it.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "common/error.h"

#define FLARE_H5_CHECK(expr, ...)                                                              \
  do {                                                                                         \
    if ((expr) < 0)                                                                            \
      throw ::flare::Error(::flare::detail::concat("HDF5: ", __VA_ARGS__, " [", #expr, " at ", \
                                                   __FILE__, ":", __LINE__, "]"));            \
  } while (0)

namespace flare::h5 {

/// The HDF5 memory type of T (float, double, int64, int32, uint8).
template <typename T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
  else static_assert(sizeof(T) == 0, "unsupported HDF5 element type");
}

/// Owns one hid_t (file, group, dataset, dataspace, attribute, datatype). Move-only.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : m_id(id), m_close(close) {}
  Handle(Handle&& o) noexcept : m_id(o.m_id), m_close(o.m_close) { o.m_id = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t id() const { return m_id; }
  operator hid_t() const { return m_id; }
  bool valid() const { return m_id >= 0; }
  void reset();

 private:
  hid_t m_id = H5I_INVALID_HID;
  Closer m_close = nullptr;
};

/// Opens an existing file read-only. InputError (naming the path) if it is missing or not HDF5.
Handle open_file(const std::filesystem::path& path);
/// Creates (truncates) a file for writing.
Handle create_file(const std::filesystem::path& path);
Handle create_group(hid_t loc, const std::string& name);
/// InputError if the group does not exist.
Handle open_group(hid_t loc, const std::string& name);

/// The file name of any object handle (for error messages).
std::string file_name(hid_t loc);
/// True if `name` (a path relative to loc, e.g. "params/in_proj.fc1.weight") exists.
bool exists(hid_t loc, const std::string& name);

/// Names of the direct children of group `name` (datasets and groups), in index order.
std::vector<std::string> list_group(hid_t loc, const std::string& name);

/// Typed datasets. Element types: float, double, int64_t, int32_t, uint8_t.
template <typename T>
void write_dataset(hid_t loc, const std::string& name, const T* data,
                   const std::vector<std::int64_t>& dims);
/// Shape of a dataset; InputError if it is missing.
std::vector<std::int64_t> dataset_shape(hid_t loc, const std::string& name);
/// Reads a whole dataset into out [count]; InputError if missing or if its element count differs
/// from `count`. HDF5 converts the stored type to T.
template <typename T>
void read_dataset(hid_t loc, const std::string& name, T* out, std::int64_t count);
template <typename T>
std::vector<T> read_dataset(hid_t loc, const std::string& name);

/// Reads rows [row0, row0 + rows) of a 2-D dataset [R, cols] into out [rows, cols] (a hyperslab:
/// reading a batch from a packed dataset is a slice, not a parse).
template <typename T>
void read_rows(hid_t loc, const std::string& name, std::int64_t row0, std::int64_t rows, T* out);

/// Scalar attributes on any object.
bool has_attr(hid_t loc, const std::string& name);
void write_attr(hid_t loc, const std::string& name, const std::string& value);
void write_attr(hid_t loc, const std::string& name, std::int64_t value);
void write_attr(hid_t loc, const std::string& name, double value);
/// JSON is stored as its compact string dump.
void write_attr_json(hid_t loc, const std::string& name, const nlohmann::json& value);
/// Readers throw InputError naming the file and attribute if it is missing or of the wrong kind.
std::string read_attr_string(hid_t loc, const std::string& name);
std::int64_t read_attr_int(hid_t loc, const std::string& name);
double read_attr_double(hid_t loc, const std::string& name);
nlohmann::json read_attr_json(hid_t loc, const std::string& name);

}  // namespace flare::h5
