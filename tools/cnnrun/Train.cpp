//===- Train.cpp - cnnrun train and cnnrun eval ---------------------------===//
//
// train: reads --data (Data.h: IDX, .npy pairs or image folders), holds out
// a validation set (the data's own, or --val-split), initializes the
// parameters from --seed (or loads --weights, or resumes a checkpoint at any
// step), then per epoch shuffles with (seed, epoch) and runs one train step
// per batch (the last partial batch included), the batches prepared ahead by
// a loader thread (Pipeline.h). The learning rate of each step is the
// schedule's (constant, step, cosine) times a linear warm-up. After each
// epoch the validation set is evaluated (or, without one, the test set);
// the test set once more at the end. Early stopping watches the validation
// loss. Checkpoints are written every --checkpoint-every steps, at each
// epoch's end and when SIGINT or SIGTERM arrives (the run then stops after
// the current step with status 130 or 143); they carry, in their note, what
// a resumed run needs to continue exactly where the interrupted one was.
// Progress: a bar with ETA on a terminal (stderr), else a line every tenth
// of an epoch on stdout; per-epoch lines (or --json objects) on stdout, and
// with --log one CSV row per epoch. eval: the accuracy (and loss) of a
// checkpoint or a parameters file on the test set.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Data.h"
#include "Pipeline.h"

#include "cnnc/model_schema.h"
#include "cnnc/runtime.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <sys/stat.h>
#include <tuple>

namespace cnnrun {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The signal that asked the run to stop (0: none).
std::atomic<int> stopSignal{0};

extern "C" void onStopSignal(int signal) { stopSignal = signal; }

/// Routes SIGINT and SIGTERM to stopSignal while alive; a second signal
/// takes the default action (the handler resets itself).
class StopSignals {
public:
  StopSignals() {
    stopSignal = 0;
    struct sigaction action {};
    action.sa_handler = onStopSignal;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &oldInt_);
    sigaction(SIGTERM, &action, &oldTerm_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &oldInt_, nullptr);
    sigaction(SIGTERM, &oldTerm_, nullptr);
  }
  StopSignals(const StopSignals &) = delete;
  StopSignals &operator=(const StopSignals &) = delete;

private:
  struct sigaction oldInt_ {
  }, oldTerm_{};
};

/// The model's one batched input as an item shape: C×H×W for an image
/// input, or `data` itself for a flat input with as many values; `origin`
/// names the data in messages.
ItemShape modelItemShape(const cnnc::Model &model, const ItemShape &data,
                         const std::string &origin) {
  std::vector<cnnc::TensorInfo> in = model.inputs();
  if (in.size() != 1 || !in[0].batched)
    throw std::runtime_error("training and evaluation need a model with one batched input");
  const std::vector<int64_t> &s = in[0].shape;
  if (s.size() == 4)
    return {s[1], s[2], s[3]};
  if (s.size() == 3)
    return {1, s[1], s[2]};
  if (in[0].itemCount == data.count())
    return data;
  throw std::runtime_error(origin + ": the items are " + data.str() + " = " +
                           std::to_string(data.count()) + " values, the model's input '" +
                           in[0].name + "' expects " + std::to_string(in[0].itemCount) +
                           " (a flat input cannot be resized)");
}

/// Checks that every label is below the model's class count.
void checkLabels(const Dataset &d, int64_t classes) {
  if (classes <= 0)
    return;
  for (int64_t i = 0; i < d.size(); ++i)
    if (d.labels[size_t(i)] >= float(classes))
      throw std::runtime_error(d.origin + ": label " + std::to_string(i) + " is class " +
                               std::to_string(int64_t(d.labels[size_t(i)])) +
                               ", but the model has " + std::to_string(classes) + " classes");
}

struct Score {
  double loss = NAN; ///< mean loss (NaN when evaluated by inference only)
  double correct = 0;
  int64_t count = 0;
  double accuracy() const { return count ? correct / double(count) : NAN; }
};

json jsonNumber(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

/// Evaluates the model on all of `data` (in order) in batches.
Score evaluate(cnnc::Model &model, const Dataset &data, const ItemPipeline &pipeline,
               int64_t batchSize) {
  std::vector<int64_t> order(size_t(data.size()));
  std::iota(order.begin(), order.end(), 0);
  BatchLoader loader(data, pipeline, std::move(order), batchSize, 0, std::nullopt, 0);
  bool training = model.hasTraining();
  int64_t classes = training ? 0 : model.outputs().at(0).itemCount;
  std::vector<float> scores;
  Score s;
  double lossSum = 0;
  Batch batch;
  while (loader.next(batch)) {
    if (training) {
      cnnc::StepResult r = model.evaluate(batch.count, {batch.x.data()}, batch.y.data());
      lossSum += double(r.loss) * double(batch.count);
      s.correct += r.correct;
    } else {
      scores.resize(size_t(batch.count * classes));
      model.run(batch.count, {batch.x.data()}, {scores.data()});
      for (int64_t i = 0; i < batch.count; ++i) {
        const float *row = scores.data() + i * classes;
        int64_t best = std::max_element(row, row + classes) - row;
        s.correct += double(best) == double(batch.y[size_t(i)]);
      }
    }
    s.count += batch.count;
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
      std::fputs("epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds,val_loss,"
                 "val_accuracy\n",
                 file_);
    std::fflush(file_);
  }
  ~MetricsLog() {
    if (file_)
      std::fclose(file_);
  }
  MetricsLog(const MetricsLog &) = delete;
  MetricsLog &operator=(const MetricsLog &) = delete;

  void row(int64_t epoch, double trainLoss, double trainAcc, const Score &test, double lr,
           double seconds, const Score &val) {
    if (!file_)
      return;
    std::fprintf(file_, "%lld,%.9g,%.9g,%.9g,%.9g,%.9g,%.3f,%.9g,%.9g\n", (long long)epoch,
                 trainLoss, trainAcc, test.loss, test.accuracy(), lr, seconds, val.loss,
                 val.accuracy());
    std::fflush(file_);
  }

private:
  std::FILE *file_ = nullptr;
};

/// "m:ss" of a number of seconds.
std::string minutes(double seconds) {
  long s = long(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
  return text;
}

/// Progress within an epoch: the bar on a terminal, lines otherwise.
class Progress {
public:
  Progress(bool bar, bool lines, int64_t printEvery, int64_t epochs, int64_t perEpoch)
      : bar_(bar), lines_(lines), printEvery_(printEvery), epochs_(epochs), perEpoch_(perEpoch) {}

  void startEpoch(int64_t firstBatch) {
    start_ = lastDraw_ = lastLine_ = Clock::now();
    firstBatch_ = firstBatch;
    lastLineBatch_ = firstBatch;
    items_ = 0;
  }

  /// After batch `b` (0-based) of epoch `epoch` (0-based), of `count` items;
  /// `loss` and `acc` are the epoch's running figures.
  void update(int64_t epoch, int64_t b, int64_t count, double loss, double acc) {
    int64_t done = b + 1 - firstBatch_;
    items_ += count;
    double elapsed = secondsSince(start_);
    double rate = elapsed > 0 ? double(items_) / elapsed : 0;
    double eta = done ? elapsed * double(perEpoch_ - b - 1) / double(done) : 0;
    if (bar_ && (b + 1 == perEpoch_ || secondsSince(lastDraw_) > 0.1)) {
      lastDraw_ = Clock::now();
      const int width = 24;
      int filled = int(width * (b + 1) / perEpoch_);
      std::string bar = std::string(size_t(filled), '#') + std::string(size_t(width - filled), '.');
      std::fprintf(stderr,
                   "\r\033[Kepoch %lld/%lld [%s] %lld/%lld loss %.4f acc %.2f%% %.0f img/s ETA %s",
                   (long long)epoch + 1, (long long)epochs_, bar.c_str(), (long long)b + 1,
                   (long long)perEpoch_, loss, 100 * acc, rate, minutes(eta).c_str());
      std::fflush(stderr);
    }
    if (!lines_ || b + 1 == perEpoch_)
      return;
    bool due = printEvery_ > 0 ? (b + 1) % printEvery_ == 0
                               : (b + 1 - lastLineBatch_ >= std::max<int64_t>(1, perEpoch_ / 10) &&
                                  secondsSince(lastLine_) >= 1.0) ||
                                     secondsSince(lastLine_) >= 30.0;
    if (!due)
      return;
    lastLine_ = Clock::now();
    lastLineBatch_ = b + 1;
    std::printf("epoch %lld/%lld step %lld/%lld (%lld%%): loss %.4f, accuracy %.2f%%, %.0f img/s, "
                "ETA %s\n",
                (long long)epoch + 1, (long long)epochs_, (long long)b + 1, (long long)perEpoch_,
                (long long)(100 * (b + 1) / perEpoch_), loss, 100 * acc, rate,
                minutes(eta).c_str());
    std::fflush(stdout);
  }

  void endEpoch() {
    if (bar_)
      std::fputs("\r\033[K", stderr);
  }

private:
  bool bar_, lines_;
  int64_t printEvery_, epochs_, perEpoch_, firstBatch_ = 0, lastLineBatch_ = 0;
  int64_t items_ = 0; ///< trained on since startEpoch (a resumed epoch counts from there)
  Clock::time_point start_, lastDraw_, lastLine_;
};

/// What a checkpoint's note carries for an exact resume: the data the run
/// saw, the sums of its unfinished epoch, and the early-stopping state.
struct TrainerState {
  int64_t batch = 0, trainItems = 0;
  double lossSum = 0, correct = 0;
  int64_t seen = 0;
  double bestValLoss = INFINITY;
  int64_t bestEpoch = 0, badEpochs = 0;

  std::string note() const {
    json j = {{"trainer", "cnnrun"},     {"batch", batch},         {"train_items", trainItems},
              {"loss_sum", lossSum},     {"correct", correct},     {"seen", seen},
              {"best_epoch", bestEpoch}, {"bad_epochs", badEpochs}};
    if (std::isfinite(bestValLoss))
      j["best_val_loss"] = bestValLoss;
    return j.dump();
  }
  /// Reads a note; an absent or foreign one leaves the state as it is.
  void read(const std::string &note) {
    json j = json::parse(note, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || j.value("trainer", "") != "cnnrun")
      return;
    batch = j.value("batch", int64_t(0));
    trainItems = j.value("train_items", int64_t(0));
    lossSum = j.value("loss_sum", 0.0);
    correct = j.value("correct", 0.0);
    seen = j.value("seen", int64_t(0));
    bestValLoss = j.value("best_val_loss", double(INFINITY));
    bestEpoch = j.value("best_epoch", int64_t(0));
    badEpochs = j.value("bad_epochs", int64_t(0));
  }
};

/// The seed of the --val-split selection.
constexpr uint64_t kValidationSeed = 0x7A11DA7E;

/// The splits of --data for training: train, validation (the data's own or
/// --val-split's share of train) and test.
DataSplits trainingData(const Options &o, const ItemShape &modelHint) {
  DataSplits d =
      loadData(o.data, modelHint, Splits::All, o.limit, std::max<int64_t>(o.testLimit, 0));
  if (o.testLimit == 0)
    d.test.reset();
  if (o.valSplit > 0) {
    if (d.val)
      throw std::runtime_error("--val-split: '" + o.data + "' has a validation set of its own (" +
                               d.val->origin + ")");
    int64_t n = d.train.size();
    int64_t held = int64_t(std::llround(o.valSplit * double(n)));
    if (held < 1 || held >= n)
      throw std::runtime_error("--val-split " + std::to_string(o.valSplit) + " of " +
                               std::to_string(n) + " training items leaves " +
                               (held < 1 ? "no validation items" : "no training items"));
    // A fixed random selection, the same for every run and seed: the last items of a
    // dataset are often all of one class (image folders are read class by class).
    std::vector<int64_t> order = epochOrder(n, kValidationSeed, 0);
    std::vector<int64_t> val(order.begin(), order.begin() + held);
    std::vector<int64_t> train(order.begin() + held, order.end());
    std::sort(val.begin(), val.end());
    std::sort(train.begin(), train.end());
    d.val = d.train.subset(val, d.train.origin + " (" + std::to_string(held) + " held out)");
    d.train = d.train.subset(train, d.train.origin);
  }
  return d;
}

/// The learning rate of 0-based step `step`: the schedule's, times the
/// linear warm-up factor (step + 1) / warmup during the first warmup steps.
double learningRate(const Options &o, const cnnc::LrSchedule &schedule, double baseLr,
                    uint64_t step, int64_t perEpoch, int64_t epochs) {
  double lr = schedule.at(baseLr, step, perEpoch, epochs);
  if (o.lrWarmup > 0 && step < uint64_t(o.lrWarmup))
    lr *= double(step + 1) / double(o.lrWarmup);
  return lr;
}

/// The optimizer the command line asks for, from the model's current one:
/// a different --optimizer starts from that optimizer's defaults (as a new
/// torch.optim optimizer would), then each given setting replaces its value.
cnnc::OptimizerSettings requestedOptimizer(const Options &o, cnnc::OptimizerSettings s) {
  if (o.optimizer && *o.optimizer != s.name) {
    s = cnnc::OptimizerSettings{};
    s.name = *o.optimizer;
    if (s.name == "adamw")
      s.weightDecay = 0.01;
  }
  auto set = [](auto &field, const auto &given) {
    if (given)
      field = *given;
  };
  set(s.momentum, o.momentum);
  set(s.dampening, o.dampening);
  set(s.weightDecay, o.weightDecay);
  set(s.nesterov, o.nesterov);
  set(s.beta1, o.beta1);
  set(s.beta2, o.beta2);
  set(s.epsilon, o.epsilon);
  bool sgd = s.name == "sgd";
  for (auto [flag, given, forSgd] : {std::tuple{"--momentum", o.momentum.has_value(), true},
                                     {"--dampening", o.dampening.has_value(), true},
                                     {"--nesterov", o.nesterov.has_value(), true},
                                     {"--beta1", o.beta1.has_value(), false},
                                     {"--beta2", o.beta2.has_value(), false},
                                     {"--epsilon", o.epsilon.has_value(), false}})
    if (given && forSgd != sgd)
      throw std::runtime_error(
          std::string(flag) + " does nothing with " + s.name +
          (o.optimizer ? "" : " (the model's optimizer; --optimizer changes it)"));
  return s;
}

/// Writes the checkpoint, if one was asked for.
void saveCheckpoint(const Options &o, const cnnc::Model &model, const TrainerState &state) {
  if (!o.checkpoint.empty())
    model.save(o.checkpoint, state.note());
}

} // namespace

int train(const Options &o) {
  // What the run will write must be writable before anything is trained.
  if (!o.checkpoint.empty())
    checkWritable(o.checkpoint, "the checkpoint");
  if (!o.log.empty())
    checkWritable(o.log, "the log");
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

  // The model's input shape decides how image folders are decoded; a flat
  // input takes the data as it is stored.
  std::vector<cnnc::TensorInfo> inputs = model.inputs();
  ItemShape hint = inputs.size() == 1 && inputs[0].shape.size() == 4
                       ? ItemShape{inputs[0].shape[1], inputs[0].shape[2], inputs[0].shape[3]}
                       : ItemShape{1, 0, 0};
  DataSplits data = trainingData(o, hint);
  ItemShape modelShape = modelItemShape(model, data.train.shape, data.train.origin);
  ItemPipeline pipeline(data.train.shape, modelShape, o.preprocessing);
  checkLabels(data.train, info.classes);
  // Validation and test items may be stored in another shape than training items.
  std::optional<ItemPipeline> valPipeline, testPipeline;
  if (data.val) {
    valPipeline.emplace(data.val->shape, modelShape, o.preprocessing);
    checkLabels(*data.val, info.classes);
  }
  if (data.test) {
    testPipeline.emplace(data.test->shape, modelShape, o.preprocessing);
    checkLabels(*data.test, info.classes);
  }
  if (o.earlyStop > 0 && !data.val)
    throw std::runtime_error("--early-stop watches the validation loss: give --val-split F or a "
                             "dataset with a validation set");
  // A batch larger than the data is one batch of all of it (no overflow near INT64_MAX).
  int64_t perEpoch = data.train.size() / batch + (data.train.size() % batch != 0);
  checkBatchMemory(std::min(batch, data.train.size()), model.inputs(), "--batch");
  model.reserve(std::min(batch, data.train.size())); // the model's own buffers, before any work

  TrainerState state;
  state.batch = batch;
  state.trainItems = data.train.size();
  uint64_t seed = o.seed;
  int64_t firstEpoch = 0, firstBatch = 0;
  if (!o.resume.empty()) {
    model.load(o.resume);
    if (!o.seedGiven)
      seed = model.seed();
    TrainerState saved;
    saved.read(model.checkpointNote());
    if (saved.batch && (saved.batch != batch || saved.trainItems != data.train.size()))
      throw std::runtime_error(
          "checkpoint '" + o.resume + "' was trained with batch " + std::to_string(saved.batch) +
          " on " + std::to_string(saved.trainItems) + " training items; this run has batch " +
          std::to_string(batch) + " and " + std::to_string(data.train.size()) +
          " (resume with the --batch, --limit and --val-split it was "
          "trained with)");
    if (!saved.batch && model.stepCount() % uint64_t(perEpoch) != 0)
      throw std::runtime_error("checkpoint '" + o.resume + "' is at step " +
                               std::to_string(model.stepCount()) +
                               ", not at an epoch boundary of " + std::to_string(perEpoch) +
                               " batches, and does not say which data it was trained with");
    if (saved.batch)
      state = saved;
    firstEpoch = int64_t(model.stepCount() / uint64_t(perEpoch));
    firstBatch = int64_t(model.stepCount() % uint64_t(perEpoch));
  } else {
    model.initParameters(seed);
    if (!o.weights.empty())
      model.loadParameters(o.weights, o.stripPrefix);
    else if (model.hasDefaultParameters())
      model.loadDefaultParameters();
  }

  model.setOptimizer(requestedOptimizer(o, model.optimizer()));
  if (o.labelSmoothing)
    model.setLabelSmoothing(*o.labelSmoothing);
  if (o.clipGradNorm)
    model.setClipGradNorm(*o.clipGradNorm);
  cnnc::OptimizerSettings optimizer = model.optimizer();

  bool terminal = isatty(fileno(stderr)) && isatty(fileno(stdout));
  if (!o.json) {
    std::printf("data: %s in %s: %lld training", data.layout.c_str(), o.data.c_str(),
                (long long)data.train.size());
    if (data.val)
      std::printf(", %lld validation", (long long)data.val->size());
    if (data.test)
      std::printf(", %lld test", (long long)data.test->size());
    std::printf(" items");
    if (!data.classNames.empty())
      std::printf(", %zu classes", data.classNames.size());
    std::printf("; %s\n", pipeline.describe(/*training=*/true).c_str());
    std::printf("optimizer: %s, learning rate %g", describeOptimizer(optimizer).c_str(), baseLr);
    if (model.labelSmoothing() > 0)
      std::printf(", label smoothing %g", model.labelSmoothing());
    if (model.hasClipGradNorm() && model.clipGradNorm() > 0)
      std::printf(", gradients clipped to norm %g", model.clipGradNorm());
    std::printf("\n");
    if (!o.resume.empty())
      std::printf("resuming at step %llu (epoch %lld, batch %lld of %lld)\n",
                  (unsigned long long)model.stepCount(), (long long)firstEpoch + 1,
                  (long long)firstBatch + 1, (long long)perEpoch);
    std::fflush(stdout);
  }

  MetricsLog log(o.log, !o.resume.empty());
  Progress progress(terminal && !o.json, !terminal && !o.json, o.printEvery, epochs, perEpoch);
  StopSignals signals;
  auto runStart = Clock::now();
  Score test, val;
  double trainLoss = NAN, trainAcc = NAN, lr = baseLr;
  bool stoppedEarly = false;
  int64_t lastEpoch = firstEpoch;
  std::optional<uint64_t> augmentSeed;
  if (o.preprocessing.augments())
    augmentSeed = seed;
  for (int64_t epoch = firstEpoch; epoch < epochs && !stoppedEarly; ++epoch) {
    auto start = Clock::now();
    int64_t first = epoch == firstEpoch ? firstBatch : 0;
    if (first == 0)
      state.lossSum = state.correct = 0, state.seen = 0;
    progress.startEpoch(first);
    BatchLoader loader(data.train, pipeline, epochOrder(data.train.size(), seed, uint64_t(epoch)),
                       batch, first, augmentSeed, uint64_t(epoch));
    Batch b;
    for (int64_t index = first; loader.next(b); ++index) {
      lr = learningRate(o, schedule, baseLr, model.stepCount(), perEpoch, epochs);
      cnnc::StepResult r = model.trainStep(b.count, {b.x.data()}, b.y.data(), float(lr));
      state.lossSum += double(r.loss) * double(b.count);
      state.correct += r.correct;
      state.seen += b.count;
      progress.update(epoch, index, b.count, state.lossSum / double(state.seen),
                      state.correct / double(state.seen));
      bool epochEnd = index + 1 == perEpoch;
      if (int sig = stopSignal.load()) {
        progress.endEpoch();
        saveCheckpoint(o, model, state);
        const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
        if (o.checkpoint.empty())
          std::fprintf(stderr,
                       "cnnrun: %s: stopped after step %llu; no --checkpoint was given, "
                       "nothing saved\n",
                       name, (unsigned long long)model.stepCount());
        else
          std::fprintf(stderr,
                       "cnnrun: %s: stopped after step %llu (epoch %lld, batch %lld of %lld); "
                       "checkpoint %s written: continue with --resume %s\n",
                       name, (unsigned long long)model.stepCount(), (long long)epoch + 1,
                       (long long)index + 1, (long long)perEpoch, o.checkpoint.c_str(),
                       o.checkpoint.c_str());
        std::fflush(stdout);
        return 128 + sig;
      }
      if (o.checkpointEvery > 0 && !epochEnd &&
          model.stepCount() % uint64_t(o.checkpointEvery) == 0)
        saveCheckpoint(o, model, state);
    }
    progress.endEpoch();
    trainLoss = state.lossSum / double(state.seen);
    trainAcc = state.correct / double(state.seen);
    val = data.val ? evaluate(model, *data.val, *valPipeline, batch) : Score{};
    // Without a validation set the test set is reported every epoch, as
    // before; with one, only after the last epoch.
    bool testNow = data.test && (!data.val || epoch + 1 == epochs);
    if (data.val && o.earlyStop > 0) {
      if (val.loss < state.bestValLoss) {
        state.bestValLoss = val.loss;
        state.bestEpoch = epoch + 1;
        state.badEpochs = 0;
      } else if (++state.badEpochs >= o.earlyStop) {
        stoppedEarly = true;
        testNow = data.test.has_value();
      }
    }
    test = testNow ? evaluate(model, *data.test, *testPipeline, batch) : Score{};
    saveCheckpoint(o, model, state);
    double seconds = secondsSince(start);
    log.row(epoch + 1, trainLoss, trainAcc, test, lr, seconds, val);
    lastEpoch = epoch + 1;
    if (o.json) {
      json j = {{"epoch", epoch + 1},
                {"step", model.stepCount()},
                {"train_loss", jsonNumber(trainLoss)},
                {"train_acc", jsonNumber(trainAcc)},
                {"val_loss", jsonNumber(val.loss)},
                {"val_acc", jsonNumber(val.accuracy())},
                {"test_loss", jsonNumber(test.loss)},
                {"test_acc", jsonNumber(test.accuracy())},
                {"lr", lr},
                {"seconds", seconds},
                {"data_wait_seconds", loader.waitSeconds()}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("epoch %lld/%lld: train loss %.4f, accuracy %.2f%%", (long long)(epoch + 1),
                  (long long)epochs, trainLoss, 100 * trainAcc);
      if (data.val)
        std::printf("; validation loss %.4f, accuracy %.2f%%", val.loss, 100 * val.accuracy());
      if (testNow)
        std::printf("; test loss %.4f, accuracy %.2f%%", test.loss, 100 * test.accuracy());
      std::printf("; %.1f s (waited %.2f s for data)\n", seconds, loader.waitSeconds());
    }
    if (stoppedEarly && !o.json)
      std::printf("early stop: the validation loss has not improved for %lld epochs (best "
                  "%.4f after epoch %lld)\n",
                  (long long)o.earlyStop, state.bestValLoss, (long long)state.bestEpoch);
    std::fflush(stdout);
  }
  if (o.json)
    return 0;
  if (firstEpoch >= epochs) {
    std::printf("nothing to train: the checkpoint is already at epoch %lld of %lld\n",
                (long long)firstEpoch, (long long)epochs);
    return 0;
  }
  std::printf("trained %s (%s, %s loss) for %lld epoch(s), %llu steps of batch %lld in %.1f s: "
              "train loss %.4f, accuracy %.2f%%",
              model.name().c_str(), optimizer.name.c_str(), info.loss.c_str(),
              (long long)(lastEpoch - firstEpoch), (unsigned long long)model.stepCount(),
              (long long)batch, secondsSince(runStart), trainLoss, 100 * trainAcc);
  if (data.val)
    std::printf("; validation accuracy %.2f%%", 100 * val.accuracy());
  if (test.count)
    std::printf("; test accuracy %.2f%% on %lld items", 100 * test.accuracy(),
                (long long)test.count);
  std::printf("\n");
  if (!o.checkpoint.empty())
    std::printf("checkpoint: %s\n", o.checkpoint.c_str());
  return 0;
}

int eval(const Options &o) {
  cnnc::Model model(o.model);
  if (!o.checkpoint.empty() && !o.weights.empty())
    throw std::runtime_error("eval takes one of --checkpoint PATH and --weights FILE, not both");
  if (o.checkpoint.empty() && o.weights.empty() && !model.hasDefaultParameters())
    throw std::runtime_error("eval needs --checkpoint PATH or --weights FILE (the model embeds "
                             "no parameter values)");
  if (!o.checkpoint.empty())
    model.load(o.checkpoint);
  else if (!o.weights.empty())
    model.loadParameters(o.weights, o.stripPrefix);
  int64_t batch = o.batch;
  if (batch <= 0)
    batch = model.hasTraining() && model.trainInfo().batch > 0 ? model.trainInfo().batch : 64;
  std::vector<cnnc::TensorInfo> inputs = model.inputs();
  ItemShape hint = inputs.size() == 1 && inputs[0].shape.size() == 4
                       ? ItemShape{inputs[0].shape[1], inputs[0].shape[2], inputs[0].shape[3]}
                       : ItemShape{1, 0, 0};
  DataSplits data = loadData(o.data, hint, Splits::TestOnly, 0, std::max<int64_t>(o.testLimit, 0));
  ItemShape modelShape = modelItemShape(model, data.test->shape, data.test->origin);
  ItemPipeline pipeline(data.test->shape, modelShape, o.preprocessing);
  if (model.hasTraining())
    checkLabels(*data.test, model.trainInfo().classes);
  std::vector<cnnc::TensorInfo> tensors = model.inputs(), outputs = model.outputs();
  tensors.insert(tensors.end(), outputs.begin(), outputs.end());
  checkBatchMemory(std::min(batch, data.test->size()), tensors, "--batch");
  model.reserve(std::min(batch, data.test->size()));
  Score s = evaluate(model, *data.test, pipeline, batch);
  if (o.json) {
    json j = {{"test_acc", jsonNumber(s.accuracy())},
              {"test_loss", jsonNumber(s.loss)},
              {"correct", s.correct},
              {"count", s.count}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("test accuracy %.2f%% (%.0f/%lld)", 100 * s.accuracy(), s.correct,
              (long long)s.count);
  if (!std::isnan(s.loss))
    std::printf(", loss %.4f", s.loss);
  std::printf("\n");
  return 0;
}

} // namespace cnnrun
