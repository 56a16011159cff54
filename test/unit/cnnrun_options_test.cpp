//===- cnnrun_options_test.cpp - cnnrun's command line ---------------------===//
//
// Tests parseCommandLine (tools/cnnrun/Options.h): `--name value` and
// `--name=value`, every invocation of cnnrun found in the scripts, tests,
// benchmarks and docs parsing as before, repeated options, the generated
// help of the tool and of each command (exit 0, naming exactly that
// command's options), --version, and the text of each kind of usage error
// (exit 1). A few cases also run the cnnrun binary, to check what reaches
// stdout, stderr and the exit status.
//
//===----------------------------------------------------------------------===//
#include "Options.h"
#include "test_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using cnnrun::CommandLine;
using cnnrun::Options;
using cnnrun::parseCommandLine;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

/// The options of a command line that must parse; fails the test otherwise.
Options parsed(const std::vector<std::string> &args) {
  CommandLine c = parseCommandLine(args);
  EXPECT_FALSE(c.exitStatus.has_value()) << c.err << c.out;
  EXPECT_EQ(c.err, "");
  EXPECT_EQ(c.out, "");
  return c.options;
}

/// The error text of a command line that must be rejected with exit status 1.
std::string rejected(const std::vector<std::string> &args) {
  CommandLine c = parseCommandLine(args);
  EXPECT_EQ(c.exitStatus, 1);
  EXPECT_EQ(c.out, "");
  return c.err;
}

TEST(CnnrunOptions, ValueAfterEqualsOrSpace) {
  Options equals = parsed({"bench", "m.so", "--batch=8"});
  EXPECT_EQ(equals.command, "bench");
  EXPECT_EQ(equals.model, "m.so");
  EXPECT_EQ(equals.batch, 8);
  Options space = parsed({"bench", "m.so", "--batch", "8"});
  EXPECT_EQ(space.batch, 8);
  EXPECT_EQ(parsed({"train", "m.so", "--data=/d", "--lr=0.25"}).lr, 0.25);
  EXPECT_EQ(parsed({"train", "m.so", "--data=/d"}).data, "/d");
}

TEST(CnnrunOptions, DefaultsWhenNotGiven) {
  Options o = parsed({"bench", "m.so"});
  EXPECT_EQ(o.batch, 0);
  EXPECT_EQ(o.iters, 20);
  EXPECT_EQ(o.warmup, 3);
  EXPECT_FALSE(o.json);
  EXPECT_FALSE(o.train);
  Options t = parsed({"train", "m.so", "--data", "d"});
  EXPECT_EQ(t.lr, -1);
  EXPECT_EQ(t.lrSchedule, "constant");
  EXPECT_FALSE(t.seedGiven);
  EXPECT_EQ(t.epochs, 0);
}

// The invocations in test/e2e, test/lit, bench/ and the README, as they are written there.
TEST(CnnrunOptions, InvocationsInTheRepositoryParseAsBefore) {
  Options info = parsed({"info", "m.so", "--json"});
  EXPECT_EQ(info.command, "info");
  EXPECT_TRUE(info.json);

  Options run = parsed({"run", "m.so", "--weights", "w.safetensors", "--input", "in0.npy",
                        "--input", "in1.npy", "--output", "out.npy"});
  EXPECT_EQ(run.weights, "w.safetensors");
  EXPECT_EQ(run.inputs, (std::vector<std::string>{"in0.npy", "in1.npy"}));
  EXPECT_EQ(run.outputs, (std::vector<std::string>{"out.npy"}));

  Options bench = parsed(
      {"bench", "m.so", "--batch", "32", "--iters", "50", "--warmup", "1", "--json", "--train"});
  EXPECT_EQ(bench.batch, 32);
  EXPECT_EQ(bench.iters, 50);
  EXPECT_EQ(bench.warmup, 1);
  EXPECT_TRUE(bench.json);
  EXPECT_TRUE(bench.train);
  EXPECT_EQ(parsed({"bench", "m.so", "--batch", "2", "--iters", "1", "--warmup", "0"}).warmup, 0);

  Options train = parsed({"train", "m.so", "--data", "/data", "--epochs", "1", "--limit", "2000",
                          "--test-limit", "500", "--batch", "32", "--seed", "3", "--checkpoint",
                          "ckpt.st", "--json"});
  EXPECT_EQ(train.data, "/data");
  EXPECT_EQ(train.epochs, 1);
  EXPECT_EQ(train.limit, 2000);
  EXPECT_EQ(train.testLimit, 500);
  EXPECT_EQ(train.batch, 32);
  EXPECT_EQ(train.seed, 3u);
  EXPECT_TRUE(train.seedGiven);
  EXPECT_EQ(train.checkpoint, "ckpt.st");
  EXPECT_TRUE(train.json);

  Options resume =
      parsed({"train", "m.so", "--epochs", "2", "--resume", "half.st", "--checkpoint", "resumed.st",
              "--data", "/data", "--limit", "320", "--lr-schedule", "step:1:0.5", "--lr", "0.5"});
  EXPECT_EQ(resume.resume, "half.st");
  EXPECT_EQ(resume.lrSchedule, "step:1:0.5");
  EXPECT_EQ(resume.lr, 0.5);

  Options eval = parsed({"eval", "m.so", "--checkpoint", "c.st", "--data", "/data", "--test-limit",
                         "500", "--json", "--batch", "16"});
  EXPECT_EQ(eval.command, "eval");
  EXPECT_EQ(eval.checkpoint, "c.st");
  EXPECT_EQ(eval.testLimit, 500);
  EXPECT_EQ(eval.batch, 16);
  EXPECT_EQ(parsed({"eval", "m.so", "--weights", "w.st", "--data", "/data"}).weights, "w.st");
}

TEST(CnnrunOptions, RepeatedOptionKeepsTheLastValue) {
  EXPECT_EQ(parsed({"bench", "m.so", "--batch", "4", "--batch=9"}).batch, 9);
  EXPECT_EQ(parsed({"train", "m.so", "--data", "a", "--data", "b"}).data, "b");
}

TEST(CnnrunOptions, ModelMayFollowTheOptions) {
  Options o = parsed({"bench", "--batch", "7", "m.so"});
  EXPECT_EQ(o.model, "m.so");
  EXPECT_EQ(o.batch, 7);
}

TEST(CnnrunOptions, CommandHelpNamesItsOptions) {
  CommandLine train = parseCommandLine({"train", "--help"});
  EXPECT_EQ(train.exitStatus, 0);
  EXPECT_EQ(train.err, "");
  EXPECT_THAT(train.out, HasSubstr("Usage: cnnrun train [OPTIONS] MODEL.so"));
  for (const char *flag : {"--data DIR", "--epochs N", "--batch N", "--lr X", "--lr-schedule S",
                           "--seed N", "--checkpoint PATH", "--resume PATH", "--weights",
                           "--limit N", "--test-limit N", "--json", "--log metrics.csv"})
    EXPECT_THAT(train.out, HasSubstr(flag));
  EXPECT_THAT(train.out, Not(HasSubstr("--iters")));

  CommandLine info = parseCommandLine({"info", "-h"});
  EXPECT_EQ(info.exitStatus, 0);
  EXPECT_THAT(info.out, HasSubstr("--json"));
  EXPECT_THAT(info.out, Not(HasSubstr("--batch")));

  // Help wins over a missing model or required option.
  CommandLine run = parseCommandLine({"run", "--help"});
  EXPECT_EQ(run.exitStatus, 0);
  for (const char *flag : {"--weights", "--input X.npy", "--output Y.npy"})
    EXPECT_THAT(run.out, HasSubstr(flag));
  CommandLine bench = parseCommandLine({"bench", "m.so", "--help"});
  EXPECT_EQ(bench.exitStatus, 0);
  for (const char *flag : {"--batch N", "--iters N", "--warmup N", "--train", "--weights"})
    EXPECT_THAT(bench.out, HasSubstr(flag));
  CommandLine eval = parseCommandLine({"eval", "--help"});
  EXPECT_EQ(eval.exitStatus, 0);
  EXPECT_THAT(eval.out, HasSubstr("--checkpoint PATH"));
  EXPECT_THAT(eval.out, Not(HasSubstr("--epochs")));
}

TEST(CnnrunOptions, ToolHelpListsTheCommands) {
  for (const char *flag : {"--help", "-h"}) {
    CommandLine c = parseCommandLine({flag});
    EXPECT_EQ(c.exitStatus, 0);
    for (const char *command : {"info", "run", "bench", "train", "eval"})
      EXPECT_THAT(c.out, HasSubstr(std::string("\n  ") + command + " "));
    EXPECT_THAT(c.out, HasSubstr("--version"));
  }
}

TEST(CnnrunOptions, Version) {
  CommandLine c = parseCommandLine({"--version"});
  EXPECT_EQ(c.exitStatus, 0);
  EXPECT_EQ(c.out, "cnnrun (cnnc) for models of ABI version 5\n");
}

TEST(CnnrunOptions, UnknownOptionIsRejectedWithASuggestion) {
  EXPECT_EQ(rejected({"train", "m.so", "--data", "d", "--epoch", "5"}),
            "cnnrun: error: unknown option '--epoch' for 'train' (did you mean '--epochs'?)\n"
            "Run 'cnnrun train --help' for the options of train.\n");
  // Reported before the required --data it may have been meant to be.
  EXPECT_THAT(rejected({"train", "m.so", "--dta=d"}),
              HasSubstr("unknown option '--dta' for 'train' (did you mean '--data'?)"));
  EXPECT_THAT(rejected({"info", "m.so", "--batch", "8"}),
              HasSubstr("unknown option '--batch' for 'info' (it is an option of bench, train "
                        "and eval)"));
  EXPECT_THAT(rejected({"bench", "m.so", "--frobnicate"}),
              HasSubstr("unknown option '--frobnicate' for 'bench'\n"));
  EXPECT_THAT(rejected({"--json", "info", "m.so"}),
              HasSubstr("unknown option '--json' before the command"));
}

TEST(CnnrunOptions, UnknownOrMissingCommand) {
  EXPECT_EQ(rejected({"trian", "m.so"}),
            "cnnrun: error: unknown command 'trian' (did you mean 'train'?); the commands are "
            "info, run, bench, train and eval\nRun 'cnnrun --help' for usage.\n");
  EXPECT_THAT(rejected({}), HasSubstr("missing command"));
}

TEST(CnnrunOptions, BadValues) {
  EXPECT_THAT(rejected({"bench", "m.so", "--batch", "x"}),
              HasSubstr("cnnrun: error: --batch expects an integer, got 'x'\n"));
  EXPECT_THAT(rejected({"bench", "m.so", "--batch=0"}),
              HasSubstr("--batch must be at least 1, got 0"));
  EXPECT_THAT(rejected({"bench", "m.so", "--warmup", "-1"}),
              HasSubstr("--warmup must be at least 0, got -1"));
  EXPECT_THAT(rejected({"bench", "m.so", "--iters", "010x"}),
              HasSubstr("--iters expects an integer, got '010x'"));
  EXPECT_EQ(parsed({"bench", "m.so", "--iters", "010"}).iters, 10); // base 10, not octal
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--lr", "-1"}),
              HasSubstr("--lr expects a non-negative number, got '-1'"));
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--lr", "inf"}),
              HasSubstr("--lr expects a non-negative number, got 'inf'"));
  EXPECT_THAT(rejected({"bench", "m.so", "--batch"}), HasSubstr("--batch needs a value"));
}

TEST(CnnrunOptions, DataAndTrainerOptions) {
  Options o = parsed({"train",
                      "m.so",
                      "--data",
                      "d",
                      "--val-split",
                      "0.1",
                      "--mean",
                      "0.485,0.456,0.406",
                      "--std=0.5",
                      "--augment",
                      "crop:4,flip",
                      "--lr-warmup",
                      "100",
                      "--early-stop",
                      "3",
                      "--checkpoint",
                      "c.st",
                      "--checkpoint-every",
                      "50",
                      "--print-every",
                      "10",
                      "--test-limit",
                      "0"});
  EXPECT_EQ(o.valSplit, 0.1);
  EXPECT_EQ(o.preprocessing.mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(o.preprocessing.std, (std::vector<float>{0.5f}));
  EXPECT_EQ(o.preprocessing.cropPadding, 4);
  EXPECT_TRUE(o.preprocessing.flip);
  EXPECT_EQ(o.lrWarmup, 100);
  EXPECT_EQ(o.earlyStop, 3);
  EXPECT_EQ(o.checkpointEvery, 50);
  EXPECT_EQ(o.printEvery, 10);
  EXPECT_EQ(o.testLimit, 0);                                         // 0: no testing
  EXPECT_EQ(parsed({"train", "m.so", "--data", "d"}).testLimit, -1); // all
  EXPECT_EQ(
      parsed({"eval", "m.so", "--data", "d", "--mean", "0.5", "--std", "2"}).preprocessing.std,
      (std::vector<float>{2.0f}));
}

TEST(CnnrunOptions, RunTimeOptimizerSettings) {
  Options o = parsed({"train", "m.so", "--data", "d", "--optimizer=adamw", "--weight-decay", "0.05",
                      "--beta2", "0.99"});
  EXPECT_EQ(o.optimizer, "adamw");
  EXPECT_EQ(o.weightDecay, 0.05);
  EXPECT_EQ(o.beta2, 0.99);
  EXPECT_FALSE(o.momentum.has_value());
  EXPECT_FALSE(o.nesterov.has_value());
  EXPECT_EQ(parsed({"train", "m.so", "--data", "d", "--nesterov"}).nesterov, true);
  EXPECT_EQ(parsed({"train", "m.so", "--data", "d", "--nesterov=false"}).nesterov, false);
  Options r =
      parsed({"train", "m.so", "--data", "d", "--label-smoothing", "0.1", "--clip-grad-norm=1"});
  EXPECT_EQ(r.labelSmoothing, 0.1);
  EXPECT_EQ(r.clipGradNorm, 1.0);
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--optimizer", "rmsprop"}),
              HasSubstr("--optimizer expects sgd, adam or adamw, got 'rmsprop'"));
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--momentum", "-0.1"}),
              HasSubstr("--momentum expects a non-negative number, got '-0.1'"));
}

TEST(CnnrunOptions, BadDataAndTrainerValues) {
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--val-split", "1"}),
              HasSubstr("--val-split expects a fraction between 0 and 1, e.g. 0.1, got '1'"));
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--augment", "rotate:3"}),
              HasSubstr("--augment: unknown augmentation 'rotate:3' (expected crop:P, flip, or "
                        "both: crop:4,flip)"));
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--augment", "crop:x"}),
              HasSubstr("'crop:x' expects crop:P with a padding P of 0 to 1024 pixels"));
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--mean", "0.5", "--std", "0"}),
              HasSubstr("--std: '0' is not a positive number"));
  EXPECT_THAT(rejected({"eval", "m.so", "--data", "d", "--test-limit", "0"}),
              HasSubstr("--test-limit must be at least 1, got 0"));
}

TEST(CnnrunOptions, OptionsWithoutEffectAreErrors) {
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--mean", "0.5"}),
              HasSubstr("cnnrun: error: --mean needs --std"));
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--checkpoint-every", "5"}),
              HasSubstr("--checkpoint-every needs --checkpoint PATH"));
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--print-every", "5", "--json"}),
              HasSubstr("--print-every does nothing with --json"));
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--resume", "c.st", "--weights", "w"}),
              HasSubstr("--weights does nothing with --resume"));
  EXPECT_THAT(rejected({"eval", "m.so", "--data", "d", "--strip-prefix", "module."}),
              HasSubstr("--strip-prefix applies to --weights"));
  EXPECT_EQ(parsed({"run", "m.so", "--weights", "w", "--strip-prefix=module."}).stripPrefix,
            "module.");
  EXPECT_THAT(rejected({"train", "m.so", "--data", "d", "--val-spilt", "0.1"}),
              HasSubstr("unknown option '--val-spilt' for 'train' (did you mean '--val-split'?)"));
}

TEST(CnnrunOptions, MissingOrExtraArguments) {
  EXPECT_THAT(rejected({"info"}), HasSubstr("cnnrun: error: MODEL.so is required\n"
                                            "Run 'cnnrun info --help' for the options of info."));
  EXPECT_THAT(rejected({"train", "m.so"}), HasSubstr("--data is required"));
  EXPECT_THAT(rejected({"info", "m.so", "other.so"}),
              HasSubstr("unexpected argument 'other.so' for 'info'"));
  // One path per --input: a second one is not taken silently.
  EXPECT_THAT(rejected({"run", "m.so", "--weights", "w", "--input", "a.npy", "b.npy"}),
              HasSubstr("unexpected argument 'b.npy' for 'run'"));
}

/// Runs the cnnrun binary; returns the exit status.
int cnnrun(const std::string &args, std::string &out, std::string &err) {
  return cnnc::test::runCommand(std::string(CNNC_CNNRUN) + " " + args, out, &err);
}

TEST(CnnrunBinary, CommandHelpGoesToStdoutWithStatusZero) {
  std::string out, err;
  EXPECT_EQ(cnnrun("train --help", out, err), 0);
  EXPECT_THAT(out, HasSubstr("Usage: cnnrun train [OPTIONS] MODEL.so"));
  EXPECT_THAT(out, HasSubstr("--epochs N"));
  EXPECT_EQ(err, "");
  EXPECT_EQ(cnnrun("--version", out, err), 0);
  EXPECT_THAT(out, HasSubstr("ABI version 5"));
}

TEST(CnnrunBinary, UsageErrorGoesToStderrWithStatusOne) {
  std::string out, err;
  EXPECT_EQ(cnnrun(std::string("bench ") + CNNC_TEST_MODEL + " --batchsize 8", out, err), 1);
  EXPECT_EQ(out, "");
  EXPECT_THAT(err, HasSubstr("cnnrun: error: unknown option '--batchsize' for 'bench' (did you "
                             "mean '--batch'?)"));
  EXPECT_EQ(
      cnnrun(std::string("bench ") + CNNC_TEST_MODEL + " --batch=3 --iters=1 --json", out, err), 0)
      << err;
  EXPECT_THAT(out, HasSubstr("\"batch\":3,\"iters\":1"));
}

} // namespace
