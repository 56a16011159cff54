//===- Train.cpp - cnnrun train and cnnrun eval ---------------------------===//
//
// train: reads DIR/train-{images-idx3,labels-idx1}-ubyte[.gz] and
// DIR/t10k-* (IDX, gzipped or plain; pixels / 255), initializes the
// parameters from --seed (or loads --weights, or resumes a checkpoint at an
// epoch boundary), then per epoch shuffles with (seed, epoch), runs one train
// step per batch (the last partial batch included) at the learning rate of
// the schedule, evaluates on the test set and writes --checkpoint. Defaults
// for epochs, batch and lr come from the model's "train" metadata. A
// progress bar goes to stderr only when it is a terminal; per-epoch lines
// (or, with --json, one JSON object per epoch) go to stdout, and with --log
// one CSV row per epoch to a file (for plotting: python3 -m cnnc.plot). eval: the test
// accuracy (and loss) of a checkpoint or a parameters file; a model without
// training is evaluated by inference and argmax.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "cnnc/model_schema.h"
#include "cnnc/runtime.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>

namespace cnnrun {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// DIR/NAME.gz if it exists, else DIR/NAME.
std::string findFile(const std::string &dir, const std::string &name) {
  struct stat st;
  for (const std::string &p : {dir + "/" + name + ".gz", dir + "/" + name})
    if (stat(p.c_str(), &st) == 0)
      return p;
  throw std::runtime_error("no " + name + "[.gz] in '" + dir + "'");
}

/// The `split` ("train" or "t10k") of an IDX dataset directory.
cnnc::Dataset loadSplit(const std::string &dir, const std::string &split, int64_t limit) {
  if (dir.empty())
    throw std::runtime_error("--data DIR is required (a directory with " + split +
                             "-images-idx3-ubyte[.gz] and " + split + "-labels-idx1-ubyte[.gz])");
  std::string images = findFile(dir, split + "-images-idx3-ubyte");
  std::string labels = findFile(dir, split + "-labels-idx1-ubyte");
  return cnnc::Dataset(images, labels, limit);
}

/// Checks that the model has one input whose items match the dataset's.
void checkInput(const cnnc::Model &model, const cnnc::Dataset &data) {
  std::vector<cnnc::TensorInfo> in = model.inputs();
  if (in.size() != 1 || !in[0].batched)
    throw std::runtime_error("training and evaluation need a model with one batched input");
  if (in[0].itemCount != data.itemCount())
    throw std::runtime_error("the dataset has " + std::to_string(data.itemCount()) +
                             " values per item, the model's input '" + in[0].name + "' expects " +
                             std::to_string(in[0].itemCount));
}

struct Score {
  double loss = NAN; ///< mean loss (NaN when evaluated by inference only)
  double correct = 0;
  int64_t count = 0;
  double accuracy() const { return count ? correct / double(count) : 0; }
};

/// Evaluates the model on all of `data` (in file order) in batches.
Score evaluate(cnnc::Model &model, cnnc::Dataset &data, int64_t batch) {
  data.resetOrder();
  std::vector<float> x(size_t(batch * data.itemCount())), y(static_cast<size_t>(batch));
  bool training = model.hasTraining();
  int64_t classes = training ? 0 : model.outputs().at(0).itemCount;
  std::vector<float> scores(size_t(batch * classes));
  Score s;
  double lossSum = 0;
  for (int64_t b = 0, n = data.numBatches(batch); b < n; ++b) {
    int64_t count = data.getBatch(b, batch, x.data(), y.data());
    if (training) {
      cnnc::StepResult r = model.evaluate(count, {x.data()}, y.data());
      lossSum += double(r.loss) * double(count);
      s.correct += r.correct;
    } else {
      model.run(count, {x.data()}, {scores.data()});
      for (int64_t i = 0; i < count; ++i) {
        const float *row = scores.data() + i * classes;
        int64_t best = 0;
        for (int64_t k = 1; k < classes; ++k)
          if (row[k] > row[best])
            best = k;
        s.correct += double(best) == double(y[size_t(i)]);
      }
    }
    s.count += count;
  }
  if (training && s.count)
    s.loss = lossSum / double(s.count);
  return s;
}

/// The --log file: one CSV row per epoch, flushed as it is written, so a run
/// that is stopped keeps the rows of its finished epochs. A resumed run
/// appends to the file it continues; a new run starts it afresh.
class MetricsLog {
public:
  MetricsLog(const std::string &path, bool append) {
    if (path.empty())
      return;
    struct stat st;
    bool hasRows = append && stat(path.c_str(), &st) == 0 && st.st_size > 0;
    file_ = std::fopen(path.c_str(), hasRows ? "a" : "w");
    if (!file_)
      throw std::runtime_error("cannot write the log '" + path + "': " + std::strerror(errno));
    if (!hasRows)
      std::fputs("epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds\n", file_);
    std::fflush(file_);
  }
  ~MetricsLog() {
    if (file_)
      std::fclose(file_);
  }
  MetricsLog(const MetricsLog &) = delete;
  MetricsLog &operator=(const MetricsLog &) = delete;

  void row(int64_t epoch, double trainLoss, double trainAcc, const Score &test, double lr,
           double seconds) {
    if (!file_)
      return;
    std::fprintf(file_, "%lld,%.9g,%.9g,%.9g,%.9g,%.9g,%.3f\n", (long long)epoch, trainLoss,
                 trainAcc, test.loss, test.accuracy(), lr, seconds);
    std::fflush(file_);
  }

private:
  std::FILE *file_ = nullptr;
};

/// The progress bar on stderr: "epoch 2/5 [#####.....] 812/1875 loss .. acc .. img/s ETA".
void drawProgress(int64_t epoch, int64_t epochs, int64_t done, int64_t total, double loss,
                  double acc, double imagesPerS, double eta) {
  const int width = 24;
  int filled = total ? int(width * done / total) : width;
  std::string bar(size_t(filled), '#');
  bar += std::string(size_t(width - filled), '.');
  long e = long(eta + 0.5);
  std::fprintf(
      stderr,
      "\r\033[Kepoch %lld/%lld [%s] %lld/%lld loss %.4f acc %.2f%% %.0f img/s ETA %ld:%02ld",
      (long long)epoch, (long long)epochs, bar.c_str(), (long long)done, (long long)total, loss,
      100 * acc, imagesPerS, e / 60, e % 60);
  std::fflush(stderr);
}

} // namespace

void train(const Options &o) {
  cnnc::Model model(o.model);
  if (!model.hasTraining())
    throw std::runtime_error("model '" + o.model + "' was compiled without training (add a " +
                             std::string(cnnc::schema::key::kTrain) +
                             ": section to the model file and compile it again)");
  cnnc::TrainInfo info = model.trainInfo();
  int64_t epochs = o.epochs > 0 ? o.epochs : (info.epochs > 0 ? info.epochs : 1);
  int64_t batch = o.batch > 0 ? o.batch : (info.batch > 0 ? info.batch : 32);
  double baseLr = o.lr >= 0 ? o.lr : info.lr;
  cnnc::LrSchedule schedule(o.lrSchedule);
  cnnc::Dataset trainSet = loadSplit(o.data, "train", o.limit);
  cnnc::Dataset testSet = loadSplit(o.data, "t10k", o.testLimit);
  checkInput(model, trainSet);
  checkInput(model, testSet);
  int64_t perEpoch = trainSet.numBatches(batch);

  uint64_t seed = o.seed;
  int64_t firstEpoch = 0;
  if (!o.resume.empty()) {
    model.load(o.resume);
    if (!o.seedGiven)
      seed = model.seed();
    if (model.stepCount() % uint64_t(perEpoch) != 0)
      throw std::runtime_error("checkpoint '" + o.resume + "' is at step " +
                               std::to_string(model.stepCount()) +
                               ", not at an epoch boundary of " + std::to_string(perEpoch) +
                               " batches (use the --batch and --limit it was trained with)");
    firstEpoch = int64_t(model.stepCount() / uint64_t(perEpoch));
  } else {
    model.initParameters(seed);
    if (!o.weights.empty())
      model.loadParameters(o.weights);
    else if (model.hasDefaultParameters())
      model.loadDefaultParameters();
  }

  MetricsLog log(o.log, !o.resume.empty());
  bool bar = isatty(fileno(stderr)) && !o.json;
  std::vector<float> x(size_t(batch * trainSet.itemCount())), y(static_cast<size_t>(batch));
  auto runStart = Clock::now();
  Score test;
  double trainLoss = NAN, trainAcc = 0;
  for (int64_t epoch = firstEpoch; epoch < epochs; ++epoch) {
    auto start = Clock::now(), lastDraw = start;
    trainSet.shuffle(seed, uint64_t(epoch));
    double lossSum = 0, correct = 0, lr = baseLr;
    int64_t seen = 0;
    for (int64_t b = 0; b < perEpoch; ++b) {
      int64_t count = trainSet.getBatch(b, batch, x.data(), y.data());
      lr = schedule.at(baseLr, model.stepCount(), perEpoch, epochs);
      cnnc::StepResult r = model.trainStep(count, {x.data()}, y.data(), float(lr));
      lossSum += double(r.loss) * double(count);
      correct += r.correct;
      seen += count;
      if (bar && (b + 1 == perEpoch || secondsSince(lastDraw) > 0.1)) {
        lastDraw = Clock::now();
        double elapsed = secondsSince(start);
        drawProgress(epoch + 1, epochs, b + 1, perEpoch, lossSum / double(seen),
                     correct / double(seen), elapsed > 0 ? double(seen) / elapsed : 0,
                     elapsed * double(perEpoch - b - 1) / double(b + 1));
      }
    }
    trainLoss = lossSum / double(seen);
    trainAcc = correct / double(seen);
    if (bar)
      std::fputs("\r\033[K", stderr);
    test = evaluate(model, testSet, batch);
    if (!o.checkpoint.empty())
      model.save(o.checkpoint);
    double seconds = secondsSince(start);
    log.row(epoch + 1, trainLoss, trainAcc, test, lr, seconds);
    if (o.json)
      std::printf("{\"epoch\":%lld,\"train_loss\":%.9g,\"train_acc\":%.9g,\"test_acc\":%.9g,"
                  "\"seconds\":%.3f}\n",
                  (long long)(epoch + 1), trainLoss, trainAcc, test.accuracy(), seconds);
    else
      std::printf("epoch %lld/%lld: train loss %.4f, train accuracy %.2f%%, test accuracy "
                  "%.2f%%, %.1f s\n",
                  (long long)(epoch + 1), (long long)epochs, trainLoss, 100 * trainAcc,
                  100 * test.accuracy(), seconds);
    std::fflush(stdout);
  }
  if (o.json)
    return;
  if (firstEpoch >= epochs) {
    std::printf("nothing to train: the checkpoint is already at epoch %lld of %lld\n",
                (long long)firstEpoch, (long long)epochs);
    return;
  }
  std::printf("trained %s (%s, %s loss) for %lld epoch(s), %llu steps of batch %lld in %.1f s: "
              "train loss %.4f, train accuracy %.2f%%, test accuracy %.2f%% on %lld images\n",
              model.name().c_str(), info.optimizer.c_str(), info.loss.c_str(),
              (long long)(epochs - firstEpoch), (unsigned long long)model.stepCount(),
              (long long)batch, secondsSince(runStart), trainLoss, 100 * trainAcc,
              100 * test.accuracy(), (long long)test.count);
  if (!o.checkpoint.empty())
    std::printf("checkpoint: %s\n", o.checkpoint.c_str());
}

void eval(const Options &o) {
  cnnc::Model model(o.model);
  if (!o.checkpoint.empty() && !o.weights.empty())
    throw std::runtime_error("eval takes one of --checkpoint PATH and --weights FILE, not both");
  if (o.checkpoint.empty() && o.weights.empty() && !model.hasDefaultParameters())
    throw std::runtime_error("eval needs --checkpoint PATH or --weights FILE (the model embeds "
                             "no parameter values)");
  if (!o.checkpoint.empty())
    model.load(o.checkpoint);
  else if (!o.weights.empty())
    model.loadParameters(o.weights);
  int64_t batch = o.batch;
  if (batch <= 0)
    batch = model.hasTraining() && model.trainInfo().batch > 0 ? model.trainInfo().batch : 64;
  cnnc::Dataset testSet = loadSplit(o.data, "t10k", o.testLimit);
  checkInput(model, testSet);
  Score s = evaluate(model, testSet, batch);
  if (o.json) {
    std::string loss = std::isnan(s.loss) ? "null" : std::to_string(s.loss);
    std::printf("{\"test_acc\":%.9g,\"test_loss\":%s,\"correct\":%.0f,\"count\":%lld}\n",
                s.accuracy(), loss.c_str(), s.correct, (long long)s.count);
    return;
  }
  std::printf("test accuracy %.2f%% (%.0f/%lld)", 100 * s.accuracy(), s.correct,
              (long long)s.count);
  if (!std::isnan(s.loss))
    std::printf(", loss %.4f", s.loss);
  std::printf("\n");
}

} // namespace cnnrun
