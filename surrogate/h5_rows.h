// Row-wise writing into fixed-shape 2-D HDF5 datasets, on top of surrogate/h5.h: the dataset
// builder writes one mesh at a time into packed [ΣN, C] arrays, so memory stays at one mesh.
// (Candidates to fold into h5.h; kept apart to avoid editing the shared file concurrently.)
#pragma once

#include "surrogate/h5.h"

namespace flare::h5 {

/// Creates an uninitialised dataset of shape dims [R, C] (chunked by rows when R > 0).
template <typename T>
void create_dataset(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims);

/// Writes data [rows, C] into rows [row0, row0 + rows) of a 2-D dataset [R, C].
template <typename T>
void write_rows(hid_t loc, const std::string& name, std::int64_t row0, std::int64_t rows,
                const T* data);

}  // namespace flare::h5
