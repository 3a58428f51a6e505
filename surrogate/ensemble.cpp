#include "surrogate/ensemble.h"

#include <cmath>
#include <sstream>

#include "common/error.h"

namespace flare::surrogate {

nlohmann::json EnsembleInfo::to_json() const {
  return {{"members", members},
          {"sigma_scale", sigma_scale},
          {"score_scale", score_scale},
          {"warn_score", warn_score},
          {"sources", sources},
          {"calibration", calibration}};
}

EnsembleInfo EnsembleInfo::from_json(const nlohmann::json& j, const std::string& source) {
  EnsembleInfo e;
  try {
    e.members = j.at("members").get<int>();
    e.sigma_scale = j.at("sigma_scale").get<double>();
    e.score_scale = j.value("score_scale", 1.0);
    e.warn_score = j.at("warn_score").get<double>();
    e.sources = j.value("sources", std::vector<std::string>{});
    e.calibration = j.value("calibration", nlohmann::json());
  } catch (const nlohmann::json::exception& ex) {
    throw InputError(detail::concat(source, ": damaged ensemble record (", ex.what(),
                                    "); rebuild it with flare-surrogate model ensemble"));
  }
  FLARE_INPUT_CHECK(e.members >= 2 && std::isfinite(e.sigma_scale) && e.sigma_scale > 0 &&
                        std::isfinite(e.score_scale) && e.score_scale > 0 &&
                        std::isfinite(e.warn_score) && e.warn_score > 0,
                    source, ": damaged ensemble record (", e.members, " members, sigma scale ",
                    e.sigma_scale, ", score scale ", e.score_scale, ", warning threshold ", e.warn_score,
                    "); rebuild it with flare-surrogate model ensemble");
  return e;
}

std::string EnsembleInfo::unreliable_reason(double score) const {
  if (!(score > warn_score)) return {};
  std::ostringstream out;
  out.precision(3);
  out << "estimated relative error " << score << " > " << warn_score << " (spread of the "
      << members << " ensemble members, ";
  if (calibrated())
    out << "calibrated on the " << calibration.value("split", std::string("?")) << " split of "
        << calibration.value("data", std::string("?"));
  else
    out << "uncalibrated";
  out << ")";
  return out.str();
}

Checkpoint combine_checkpoints(const std::vector<std::pair<std::string, Checkpoint>>& members,
                               std::vector<std::string>* warnings) {
  FLARE_INPUT_CHECK(members.size() >= 2, "model ensemble: an ensemble needs 2 or more member "
                    "checkpoints, got ", members.size());
  const auto& [first_name, first] = members.front();
  for (const auto& [name, ck] : members) {
    FLARE_INPUT_CHECK(ck.more_members.empty(), name, ": already an ensemble of ", ck.num_members(),
                      " members; combine the single-model checkpoints it was built from");
    FLARE_INPUT_CHECK(!ck.normalizer.is_null() && !ck.feature_recipe.is_null(), name,
                      ": no normalizer or feature recipe, so it cannot predict; use checkpoints "
                      "written by `flare-surrogate train`");
  }
  // A member must see the same inputs, scaled the same way, and predict the same columns: only
  // then is the spread of the members a spread of answers to one question.
  const struct {
    const char* what;
    nlohmann::json Checkpoint::*slot;
  } same[] = {{"feature recipe", &Checkpoint::feature_recipe},
              {"normalisation (the training set's statistics and targets)", &Checkpoint::normalizer},
              {"training domain", &Checkpoint::training_domain}};
  for (std::size_t k = 1; k < members.size(); ++k) {
    const auto& [name, ck] = members[k];
    FLARE_INPUT_CHECK(ck.config == first.config, name, ": model config ",
                      to_json(ck.config).dump(), " differs from ", first_name, "'s ",
                      to_json(first.config).dump(), "; ensemble members must share -C -L -H -M and "
                      "every model option (train them with the same command and another --seed)");
    for (const auto& s : same)
      FLARE_INPUT_CHECK(ck.*s.slot == first.*s.slot, name, ": its ", s.what, " differs from ",
                        first_name, "'s; ensemble members must be trained on the same dataset "
                        "(the same command with another --seed)");
  }
  Checkpoint out;
  out.config = first.config;
  out.params = first.params;
  out.normalizer = first.normalizer;
  out.feature_recipe = first.feature_recipe;
  out.training = first.training;
  out.training_domain = first.training_domain;
  EnsembleInfo info;
  info.members = int(members.size());
  for (std::size_t k = 0; k < members.size(); ++k) {
    info.sources.push_back(members[k].first);
    if (k > 0) out.more_members.push_back(members[k].second.params);
    for (std::size_t j = 0; j < k && warnings; ++j)
      if (members[k].second.params == members[j].second.params)
        warnings->push_back(detail::concat(members[k].first, " has the same weights as ",
                                           members[j].first, ": it adds no spread (train members "
                                           "with different --seed)"));
  }
  out.ensemble = info.to_json();
  return out;
}

}  // namespace flare::surrogate
