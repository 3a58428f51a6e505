#include "surrogate/augment.h"

#include "common/error.h"

namespace flare::surrogate {

namespace {

// splitmix64's finaliser: consecutive inputs give independent-looking outputs.
std::uint64_t mix(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Rows [begin, end) of m through the map, in place (one row's copy at a time).
void apply_map(const kernels::ColumnMap& map, mesh::FeatureMatrix& m, Eigen::Index begin,
               Eigen::Index end) {
  float row[kernels::ColumnMap::kMax];
  for (Eigen::Index i = begin; i < end; ++i) {
    for (int c = 0; c < map.cols; ++c) row[c] = m(i, c);
    for (int c = 0; c < map.cols; ++c) m(i, c) = map.sign[c] * row[map.from[c]];
  }
}

// The pair's statistics must be (0, s) and (0, s): then normalising and transforming commute.
void check_symmetric(const mesh::PlaneSymmetry& s, const std::vector<double>& mean,
                     const std::vector<double>& std, const std::vector<std::string>& names,
                     const std::string& source) {
  for (const auto& [a, b] : s.pairs)
    FLARE_INPUT_CHECK(mean[a] == 0 && mean[b] == 0 && std[a] == std[b], source,
                      ": --augment needs the in-plane pair ", names[a], "/", names[b],
                      " normalised with mean 0 and one std, but it has means ", mean[a], ", ",
                      mean[b], " and stds ", std[a], ", ", std[b],
                      "; rebuild the dataset with this flare-surrogate's `dataset build`");
}

}  // namespace

PlaneTransform PlaneTransform::element(int g) {
  FLARE_CHECK(g >= 0 && g < 8, "PlaneTransform: element ", g, " is not in 0..7");
  PlaneTransform t;
  if (g >= 4) t.su = -1;  // mirror x first
  for (int k = 0; k < g % 4; ++k) {
    // A quarter turn (u, v) -> (-v, u) after the current map.
    PlaneTransform r;
    r.swap = !t.swap;
    r.su = -t.sv;
    r.sv = t.su;
    t = r;
  }
  return t;
}

PlaneAugmenter::PlaneAugmenter(const mesh::FeatureRecipe& recipe, const Normalizer& norm,
                               const std::string& source) {
  try {
    m_features = recipe.plane_symmetry(norm.feature_names);
  } catch (const InputError& e) {
    throw InputError(detail::concat(source, ": --augment: ", e.what()));
  }
  FLARE_INPUT_CHECK(m_features.why_not.empty(), source, ": --augment cannot rotate this data: ",
                    m_features.why_not,
                    " (rebuild the dataset with `dataset build`, which writes recipe version ",
                    mesh::FeatureRecipe::kVersion, ")");
  m_targets = mesh::arrays_symmetry(norm.target_arrays, norm.target_components);
  FLARE_INPUT_CHECK(m_targets.why_not.empty(), source,
                    ": --augment cannot rotate the targets: ", m_targets.why_not,
                    " (train without --augment, or on scalar or 3-vector targets)");
  check_symmetric(m_features, norm.feature_mean, norm.feature_std, norm.feature_names, source);
  check_symmetric(m_targets, norm.target_mean, norm.target_std, norm.target_names, source);
}

int PlaneAugmenter::draw(std::uint64_t seed, std::int64_t epoch, std::int64_t sample) {
  const std::uint64_t h = mix(mix(mix(seed) + std::uint64_t(epoch)) + std::uint64_t(sample));
  return int(h >> 61);  // the top 3 bits: uniform over 0..7
}

kernels::ColumnMap PlaneAugmenter::column_map(const mesh::PlaneSymmetry& s, int g, int cols) {
  FLARE_CHECK(cols <= kernels::ColumnMap::kMax, "PlaneAugmenter: ", cols, " columns (at most ",
              kernels::ColumnMap::kMax, ")");
  kernels::ColumnMap map = kernels::ColumnMap::identity(cols);
  const PlaneTransform t = PlaneTransform::element(g);
  // PlaneTransform::apply on column values: (u, v) -> (su·(swap ? v : u), sv·(swap ? u : v)).
  for (const auto& [a, b] : s.pairs) {
    FLARE_CHECK(a < cols && b < cols, "PlaneAugmenter: pair (", a, ", ", b, ") outside ", cols,
                " columns");
    map.from[a] = t.swap ? b : a;
    map.from[b] = t.swap ? a : b;
    map.sign[a] = t.su;
    map.sign[b] = t.sv;
  }
  return map;
}

void PlaneAugmenter::apply(int g, mesh::FeatureMatrix& x, mesh::FeatureMatrix& y,
                           Eigen::Index begin, Eigen::Index end) const {
  if (g == 0) return;
  apply_map(feature_map(g, int(x.cols())), x, begin, end);
  apply_map(target_map(g, int(y.cols())), y, begin, end);
}

}  // namespace flare::surrogate
