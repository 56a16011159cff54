//===- cnnrun_train_test.cpp - `cnnrun train` and `cnnrun eval` end to end ===//
//
// Runs the cnnrun binary (path from CMake) on the training test model and a
// toy IDX dataset written here (train split gzipped, test split plain):
// --json prints one parseable object per epoch with the documented keys and
// nothing else on stdout; training reaches full accuracy on separable data;
// resuming from an epoch-boundary checkpoint reproduces the uninterrupted
// run's next epoch exactly; `cnnrun eval` reports the checkpoint's test
// accuracy (and a parameters file's); bad usage gives clear errors;
// unwritable outputs are refused before the first step and huge batch
// sizes before anything is allocated.
//
//===----------------------------------------------------------------------===//
#include "test_util.h"

#include <sys/stat.h>

#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <iterator>
#include <nlohmann/json.hpp>

using namespace cnnc::test;
using Json = nlohmann::ordered_json;
using ::testing::HasSubstr;

namespace {

/// Runs `cnnrun ARGS`; returns the exit status.
int cnnrun(const std::string &args, std::string &out, std::string *err = nullptr) {
  return runCommand(std::string(CNNC_CNNRUN) + " " + args, out, err);
}

std::vector<std::string> lines(const std::string &text) {
  std::vector<std::string> result;
  size_t start = 0, end;
  while ((end = text.find('\n', start)) != std::string::npos) {
    result.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return result;
}

/// The fields of an epoch line, "seconds" dropped (it is the only non-deterministic one).
std::string withoutSeconds(const std::string &line) {
  return line.substr(0, line.find(",\"seconds\""));
}

class CnnrunTrain : public ::testing::Test {
protected:
  void SetUp() override { writeToyIdxDataset(dir, 30, 12); }
  std::string model = CNNC_TEST_TRAIN_MODEL;
  TempDir dir;
};

TEST_F(CnnrunTrain, JsonLinesPerEpoch) {
  std::string out, err;
  std::string ckpt = dir.file("ckpt.safetensors");
  ASSERT_EQ(cnnrun("train " + model + " --data " + dir.path() +
                       " --epochs 3 --batch 4 --lr 0.5 --json --checkpoint " + ckpt,
                   out, &err),
            0)
      << err;
  std::vector<std::string> ls = lines(out);
  ASSERT_EQ(ls.size(), 3u) << out;
  for (size_t e = 0; e < ls.size(); ++e) {
    Json v = Json::parse(ls[e]);
    ASSERT_TRUE(v.is_object()) << ls[e];
    std::vector<std::string> keys;
    for (const auto &member : v.items()) {
      keys.push_back(member.key());
      // No validation set: its loss and accuracy are null.
      EXPECT_EQ(member.value().is_null(), member.key().rfind("val_", 0) == 0) << member.key();
      EXPECT_TRUE(member.value().is_number() || member.value().is_null()) << member.key();
    }
    EXPECT_EQ(keys, (std::vector<std::string>{"epoch", "step", "train_loss", "train_acc",
                                              "val_loss", "val_acc", "test_loss", "test_acc", "lr",
                                              "seconds", "data_wait_seconds"}));
    EXPECT_EQ(v["epoch"], int64_t(e + 1));
  }
  EXPECT_EQ(Json::parse(ls[2])["test_acc"], 1.0);
  EXPECT_EQ(err, ""); // stderr is not a terminal: no progress bar

  // cnnrun eval on the checkpoint reports the last epoch's test accuracy.
  ASSERT_EQ(cnnrun("eval " + model + " --checkpoint " + ckpt + " --data " + dir.path() + " --json",
                   out, &err),
            0)
      << err;
  Json v = Json::parse(out);
  EXPECT_EQ(v["test_acc"], 1.0);
  EXPECT_EQ(v["count"], 12);
  EXPECT_TRUE(v["test_loss"].is_number());
  ASSERT_EQ(cnnrun("eval " + model + " --checkpoint " + ckpt + " --data " + dir.path(), out), 0);
  EXPECT_THAT(out, HasSubstr("test accuracy 100.00% (12/12), loss "));
}

TEST_F(CnnrunTrain, ResumeReproducesTheUninterruptedRun) {
  std::string full, first, resumed, err;
  std::string ckpt = dir.file("ckpt.safetensors");
  std::string common = "train " + model + " --data " + dir.path() +
                       " --batch 4 --seed 9 --lr-schedule step:1:0.5 --json ";
  ASSERT_EQ(cnnrun(common + "--epochs 3", full, &err), 0) << err;
  ASSERT_EQ(cnnrun(common + "--epochs 1 --checkpoint " + ckpt, first, &err), 0) << err;
  ASSERT_EQ(cnnrun("train " + model + " --data " + dir.path() +
                       " --batch 4 --lr-schedule step:1:0.5 --json --epochs 3 --resume " + ckpt,
                   resumed, &err),
            0)
      << err; // the seed comes from the checkpoint
  std::vector<std::string> f = lines(full), a = lines(first), r = lines(resumed);
  ASSERT_EQ(f.size(), 3u);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(withoutSeconds(a[0]), withoutSeconds(f[0]));
  EXPECT_EQ(withoutSeconds(r[0]), withoutSeconds(f[1]));
  EXPECT_EQ(withoutSeconds(r[1]), withoutSeconds(f[2]));
}

TEST_F(CnnrunTrain, LogHasOneRowPerEpochAndResumeAppends) {
  std::string out, err;
  std::string log = dir.file("metrics.csv"), ckpt = dir.file("log_ckpt.safetensors");
  std::string common = "train " + model + " --data " + dir.path() + " --batch 4 --log " + log;
  ASSERT_EQ(cnnrun(common + " --epochs 1 --checkpoint " + ckpt, out, &err), 0) << err;
  ASSERT_EQ(cnnrun(common + " --epochs 3 --lr-schedule step:1:0.5 --resume " + ckpt, out, &err), 0)
      << err;
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> rows = lines(text);
  ASSERT_EQ(rows.size(), 4u) << text;
  EXPECT_EQ(rows[0], "epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds,"
                     "val_loss,val_accuracy");
  EXPECT_EQ(rows[1].rfind("1,", 0), 0u) << rows[1];
  EXPECT_EQ(rows[3].rfind("3,", 0), 0u) << rows[3];
  // The rate of the last step of epoch 3 under step:1:0.5 from 0.5 is 0.125.
  EXPECT_THAT(rows[3], HasSubstr(",0.125,")) << rows[3];
  // A new run (no --resume) starts the file afresh; an unwritable path fails before training.
  ASSERT_EQ(cnnrun(common + " --epochs 1", out, &err), 0) << err;
  std::ifstream again(log);
  std::string fresh((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
  EXPECT_EQ(lines(fresh).size(), 2u) << fresh;
  EXPECT_EQ(
      cnnrun("train " + model + " --data " + dir.path() + " --log " + dir.path() + "/missing/m.csv",
             out, &err),
      1);
  EXPECT_THAT(err, HasSubstr("cannot write the log '" + dir.path() + "/missing/m.csv'"));
}

TEST_F(CnnrunTrain, TextOutputAndDefaults) {
  std::string out, err;
  // Defaults from the metadata: 3 epochs of batch 4 at lr 0.5.
  ASSERT_EQ(cnnrun("train " + model + " --data " + dir.path() + " --limit 9", out, &err), 0) << err;
  std::vector<std::string> ls = lines(out);
  ASSERT_EQ(ls.size(), 6u) << out;
  EXPECT_EQ(ls[0], "data: IDX in " + dir.path() + ": 9 training, 12 test items; 1x2x2");
  EXPECT_THAT(ls[1], HasSubstr("optimizer: sgd (momentum "));
  EXPECT_THAT(ls[1], HasSubstr("learning rate 0.5"));
  EXPECT_THAT(ls[2], HasSubstr("epoch 1/3: train loss "));
  EXPECT_THAT(ls[2], HasSubstr("; test loss "));
  EXPECT_THAT(ls[5], HasSubstr("for 3 epoch(s), 9 steps of batch 4"));
}

TEST_F(CnnrunTrain, EvalOfParametersFileAndErrors) {
  std::string out, err;
  EXPECT_EQ(cnnrun("train " + model + " --data " + dir.path() + "/missing", out, &err), 1);
  EXPECT_THAT(err, HasSubstr("cnnrun: error: --data '" + dir.path() +
                             "/missing' is not a directory (the layouts --data may have: cnnrun "
                             "train --help)"));
  EXPECT_EQ(cnnrun("train " + std::string(CNNC_TEST_MODEL) + " --data " + dir.path(), out, &err),
            1);
  EXPECT_THAT(err, HasSubstr("was compiled without training"));
  EXPECT_EQ(cnnrun("train " + model + " --data " + dir.path() + " --lr-schedule linear", out, &err),
            1);
  EXPECT_THAT(err, HasSubstr("unknown learning-rate schedule 'linear'"));
  EXPECT_EQ(cnnrun("eval " + model + " --data " + dir.path(), out, &err), 1);
  EXPECT_THAT(err, HasSubstr("eval needs --checkpoint PATH or --weights FILE (the model embeds "
                             "no parameter values)"));
  std::string weights = dir.file("w.safetensors");
  writeFile(weights, makeSafetensors({{"fc.weight", "F32", "[3,4]", floatBytes(testWeight())},
                                      {"fc.bias", "F32", "[3]", floatBytes(testBias())}}));
  EXPECT_EQ(
      cnnrun("eval " + model + " --checkpoint " + weights + " --data " + dir.path(), out, &err), 1);
  EXPECT_THAT(err, HasSubstr("is not a cnnc checkpoint"));
  ASSERT_EQ(cnnrun("eval " + model + " --weights " + weights + " --data " + dir.path() + " --json",
                   out, &err),
            0)
      << err;
  EXPECT_EQ(Json::parse(out)["count"], 12);
}

} // namespace

namespace {

// What a run writes is checked before anything is trained: a write-protected
// checkpoint (refused for root too), a directory that does not exist, a log
// that is a directory. Nothing is written and no epoch line is printed.
TEST_F(CnnrunTrain, UnwritableOutputsAreRefusedBeforeTheFirstStep) {
  std::string out, err;
  std::string ckpt = dir.file("ro.safetensors");
  writeFile(ckpt, "old");
  ASSERT_EQ(chmod(ckpt.c_str(), 0444), 0);
  std::string common = "train " + model + " --data " + dir.path() + " --epochs 1 --batch 4";
  EXPECT_EQ(cnnrun(common + " --checkpoint " + ckpt, out, &err), 1);
  EXPECT_THAT(err, HasSubstr("cannot replace the checkpoint '" + ckpt +
                             "': the file is write-protected (mode 0444)"));
  EXPECT_EQ(out, "");
  EXPECT_EQ(cnnrun(common + " --checkpoint " + dir.file("none/c.safetensors"), out, &err), 1);
  EXPECT_THAT(err, HasSubstr("cannot write the checkpoint '" + dir.file("none/c.safetensors") +
                             "': cannot create a file in '" + dir.file("none") +
                             "': No such file or directory"));
  EXPECT_EQ(out, "");
  EXPECT_EQ(cnnrun(common + " --log " + dir.path(), out, &err), 1);
  EXPECT_THAT(err, HasSubstr("cannot write the log '" + dir.path() + "': it is a directory"));
  std::ifstream in(ckpt);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "old");
}

// Batch sizes are checked up front: a product that overflows, or inputs and
// outputs larger than the machine's memory, is named instead of ending in a
// bare std::bad_alloc; a batch larger than the data is one batch of it all.
TEST_F(CnnrunTrain, HugeBatchSizes) {
  std::string out, err;
  EXPECT_EQ(cnnrun("bench " + model + " --batch 9223372036854775807 --iters 1", out, &err), 1);
  EXPECT_THAT(err,
              HasSubstr("--batch 9223372036854775807 is too large: 'input' (4 values per item) "
                        "would hold more than 2^63 bytes"));
  EXPECT_EQ(cnnrun("bench " + model + " --batch 1000000000000000 --iters 1", out, &err), 1);
  EXPECT_THAT(err, HasSubstr("--batch 1000000000000000 is too large: the inputs and outputs "
                             "alone need "));
  EXPECT_THAT(err, HasSubstr("of memory this machine has"));
  EXPECT_THAT(err, ::testing::Not(HasSubstr("bad_alloc")));
  ASSERT_EQ(cnnrun("train " + model + " --data " + dir.path() +
                       " --epochs 1 --batch 9223372036854775807 --json",
                   out, &err),
            0)
      << err;
  EXPECT_EQ(Json::parse(lines(out).at(0))["step"], 1);
}

} // namespace
