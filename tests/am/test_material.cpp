#include <gtest/gtest.h>

#include "am/material.h"
#include "common/error.h"

using namespace flare::am;

TEST(Material, EveryNamedMaterialIsPhysical) {
  for (const std::string& name : material_names()) {
    Material m = material_by_name(name);
    EXPECT_EQ(m.name, name);
    EXPECT_GT(m.youngs_modulus, 1e9) << name;
    EXPECT_GT(m.poisson_ratio, 0.0) << name;
    EXPECT_LT(m.poisson_ratio, 0.5) << name;
    for (int i = 0; i < 3; ++i) EXPECT_LT(m.inherent_strain[i], 0.0) << name;
  }
  EXPECT_EQ(material_names().size(), 4u);
}

TEST(Material, LookupIsCaseInsensitive) {
  EXPECT_EQ(material_by_name("Ti64").name, "ti64");
  EXPECT_DOUBLE_EQ(material_by_name("ti64").youngs_modulus, 110e9);
  EXPECT_DOUBLE_EQ(material_by_name("IN718").poisson_ratio, 0.29);
}

TEST(Material, UnknownNameListsTheKnownOnes) {
  try {
    material_by_name("steel");
    FAIL() << "no InputError";
  } catch (const flare::InputError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("'steel'"), std::string::npos) << msg;
    for (const std::string& n : material_names()) EXPECT_NE(msg.find(n), std::string::npos) << msg;
  }
}
