// Damages a dataset file in place the way a bad disk, a hand edit or another tool might: one
// non-finite value in a sample's rows, or replaced training statistics. For the NaN-hygiene tests.
#pragma once

#include <hdf5.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "surrogate/dataset.h"
#include "surrogate/h5_rows.h"

namespace flare::test {

/// Sets column `column` of point `point` of sample `sample` in `array` ("features" or "targets").
inline void poke_sample_value(const std::filesystem::path& file, const std::string& array,
                              std::int64_t sample, std::int64_t point, std::int64_t column,
                              float value) {
  std::int64_t row = 0, columns = 0;
  {
    const surrogate::Dataset d(file);
    row = d.offsets()[sample] + point;
    columns = array == "features" ? d.num_features() : d.num_targets();
  }  // closed: HDF5 refuses to open a file for writing while it is open for reading
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  FLARE_CHECK(f >= 0, "cannot open ", file.string());
  std::vector<float> x(static_cast<std::size_t>(columns));  // raw: Dataset would refuse an already poked row
  h5::read_rows(f, array, row, 1, x.data());
  x[std::size_t(column)] = value;
  h5::write_rows(f, array, row, 1, x.data());
  H5Fclose(f);
}

/// Overwrites the 1-D double dataset `stats/<name>` (same length).
inline void overwrite_stats(const std::filesystem::path& file, const std::string& name,
                            const std::vector<double>& values) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  FLARE_CHECK(f >= 0, "cannot open ", file.string());
  const hid_t d = H5Dopen2(f, ("stats/" + name).c_str(), H5P_DEFAULT);
  FLARE_CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                 values.data()) >= 0,
              "cannot write stats/", name);
  H5Dclose(d);
  H5Fclose(f);
}

}  // namespace flare::test
