#include "surrogate/h5_rows.h"

#include <algorithm>
#include <type_traits>

namespace flare::h5 {

template <typename T>
void create_dataset(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims) {
  FLARE_CHECK(dims.size() == 2, "create_dataset: 2-D only, got rank ", dims.size());
  const hsize_t hd[2] = {hsize_t(dims[0]), hsize_t(dims[1])};
  Handle space(H5Screate_simple(2, hd, nullptr), H5Sclose);
  FLARE_H5_CHECK(space.id(), "dataspace for ", name);
  Handle props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  FLARE_H5_CHECK(props.id(), "creation properties for ", name);
  if (dims[0] > 0 && dims[1] > 0) {
    // About 1 MiB per chunk (HDF5's default chunk cache size): one sample's slice touches a few
    // chunks, and whole rows live in one chunk.
    const hsize_t rows = std::max<hsize_t>(1, (hsize_t(1) << 20) / (hd[1] * sizeof(T)));
    const hsize_t chunk[2] = {std::min(hd[0], rows), hd[1]};
    FLARE_H5_CHECK(H5Pset_chunk(props, 2, chunk), "chunking ", name);
  }
  Handle d(H5Dcreate2(loc, name.c_str(), native_type<T>(), space, H5P_DEFAULT, props, H5P_DEFAULT),
           H5Dclose);
  FLARE_H5_CHECK(d.id(), "creating dataset ", name);
}

template <typename T>
void write_rows(hid_t loc, const std::string& name, std::int64_t row0, std::int64_t rows,
                const T* data) {
  if (rows == 0) return;
  Handle d(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
  FLARE_H5_CHECK(d.id(), "opening dataset ", name);
  Handle file_space(H5Dget_space(d), H5Sclose);
  hsize_t dims[2] = {0, 0};
  FLARE_H5_CHECK(H5Sget_simple_extent_dims(file_space, dims, nullptr), "shape of ", name);
  FLARE_CHECK(row0 >= 0 && hsize_t(row0 + rows) <= dims[0], "write_rows: rows ", row0, "..",
              row0 + rows, " out of range for '", name, "' with ", dims[0], " rows");
  const hsize_t start[2] = {hsize_t(row0), 0};
  const hsize_t count[2] = {hsize_t(rows), dims[1]};
  FLARE_H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr),
                 "selecting rows of ", name);
  Handle mem_space(H5Screate_simple(2, count, nullptr), H5Sclose);
  FLARE_H5_CHECK(H5Dwrite(d, native_type<T>(), mem_space, file_space, H5P_DEFAULT, data),
                 "writing rows of ", name);
}

#define FLARE_H5_ROWS_INSTANTIATE(T)                                                       \
  template void create_dataset<T>(hid_t, const std::string&, const std::vector<std::int64_t>&); \
  template void write_rows<T>(hid_t, const std::string&, std::int64_t, std::int64_t, const T*);
FLARE_H5_ROWS_INSTANTIATE(float)
FLARE_H5_ROWS_INSTANTIATE(double)
FLARE_H5_ROWS_INSTANTIATE(std::int64_t)

}  // namespace flare::h5
