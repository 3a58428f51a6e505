#include "surrogate/dataset.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>
#include <random>
#include <tuple>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/ordered_parallel.h"
#include "common/progress.h"
#include "surrogate/h5_rows.h"
#include "surrogate/normalizer.h"

namespace flare::surrogate {

mesh::FeatureMatrix target_rows(const mesh::Mesh& m, const std::vector<std::string>& arrays) {
  Eigen::Index T = 0;
  for (const auto& name : arrays) T += m.point_data.find(name)->components();
  mesh::FeatureMatrix y(m.num_points(), T);
  Eigen::Index col = 0;
  for (const auto& name : arrays) {
    const mesh::DataArray& a = *m.point_data.find(name);
    for (std::int64_t i = 0; i < m.num_points(); ++i)
      for (int c = 0; c < a.components(); ++c) y(i, col + c) = float(a.get(i, c));
    col += a.components();
  }
  return y;
}

namespace {

const char* kSplitNames[3] = {"train", "val", "test"};

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::string> component_names(const std::string& name, int components) {
  if (components == 1) return {name};
  std::vector<std::string> out;
  for (int c = 0; c < components; ++c) out.push_back(name + "_" + std::to_string(c));
  return out;
}

// Per-channel mean and sum of squared deviations, merged sample by sample (Chan et al.), so a
// large offset (coordinates in mm far from 0) does not cancel catastrophically.
struct ChannelStats {
  std::int64_t count = 0;
  std::vector<double> mean, m2;
  explicit ChannelStats(std::int64_t channels) : mean(channels, 0.0), m2(channels, 0.0) {}

  void add(const mesh::FeatureMatrix& x) {
    const std::int64_t n = x.rows();
    if (n == 0) return;
    for (Eigen::Index c = 0; c < x.cols(); ++c) {
      double m = 0;
      for (std::int64_t i = 0; i < n; ++i) m += x(i, c);
      m /= double(n);
      double s = 0;
      for (std::int64_t i = 0; i < n; ++i) s += (x(i, c) - m) * (x(i, c) - m);
      const double delta = m - mean[c];
      const double total = double(count + n);
      mean[c] += delta * double(n) / total;
      m2[c] += s + delta * delta * double(count) * double(n) / total;
    }
    count += n;
  }
  // Channels a and b become one in-plane pair: mean 0 and one spread, the mean square of both
  // about 0 (rotations by 90 degrees and mirrors map the pair's values onto each other and their
  // negatives, so over the symmetric data its mean is 0 and both channels have that spread).
  void share(Eigen::Index a, Eigen::Index b) {
    const double n = double(count);
    const double sq = 0.5 * (m2[a] + n * mean[a] * mean[a] + m2[b] + n * mean[b] * mean[b]);
    mean[a] = mean[b] = 0.0;
    m2[a] = m2[b] = sq;
  }
  // Population std; a constant channel gets 1 so normalising it yields zeros, not NaN.
  std::vector<double> stddev() const {
    std::vector<double> s(mean.size());
    for (std::size_t c = 0; c < s.size(); ++c) {
      const double v = count > 0 ? std::sqrt(m2[c] / double(count)) : 0.0;
      s[c] = v > 1e-12 * std::max(1.0, std::abs(mean[c])) ? v : 1.0;
    }
    return s;
  }
};

// What pass 1 learns about one input.
struct Checked {
  std::filesystem::path path;
  std::int64_t points = 0;
  mesh::Bounds bounds;
  MeshShape shape;
  std::string family;
  int split = -1;  // index into kSplitNames when assigned per input, else -1
};

int split_index(const std::string& name) {
  for (int k = 0; k < 3; ++k)
    if (name == kSplitNames[k]) return k;
  throw InputError(detail::concat("unknown split '", name, "' (use train, val or test)"));
}

// Components of each named point array, or InputError naming the file and the array.
std::vector<int> check_arrays(const mesh::Mesh& m, const std::vector<std::string>& names,
                              const std::string& role, const std::string& source,
                              bool require_finite) {
  std::vector<int> comps;
  for (const auto& name : names) {
    const mesh::DataArray* a = m.point_data.find(name);
    if (!a) {
      std::string have;
      for (const auto& n : m.point_data.names()) have += (have.empty() ? "" : ", ") + n;
      throw InputError(detail::concat(source, ": no point array '", name, "' (the ", role,
                                      "); the mesh has ", have.empty() ? "no point arrays" : have,
                                      " (check --", role == "target" ? "target" : "inputs",
                                      ", or pass --skip-bad to leave this file out)",
                                      name == "displacement_coarse"
                                          ? "; `am dataset --coarse-field` and `am simulate "
                                            "--coarse-field` make it"
                                          : ""));
    }
    FLARE_INPUT_CHECK(a->tuples() == m.num_points(), source, ": point array '", name, "' has ",
                      a->tuples(), " tuples for ", m.num_points(), " points");
    // The rows are stored as float32: a finite double beyond float's range would become inf.
    if (require_finite)
      for (std::int64_t i = 0; i < a->tuples(); ++i)
        for (int c = 0; c < a->components(); ++c) {
          const double v = a->get(i, c);
          if (std::isfinite(float(v))) continue;
          const std::vector<std::string> columns = component_names(name, a->components());
          throw InputError(detail::concat(
              source, ": ", role, " column '", columns[std::size_t(c)], "' has a ",
              std::isfinite(v) ? "value beyond single precision (" : "non-finite value (", v,
              ") at point ", i, " (a failed solve? fix or remove the file, or pass --skip-bad)"));
        }
    comps.push_back(a->components());
  }
  return comps;
}

}  // namespace

std::array<std::vector<std::int64_t>, 3> split_samples(std::int64_t count,
                                                       const std::array<double, 3>& fractions,
                                                       std::uint64_t seed) {
  double sum = 0;
  for (double f : fractions) {
    FLARE_INPUT_CHECK(std::isfinite(f) && f >= 0, "--split: fractions must be >= 0");
    sum += f;
  }
  FLARE_INPUT_CHECK(std::abs(sum - 1.0) < 1e-6, "--split: fractions must sum to 1 (got ", sum,
                    "), e.g. --split 0.8,0.1,0.1");
  FLARE_INPUT_CHECK(fractions[0] > 0, "--split: the train fraction must be positive");
  std::vector<std::int64_t> order(count);
  for (std::int64_t i = 0; i < count; ++i) order[i] = i;
  // Fisher-Yates with mt19937_64's raw output: std::shuffle and std::uniform_int_distribution
  // differ between standard libraries, and a split must be reproducible from its seed anywhere.
  std::mt19937_64 rng(seed);
  for (std::int64_t i = count - 1; i > 0; --i) std::swap(order[i], order[rng() % std::uint64_t(i + 1)]);
  std::int64_t n_train = count > 0 ? std::clamp<std::int64_t>(std::llround(fractions[0] * count), 1, count) : 0;
  std::int64_t n_val = std::min<std::int64_t>(count - n_train, std::llround(fractions[1] * count));
  std::array<std::vector<std::int64_t>, 3> out;
  out[0].assign(order.begin(), order.begin() + n_train);
  out[1].assign(order.begin() + n_train, order.begin() + n_train + n_val);
  out[2].assign(order.begin() + n_train + n_val, order.end());
  for (auto& s : out) std::sort(s.begin(), s.end());
  return out;
}

DatasetBuildResult build_dataset(const DatasetBuildOptions& opt, const MeshReader& read,
                                 const DatasetLog& log) {
  FLARE_INPUT_CHECK(!opt.inputs.empty(), "dataset build: no input meshes given");
  FLARE_INPUT_CHECK(!opt.targets.empty(), "dataset build: no --target array given");
  const bool assigned = !opt.sample_splits.empty();
  if (assigned)
    FLARE_CHECK(opt.sample_splits.size() == opt.inputs.size(), "build_dataset: ",
                opt.sample_splits.size(), " sample splits for ", opt.inputs.size(), " inputs");
  else
    split_samples(0, opt.split, 0);  // validates the fractions before any reading
  FLARE_CHECK(opt.sample_families.empty() || opt.sample_families.size() == opt.inputs.size(),
              "build_dataset: ", opt.sample_families.size(), " families for ", opt.inputs.size(),
              " inputs");
  check_writable(opt.output);
  const bool fixed = !opt.fixed_recipe.is_null();
  mesh::FeatureRecipe recipe =
      fixed ? mesh::FeatureRecipe::from_json(opt.fixed_recipe, "--recipe-from")
            : mesh::FeatureRecipe::default_recipe(opt.input_arrays, opt.recipe_version);
  // --recipe-from with more --inputs than the model read: data to fine-tune it with new input
  // columns (train --init-from widens its input layer, docs/architecture.md). Without --inputs
  // the model's own arrays are read: data to fine-tune it as it is.
  const std::vector<std::string> theirs = recipe.input_arrays();
  const std::vector<std::string> input_arrays =
      fixed && opt.input_arrays.empty() ? theirs : opt.input_arrays;
  FLARE_INPUT_CHECK(!fixed || (input_arrays.size() >= theirs.size() &&
                               std::equal(theirs.begin(), theirs.end(), input_arrays.begin())),
                    "--recipe-from: the recipe reads the input arrays ", nlohmann::json(theirs).dump(),
                    " but --inputs gives ", nlohmann::json(input_arrays).dump(),
                    "; pass the same --inputs as the dataset that model was trained on (new arrays "
                    "may follow them), or none");
  if (fixed)
    for (std::size_t k = theirs.size(); k < input_arrays.size(); ++k)
      recipe.features.push_back("array:" + input_arrays[k]);
  recipe.validate();

  DatasetBuildResult result;
  // Pass 1: validate every input; remember sizes and bounds. Inputs are read in parallel, one
  // per thread, and judged in input order (the first bad one is the one reported).
  const std::int64_t threads = omp_get_max_threads();
  struct Pass1 {
    Checked checked;
    std::vector<int> target_comps, input_comps;
  };
  std::vector<Checked> good;
  std::vector<int> target_comps, input_comps;
  {
    Progress progress(std::int64_t(opt.inputs.size()), "checking inputs", "meshes");
    ordered_parallel<Pass1>(
        std::int64_t(opt.inputs.size()), 4 * threads,
        [&](std::int64_t i) {
          const auto& path = opt.inputs[std::size_t(i)];
          const std::string source = path.string();
          const mesh::Mesh m = read(path);
          m.validate(source);
          Pass1 r{Checked{path, m.num_points(), {}, measure_shape(m), {}, -1},
                  check_arrays(m, opt.targets, "target", source, true),
                  check_arrays(m, input_arrays, "input", source, true)};
          r.checked.bounds.extend(m.points);
          const auto family = m.field_strings.find("family");
          if (family != m.field_strings.end()) r.checked.family = family->second;
          return r;
        },
        [&](std::int64_t i, auto get) {
          const std::string source = opt.inputs[std::size_t(i)].string();
          try {
            Pass1& r = get();
            if (good.empty()) {
              target_comps = r.target_comps;
              input_comps = r.input_comps;
            }
            FLARE_INPUT_CHECK(r.target_comps == target_comps && r.input_comps == input_comps,
                              source, ": its target/input arrays have different component counts than ",
                              good.front().path.string());
            Checked& c = r.checked;
            if (c.family.empty() && !opt.sample_families.empty())
              c.family = opt.sample_families[std::size_t(i)];
            if (assigned) c.split = split_index(opt.sample_splits[std::size_t(i)]);
            good.push_back(std::move(c));
          } catch (const InputError& e) {
            if (!opt.skip_bad) throw;
            result.skipped.emplace_back(source, e.what());
            if (log) log(detail::concat("skipped ", e.what()));
          }
          progress.advance();
        });
  }
  FLARE_INPUT_CHECK(!good.empty(), "dataset build: none of the ", opt.inputs.size(),
                    " inputs is usable (see the messages above)");

  const std::int64_t samples = std::int64_t(good.size());
  std::array<std::vector<std::int64_t>, 3> splits;
  if (assigned) {
    for (std::int64_t s = 0; s < samples; ++s) splits[good[s].split].push_back(s);
    FLARE_INPUT_CHECK(!splits[0].empty(), "dataset build: none of the ", samples,
                      " usable inputs is in the train split of its manifest; add training samples");
  } else {
    splits = split_samples(samples, opt.split, opt.seed);
  }
  std::vector<mesh::Bounds> train_bounds;
  TrainingDomain domain;
  for (std::int64_t s : splits[0]) {
    train_bounds.push_back(good[s].bounds);
    domain.add(good[s].shape);
  }
  if (!fixed) mesh::fit_normalization(recipe, train_bounds);

  std::vector<std::int64_t> offsets(samples + 1, 0);
  for (std::int64_t s = 0; s < samples; ++s) offsets[s + 1] = offsets[s] + good[s].points;
  const std::int64_t total = offsets.back();
  std::vector<char> in_train(samples, 0);
  for (std::int64_t s : splits[0]) in_train[s] = 1;

  std::vector<std::string> target_names;
  for (std::size_t k = 0; k < opt.targets.size(); ++k)
    for (auto& n : component_names(opt.targets[k], target_comps[k])) target_names.push_back(n);
  const std::int64_t T = std::int64_t(target_names.size());

  write_atomically(opt.output, [&](const std::filesystem::path& tmp) {
    h5::Handle file = h5::create_file(tmp);
    std::vector<std::string> feature_names;
    std::int64_t F = -1;
    std::vector<double> fmean, fstd;
    ChannelStats tstats(T);
    std::unique_ptr<ChannelStats> fstats;
    Progress progress(samples, "computing features", "meshes");
    // One mesh per thread: read, features and the finiteness checks in parallel; the rows are
    // written and the statistics accumulated in sample order, so the file does not depend on the
    // thread count.
    struct Pass2 {
      mesh::FeatureMatrix x, y;
      std::vector<std::string> names;
      std::int64_t points = 0;
      mesh::Points positions;
    };
    ordered_parallel<Pass2>(
        samples, threads,
        [&](std::int64_t s) {
          const std::string source = good[s].path.string();
          mesh::Mesh m = read(good[s].path);
          FLARE_INPUT_CHECK(m.num_points() == good[s].points, source,
                            ": the file changed while the dataset was being built");
          Pass2 r;
          r.x = mesh::compute_features(m, recipe, &r.names, source);
          r.y = target_rows(m, opt.targets);
          FLARE_CHECK(r.y.cols() == T, source, ": ", r.y.cols(), " target columns, expected ", T);
          // Pass 1 checked the arrays; a feature can still overflow float32 only after the fitted
          // normalisation (a coordinate far outside the train split's bounds). Not skippable
          // here: the sample's rows are already laid out.
          for (const auto& [rows, columns, kind] :
               {std::tuple(&r.x, &r.names, "feature"), std::tuple(&r.y, &target_names, "target")}) {
            const mesh::NonFinite bad = mesh::find_non_finite(*rows);
            FLARE_INPUT_CHECK(bad.count == 0, source, " (sample ", s, "): non-finite ", kind, " ",
                              bad.describe(*columns),
                              " (coordinates far outside the train split's? fix or remove the file)");
          }
          r.points = m.num_points();
          r.positions = std::move(m.points);
          return r;
        },
        [&](std::int64_t s, auto get) {
          const Pass2& r = get();
          if (F < 0) {
            F = r.x.cols();
            feature_names = r.names;
            fstats = std::make_unique<ChannelStats>(F);
            h5::create_dataset<float>(file, "features", {total, F});
            h5::create_dataset<float>(file, "targets", {total, T});
            h5::create_dataset<double>(file, "points", {total, 3});
          }
          h5::write_rows(file.id(), "features", offsets[s], r.x.rows(), r.x.data());
          h5::write_rows(file.id(), "targets", offsets[s], r.y.rows(), r.y.data());
          h5::write_rows(file.id(), "points", offsets[s], r.points, r.positions.data());
          if (in_train[s]) {
            fstats->add(r.x);
            tstats.add(r.y);
          }
          progress.advance();
        });
    progress.finish();

    h5::write_dataset(file.id(), "offsets", offsets.data(), {samples + 1});
    h5::Handle split_group = h5::create_group(file, "split");
    for (int k = 0; k < 3; ++k)
      h5::write_dataset(split_group.id(), kSplitNames[k], splits[k].data(),
                        {std::int64_t(splits[k].size())});
    if (recipe.version >= 2) {
      for (const auto& [a, b] : recipe.plane_symmetry(feature_names).pairs) fstats->share(a, b);
      for (const auto& [a, b] : mesh::arrays_symmetry(opt.targets, target_comps).pairs)
        tstats.share(a, b);
    }
    h5::Handle stats = h5::create_group(file, "stats");
    const auto fs = fstats->stddev(), ts = tstats.stddev();
    h5::write_dataset(stats.id(), "feature_mean", fstats->mean.data(), {F});
    h5::write_dataset(stats.id(), "feature_std", fs.data(), {F});
    h5::write_dataset(stats.id(), "target_mean", tstats.mean.data(), {T});
    h5::write_dataset(stats.id(), "target_std", ts.data(), {T});

    std::vector<std::string> sources, families;
    for (const auto& g : good) {
      sources.push_back(g.path.string());
      families.push_back(g.family);
    }
    nlohmann::json skipped = nlohmann::json::array();
    for (const auto& [f, why] : result.skipped) skipped.push_back({{"file", f}, {"reason", why}});
    h5::write_attr(file, "format", std::string(kDatasetFormat));
    h5::write_attr(file, "version", kDatasetVersion);
    h5::write_attr_json(file, "feature_recipe", recipe.to_json());
    h5::write_attr_json(file, "feature_names", feature_names);
    h5::write_attr_json(file, "target_arrays", opt.targets);
    h5::write_attr_json(file, "target_components", target_comps);
    h5::write_attr_json(file, "target_names", target_names);
    h5::write_attr_json(file, "sources", sources);
    h5::write_attr_json(file, "families", families);
    h5::write_attr_json(file, "training_domain", domain.to_json());
    h5::write_attr_json(file, "skipped", skipped);
    h5::write_attr_json(file, "provenance", {{"tool", "flare-surrogate"},
                                             {"tool_version", opt.tool_version},
                                             {"command_line", opt.command_line},
                                             {"date", utc_now()},
                                             {"seed", opt.seed},
                                             {"split", assigned ? nlohmann::json("manifest")
                                                                : nlohmann::json(opt.split)}});
    result.feature_names = feature_names;
  });

  result.samples = samples;
  result.points = total;
  for (int k = 0; k < 3; ++k) result.split_sizes[k] = std::int64_t(splits[k].size());
  result.target_names = target_names;
  return result;
}

// ---- reader ------------------------------------------------------------------------------------

Dataset::Dataset(const std::filesystem::path& path) : m_path(path) {
  const std::string src = path.string();
  m_file = h5::open_file(path);
  FLARE_INPUT_CHECK(h5::has_attr(m_file, "format") &&
                        h5::read_attr_string(m_file, "format") == kDatasetFormat,
                    src, ": not a flare-surrogate dataset (no format = \"", kDatasetFormat,
                    "\" attribute); build one with 'flare-surrogate dataset build'");
  const std::int64_t version = h5::read_attr_int(m_file, "version");
  FLARE_INPUT_CHECK(version == kDatasetVersion, src, ": dataset version ", version,
                    " is not supported (this build reads version ", kDatasetVersion,
                    "); rebuild it with 'flare-surrogate dataset build'");
  m_recipe = mesh::FeatureRecipe::from_json(h5::read_attr_json(m_file, "feature_recipe"), src);
  try {
    m_feature_names = h5::read_attr_json(m_file, "feature_names").get<std::vector<std::string>>();
    m_target_names = h5::read_attr_json(m_file, "target_names").get<std::vector<std::string>>();
    m_target_arrays = h5::read_attr_json(m_file, "target_arrays").get<std::vector<std::string>>();
    m_target_components = h5::read_attr_json(m_file, "target_components").get<std::vector<int>>();
    m_sources = h5::read_attr_json(m_file, "sources").get<std::vector<std::string>>();
    if (h5::has_attr(m_file, "families"))
      m_families = h5::read_attr_json(m_file, "families").get<std::vector<std::string>>();
    if (h5::has_attr(m_file, "training_domain")) {
      m_training_domain = h5::read_attr_json(m_file, "training_domain");
      TrainingDomain::from_json(m_training_domain, src);  // validates
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(detail::concat(src, ": damaged dataset metadata (", e.what(), ")"));
  }
  m_offsets = h5::read_dataset<std::int64_t>(m_file, "offsets");
  FLARE_INPUT_CHECK(m_offsets.size() >= 2 && m_offsets.front() == 0, src,
                    ": damaged dataset (offsets must start at 0 and list at least one sample)");
  for (std::size_t i = 1; i < m_offsets.size(); ++i)
    FLARE_INPUT_CHECK(m_offsets[i] >= m_offsets[i - 1], src, ": damaged dataset (offsets decrease at ", i, ")");
  FLARE_INPUT_CHECK(std::int64_t(m_sources.size()) == num_samples(), src,
                    ": damaged dataset (", m_sources.size(), " sources for ", num_samples(), " samples)");
  if (m_families.empty()) m_families.assign(m_sources.size(), std::string());
  FLARE_INPUT_CHECK(m_families.size() == m_sources.size(), src, ": damaged dataset (",
                    m_families.size(), " families for ", num_samples(), " samples)");
  const auto check_shape = [&](const char* name, std::int64_t cols) {
    const auto shape = h5::dataset_shape(m_file, name);
    FLARE_INPUT_CHECK(shape.size() == 2 && shape[0] == m_offsets.back() && shape[1] == cols, src,
                      ": damaged dataset ('", name, "' does not have ", m_offsets.back(), " rows of ",
                      cols, ")");
  };
  check_shape("features", num_features());
  check_shape("targets", num_targets());
  check_shape("points", 3);
  for (int k = 0; k < 3; ++k) {
    m_splits[k] = h5::read_dataset<std::int64_t>(m_file, std::string("split/") + kSplitNames[k]);
    for (std::int64_t s : m_splits[k])
      FLARE_INPUT_CHECK(s >= 0 && s < num_samples(), src, ": damaged dataset (split '",
                        kSplitNames[k], "' lists sample ", s, " of ", num_samples(), ")");
  }
  const auto read_vec = [&](const char* name, std::int64_t n) {
    std::vector<double> v(n);
    h5::read_dataset(m_file, std::string("stats/") + name, v.data(), n);
    return v;
  };
  m_feature_mean = read_vec("feature_mean", num_features());
  m_feature_std = read_vec("feature_std", num_features());
  m_target_mean = read_vec("target_mean", num_targets());
  m_target_std = read_vec("target_std", num_targets());
  const std::string fix = "the file is damaged; rebuild it with 'flare-surrogate dataset build'";
  check_statistics(m_feature_names, m_feature_mean, m_feature_std, "feature", src, fix);
  check_statistics(m_target_names, m_target_mean, m_target_std, "target", src, fix);
}

const std::vector<std::int64_t>& Dataset::split(const std::string& name) const {
  for (int k = 0; k < 3; ++k)
    if (name == kSplitNames[k]) return m_splits[k];
  throw InputError(detail::concat("unknown split '", name, "' (use train, val or test)"));
}

void Dataset::check_sample(std::int64_t sample) const {
  FLARE_CHECK(sample >= 0 && sample < num_samples(), "sample ", sample, " out of range [0, ",
              num_samples(), ") in ", m_path.string());
}

std::int64_t Dataset::num_points(std::int64_t sample) const {
  check_sample(sample);
  return m_offsets[sample + 1] - m_offsets[sample];
}

void Dataset::check_finite(std::int64_t sample, const mesh::FeatureMatrix& rows,
                           const std::vector<std::string>& columns, const char* kind) const {
  const mesh::NonFinite bad = mesh::find_non_finite(rows);
  FLARE_INPUT_CHECK(bad.count == 0, m_path.string(), ": sample ", sample, " (", m_sources[sample],
                    ") has a non-finite ", kind, ": ", bad.describe(columns),
                    "; the file is damaged: rebuild it from the solved meshes with "
                    "'flare-surrogate dataset build'");
}

mesh::FeatureMatrix Dataset::features(std::int64_t sample) const {
  mesh::FeatureMatrix x(num_points(sample), num_features());
  h5::read_rows(m_file.id(), "features", m_offsets[sample], x.rows(), x.data());
  check_finite(sample, x, m_feature_names, "feature");
  return x;
}

mesh::FeatureMatrix Dataset::targets(std::int64_t sample) const {
  mesh::FeatureMatrix y(num_points(sample), num_targets());
  h5::read_rows(m_file.id(), "targets", m_offsets[sample], y.rows(), y.data());
  check_finite(sample, y, m_target_names, "target");
  return y;
}

mesh::Points Dataset::points(std::int64_t sample) const {
  mesh::Points p(num_points(sample), 3);
  h5::read_rows(m_file.id(), "points", m_offsets[sample], p.rows(), p.data());
  return p;
}

}  // namespace flare::surrogate
