// --precision on train, predict, eval and bench model: bf16 needs --device cuda (an InputError,
// exit 2, that says so and names the fix, before any file is read), and only fp32/bf16 exist.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/cli.h"

namespace {
flare::test::CommandResult run(const std::string& args) { return flare::test::run_cli(args); }

void expect_needs_cuda(const std::string& args) {
  const auto r = run(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
  EXPECT_NE(r.out.find("--precision bf16 needs --device cuda"), std::string::npos) << args << "\n"
                                                                                   << r.out;
}
}  // namespace

TEST(PrecisionCli, Bf16OnTheCpuIsAnInputErrorForEveryCommand) {
  // The files do not exist: the precision is checked first, so the message is about it.
  expect_needs_cuda("train --data missing.h5 -o out.h5 --precision bf16");
  expect_needs_cuda("train --data missing.h5 -o out.h5 --precision bf16 --device cpu");
  expect_needs_cuda("predict missing.vtu -m missing.h5 --precision bf16");
  expect_needs_cuda("eval -m missing.h5 --data missing.h5 --precision bf16 --device cpu");
  expect_needs_cuda("bench model -n 10 --precision bf16");
}

TEST(PrecisionCli, UnknownPrecisionIsAnInputError) {
  for (const char* args :
       {"bench model -n 10 --precision fp16", "train --data missing.h5 -o out.h5 --precision half",
        "predict missing.vtu -m missing.h5 --precision fp64"}) {
    const auto r = run(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("--precision must be fp32 or bf16"), std::string::npos) << r.out;
  }
}

TEST(PrecisionCli, Fp32IsTheDefaultAndIsAccepted) {
  const auto r =
      run("bench model -n 200 --channels 16 --heads 2 --latents 4 --blocks 1 --warmup 0 "
          "-r 1 --inference-only --precision fp32");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("inference forward"), std::string::npos) << r.out;
}
