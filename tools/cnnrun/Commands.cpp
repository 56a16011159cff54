//===- Commands.cpp - The commands of cnnrun ------------------------------===//
//
// info: lists the model's device API, tensors and steps (table or JSON; the
// table also gives the training defaults of a model compiled with training).
// run: reads float32 .npy inputs whose shapes must match the model's except
// for the batch dimension, runs once, writes .npy outputs. bench: fills
// parameters (unless --weights) and inputs with deterministic pseudo-random
// values, runs --warmup untimed then --iters timed iterations and reports
// medians, per step and in total, with GFLOP/s from the metadata's per-item
// flops. On a GPU model the total comes from plain runs, which wait for the
// device once (for the outputs), and the per-step times from separate
// profiled runs, which wait around each kernel. JSON output names tensors
// and steps with the metadata's keys (model_schema.h).
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "cnnc/model_schema.h"
#include "cnnc/runtime.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string_view>

namespace cnnrun {
namespace {

namespace key = cnnc::schema::key;

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

/// `"name":value`, a member of a JSON object.
std::string jsonMember(std::string_view name, const std::string &value) {
  return quote(name) + ":" + value;
}

std::string tensorsJson(const std::vector<cnnc::TensorInfo> &tensors) {
  std::string s = "[";
  for (size_t i = 0; i < tensors.size(); ++i)
    s += std::string(i ? "," : "") + "{" + jsonMember(key::kName, quote(tensors[i].name)) + "," +
         jsonMember(key::kShape, shapeString(tensors[i].shape)) + "}";
  return s + "]";
}

void printTable(const char *title, const std::vector<cnnc::TensorInfo> &tensors) {
  std::printf("%s:\n", title);
  for (const cnnc::TensorInfo &t : tensors)
    std::printf("  %-32s %s\n", t.name.c_str(), shapeString(t.shape).c_str());
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Deterministic values in [-scale, scale) (a 64-bit LCG).
void fillPseudoRandom(std::vector<float> &v, uint64_t seed, float scale) {
  uint64_t state = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (float &x : v) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    x = scale * (float((state >> 40) & 0xFFFFFF) / float(1 << 23) - 1.0f);
  }
}

/// "1.5 GB", "300 MB", "12 kB" or "512 bytes".
std::string byteString(uint64_t bytes) {
  char text[32];
  if (bytes < 10000)
    std::snprintf(text, sizeof text, "%llu bytes", (unsigned long long)bytes);
  else if (bytes < 10000000)
    std::snprintf(text, sizeof text, "%.0f kB", double(bytes) / 1e3);
  else if (bytes < 10000000000ULL)
    std::snprintf(text, sizeof text, "%.0f MB", double(bytes) / 1e6);
  else
    std::snprintf(text, sizeof text, "%.1f GB", double(bytes) / 1e9);
  return text;
}

} // namespace

void checkWritable(const std::string &path, const std::string &what) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      throw std::runtime_error("cannot write " + what + " '" + path + "': it is a directory");
    if (!S_ISREG(st.st_mode))
      return; // a device or a FIFO, written in place
    if (access(path.c_str(), W_OK) != 0 || !(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
      throw std::runtime_error("cannot replace " + what + " '" + path +
                               "': the file is write-protected (mode " + mode +
                               "); make it writable (chmod u+w) or write elsewhere");
    }
  }
  // Files are written next to their target and renamed over it: the
  // directory must take a new file.
  std::string probe = path + ".tmp-" + std::to_string(long(getpid()));
  int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST)
    return; // a file of this process (it writes the same path twice)
  if (fd < 0) {
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash ? slash : 1);
    throw std::runtime_error("cannot write " + what + " '" + path + "': cannot create a file in '" +
                             dir + "': " + std::strerror(errno));
  }
  close(fd);
  unlink(probe.c_str());
}

void checkBatchMemory(int64_t batch, const std::vector<cnnc::TensorInfo> &tensors,
                      const std::string &flag) {
  uint64_t total = 0;
  std::string largest;
  uint64_t largestBytes = 0;
  for (const cnnc::TensorInfo &t : tensors) {
    int64_t count = 0;
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(t.itemCount, t.batched ? batch : 1, &count) ||
        __builtin_mul_overflow(uint64_t(count), uint64_t(sizeof(float)), &bytes) ||
        __builtin_add_overflow(total, bytes, &total) || total > uint64_t(INT64_MAX))
      throw std::runtime_error(flag + " " + std::to_string(batch) + " is too large: '" + t.name +
                               "' (" + std::to_string(t.itemCount) +
                               " values per item) would hold more than 2^63 bytes");
    if (bytes > largestBytes) {
      largestBytes = bytes;
      largest = t.name;
    }
  }
  long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || pageSize <= 0)
    return;
  uint64_t memory = uint64_t(pages) * uint64_t(pageSize);
  if (total > memory)
    throw std::runtime_error(flag + " " + std::to_string(batch) + " is too large: the inputs and " +
                             "outputs alone need " + byteString(total) + " ('" + largest + "' " +
                             byteString(largestBytes) + "), more than the " + byteString(memory) +
                             " of memory this machine has");
}

std::vector<float> allocateFloats(int64_t count, const std::string &what) {
  try {
    if (count < 0 || uint64_t(count) > SIZE_MAX / sizeof(float))
      throw std::bad_alloc();
    return std::vector<float>(size_t(count));
  } catch (const std::bad_alloc &) {
    throw std::runtime_error("out of memory: cannot allocate " +
                             byteString(uint64_t(count) * sizeof(float)) + " (" +
                             std::to_string(count) + " floats) for " + what);
  }
}

void info(const Options &options) {
  cnnc::Model model(options.model);
  std::vector<cnnc::StepInfo> steps = model.steps();
  if (options.json) {
    std::string stepsJson = "[";
    for (size_t i = 0; i < steps.size(); ++i)
      stepsJson += std::string(i ? "," : "") + "{" + jsonMember(key::kName, quote(steps[i].name)) +
                   "," + jsonMember(key::kFlops, std::to_string(steps[i].flops)) + "}";
    stepsJson += "]";
    std::string deviceApi = model.deviceApi().empty() ? "null" : quote(model.deviceApi());
    std::printf("{%s,%s,%s,%s,%s}\n", jsonMember(key::kInputs, tensorsJson(model.inputs())).c_str(),
                jsonMember(key::kOutputs, tensorsJson(model.outputs())).c_str(),
                jsonMember(key::kParameters, tensorsJson(model.parameters())).c_str(),
                jsonMember(key::kSteps, stepsJson).c_str(),
                jsonMember(key::kDeviceApi, deviceApi).c_str());
    return;
  }
  std::printf("model: %s (target %s)\n", model.name().c_str(), model.target().c_str());
  std::printf("device API: %s\n",
              model.deviceApi().empty() ? "none (runs on the CPU)" : model.deviceApi().c_str());
  printTable("inputs", model.inputs());
  printTable("outputs", model.outputs());
  int64_t values = 0;
  for (const cnnc::TensorInfo &p : model.parameters())
    values += p.itemCount;
  std::string embedded = model.hasDefaultParameters() ? ", embedded in the model" : "";
  printTable(("parameters (" + std::to_string(values) + " values" + embedded + ")").c_str(),
             model.parameters());
  std::printf("steps:\n");
  for (const cnnc::StepInfo &s : steps)
    std::printf("  %-32s %lld FLOP/item\n", s.name.c_str(), (long long)s.flops);
  if (model.hasTraining()) {
    cnnc::TrainInfo t = model.trainInfo();
    std::printf("training: %s loss, %s, lr %g, batch %lld, %lld epoch(s), %zu state tensors\n",
                t.loss.c_str(), describeOptimizer(model.optimizer()).c_str(), t.lr,
                (long long)t.batch, (long long)t.epochs, model.state().size());
  }
}

/// "adam (beta1 0.9, beta2 0.999, epsilon 1e-08, weight decay 0)".
std::string describeOptimizer(const cnnc::OptimizerSettings &s) {
  char text[160];
  if (s.name == "sgd")
    std::snprintf(text, sizeof text,
                  "sgd (momentum %g, dampening %g, nesterov %s, weight decay %g)", s.momentum,
                  s.dampening, s.nesterov ? "on" : "off", s.weightDecay);
  else
    std::snprintf(text, sizeof text, "%s (beta1 %g, beta2 %g, epsilon %g, weight decay %g)",
                  s.name.c_str(), s.beta1, s.beta2, s.epsilon, s.weightDecay);
  return text;
}

void run(const Options &options) {
  cnnc::Model model(options.model);
  std::vector<cnnc::TensorInfo> ins = model.inputs(), outs = model.outputs();
  if (options.weights.empty() && !model.hasDefaultParameters() && !model.parameters().empty())
    throw std::runtime_error("run needs --weights FILE.safetensors (the model embeds no "
                             "parameter values)");
  if (options.inputs.size() != ins.size())
    throw std::runtime_error("the model has " + std::to_string(ins.size()) + " input(s), got " +
                             std::to_string(options.inputs.size()) + " --input");
  if (options.outputs.size() != outs.size())
    throw std::runtime_error("the model has " + std::to_string(outs.size()) + " output(s), got " +
                             std::to_string(options.outputs.size()) + " --output");
  for (const std::string &output : options.outputs)
    checkWritable(output, "the output");
  if (!options.weights.empty())
    model.loadParameters(options.weights, options.stripPrefix);
  std::vector<cnnc::Array> arrays;
  int64_t batch = -1;
  for (size_t i = 0; i < ins.size(); ++i) {
    arrays.push_back(cnnc::Array::loadNpy(options.inputs[i]));
    std::vector<int64_t> got = arrays.back().shape(), want = ins[i].shape;
    bool ok = got.size() == want.size();
    for (size_t d = 0; ok && d < want.size(); ++d) {
      if (want[d] != -1) {
        ok = got[d] == want[d];
      } else {
        ok = got[d] >= 1 && (batch == -1 || got[d] == batch);
        batch = got[d];
      }
    }
    if (!ok)
      throw std::runtime_error(options.inputs[i] + ": shape " + shapeString(got) +
                               " does not match input '" + ins[i].name + "' " + shapeString(want) +
                               (batch > 0 ? " (batch " + std::to_string(batch) + ")" : ""));
  }
  if (batch == -1)
    batch = 1;
  checkBatchMemory(batch, outs, "the inputs' batch");
  model.reserve(batch);
  std::vector<const float *> inPtrs;
  for (const cnnc::Array &a : arrays)
    inPtrs.push_back(a.data());
  std::vector<std::vector<float>> results;
  std::vector<float *> outPtrs;
  for (const cnnc::TensorInfo &t : outs)
    results.push_back(allocateFloats(t.countFor(batch),
                                     "output '" + t.name + "' at batch " + std::to_string(batch)));
  for (std::vector<float> &r : results)
    outPtrs.push_back(r.data());
  model.run(batch, inPtrs, outPtrs);
  for (size_t i = 0; i < outs.size(); ++i)
    cnnc::Array::saveNpy(options.outputs[i], results[i].data(), outs[i].shapeFor(batch));
}

void bench(const Options &options) {
  cnnc::Model model(options.model);
  if (options.batch < 0 || options.iters < 1 || options.warmup < 0)
    throw std::runtime_error("--batch and --iters must be >= 1, --warmup >= 0");
  if (!options.weights.empty()) {
    model.loadParameters(options.weights, options.stripPrefix);
  } else if (!model.hasDefaultParameters()) {
    uint64_t seed = 1;
    for (const cnnc::TensorInfo &p : model.parameters()) {
      std::vector<float> v(size_t(p.itemCount));
      fillPseudoRandom(v, seed++, 0.05f);
      model.setParameter(p.name, v);
    }
  }
  int64_t batch = options.batch > 0 ? options.batch : 1;
  std::vector<cnnc::TensorInfo> tensors = model.inputs(), outputs = model.outputs();
  if (!options.train)
    tensors.insert(tensors.end(), outputs.begin(), outputs.end());
  checkBatchMemory(batch, tensors, "--batch");
  model.reserve(batch); // the model's own buffers, before the inputs are filled
  model.prepare();
  std::string atBatch = " at batch " + std::to_string(batch);
  std::vector<std::vector<float>> ins, outs;
  std::vector<const float *> inPtrs;
  std::vector<float *> outPtrs;
  for (const cnnc::TensorInfo &t : model.inputs()) {
    ins.push_back(allocateFloats(t.countFor(batch), "input '" + t.name + "'" + atBatch));
    fillPseudoRandom(ins.back(), 1000 + ins.size(), 1.0f);
    inPtrs.push_back(ins.back().data());
  }
  // A train step writes no outputs.
  for (const cnnc::TensorInfo &t : outputs) {
    outs.push_back(
        allocateFloats(options.train ? 0 : t.countFor(batch), "output '" + t.name + "'" + atBatch));
    outPtrs.push_back(outs.back().data());
  }
  // --train times whole train steps (forward, loss, backward, update) on
  // random labels; otherwise inference.
  std::vector<float> labels = allocateFloats(options.train ? batch : 0, "the labels" + atBatch);
  if (options.train) {
    model.initParameters(1);
    int64_t classes = model.trainInfo().classes;
    for (size_t i = 0; i < labels.size(); ++i)
      labels[i] = float(int64_t(i * 7919) % std::max<int64_t>(classes, 1));
  }
  std::vector<cnnc::StepInfo> steps = options.train ? model.trainSteps() : model.steps();
  std::vector<std::vector<double>> stepMs(steps.size());
  std::vector<double> totalMs;
  float lr = options.train ? float(model.trainInfo().lr) * 0.01f : 0.0f;
  // One call, profiled per step or not; its wall time in ms.
  auto call = [&](bool profiled) {
    auto start = std::chrono::steady_clock::now();
    std::vector<double> ms;
    if (options.train && profiled)
      model.trainStepTimed(batch, inPtrs, labels.data(), lr, ms);
    else if (options.train)
      model.trainStep(batch, inPtrs, labels.data(), lr);
    else if (profiled)
      ms = model.runTimed(batch, inPtrs, outPtrs);
    else
      model.run(batch, inPtrs, outPtrs);
    for (size_t s = 0; s < ms.size(); ++s)
      stepMs[s].push_back(ms[s]);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  };
  // A CPU model's profile costs nothing: one timed call gives both. A GPU
  // model's profile waits for the device around each kernel, which would
  // slow the whole call, so the totals come from plain calls.
  bool separateProfile = !model.deviceApi().empty();
  for (int64_t it = 0; it < options.warmup; ++it)
    call(/*profiled=*/!separateProfile);
  for (std::vector<double> &ms : stepMs)
    ms.clear();
  for (int64_t it = 0; it < options.iters; ++it)
    totalMs.push_back(call(/*profiled=*/!separateProfile));
  if (separateProfile)
    for (int64_t it = 0; it < options.iters; ++it)
      call(/*profiled=*/true);
  auto gflops = [&](double flops, double ms) { return ms > 0 ? flops * batch / (ms * 1e6) : 0; };
  double total = median(totalMs), totalFlops = 0;
  for (const cnnc::StepInfo &s : steps)
    totalFlops += double(s.flops);
  double imagesPerS = total > 0 ? batch * 1000.0 / total : 0;
  if (options.json) {
    std::printf("{\"model\":%s,\"mode\":\"%s\",\"batch\":%lld,\"iters\":%lld,%s:[",
                quote(model.name()).c_str(), options.train ? "train" : "inference",
                (long long)batch, (long long)options.iters, quote(key::kSteps).c_str());
    for (size_t s = 0; s < steps.size(); ++s) {
      double ms = median(stepMs[s]);
      std::printf("%s{%s,\"ms\":%.6g,\"gflops\":%.6g}", s ? "," : "",
                  jsonMember(key::kName, quote(steps[s].name)).c_str(), ms,
                  gflops(double(steps[s].flops), ms));
    }
    std::printf("],\"total\":{\"ms\":%.6g,\"gflops\":%.6g,\"images_per_s\":%.6g}}\n", total,
                gflops(totalFlops, total), imagesPerS);
    return;
  }
  std::printf("model %s, %s, batch %lld, median of %lld iterations (%lld warm-up)\n",
              model.name().c_str(), options.train ? "train step" : "inference", (long long)batch,
              (long long)options.iters, (long long)options.warmup);
  std::printf("%-32s %10s %10s\n", "step", "ms", "GFLOP/s");
  for (size_t s = 0; s < steps.size(); ++s) {
    double ms = median(stepMs[s]);
    std::printf("%-32s %10.4f %10.2f\n", steps[s].name.c_str(), ms,
                gflops(double(steps[s].flops), ms));
  }
  std::printf("%-32s %10.4f %10.2f   %.1f images/s\n", "total", total, gflops(totalFlops, total),
              imagesPerS);
}

} // namespace cnnrun
