//===- classify.cpp - Classify Fashion-MNIST images with a compiled model -===//
//
// An example of the C++ runtime API (cnnc/runtime.hpp) and nothing else:
//   classify model.so weights.safetensors images-idx3-ubyte[.gz]
//            [labels-idx1-ubyte[.gz]] [--count N]
// loads the model and its weights, reads IDX images (pixels / 255), runs them
// in batches of 64, prints the first 10 predictions with their Fashion-MNIST
// class names and, given labels, the accuracy over the first N images
// (default all). Assumes a model with one input of 28x28 = 784 values per
// image (e.g. [-1,1,28,28]) and one output of 10 class scores.
//
//===----------------------------------------------------------------------===//
#include "cnnc/runtime.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static const char *const kClassNames[10] = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                            "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                            "Bag",         "Ankle boot"};

int main(int argc, char **argv) {
  std::vector<std::string> args;
  long long count = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--count" && i + 1 < argc) {
      char *end = nullptr;
      count = std::strtoll(argv[++i], &end, 10);
      if (*end || count < 0) {
        std::fprintf(stderr, "classify: error: --count expects a non-negative integer\n");
        return 1;
      }
    } else
      args.push_back(a);
  }
  if (args.size() < 3 || args.size() > 4) {
    std::fprintf(stderr, "usage: classify model.so weights.safetensors images-idx3-ubyte[.gz] "
                         "[labels-idx1-ubyte[.gz]] [--count N]\n");
    return 1;
  }
  try {
    cnnc::Model model(args[0]);
    model.loadParameters(args[1]);
    cnnc::Array images = cnnc::Array::loadIdx(args[2]);
    cnnc::TensorInfo in = model.inputs().at(0), out = model.outputs().at(0);
    std::vector<int64_t> shape = images.shape();
    if (shape.size() != 3 || shape[1] * shape[2] != in.itemCount)
      throw cnnc::Error(CNNC_ERROR_INVALID_ARGUMENT,
                        args[2] + ": expected images of " + std::to_string(in.itemCount) +
                            " pixels for the model's input '" + in.name +
                            "', found an IDX "
                            "array of rank " +
                            std::to_string(shape.size()));
    if (out.itemCount != 10)
      throw cnnc::Error(CNNC_ERROR_INVALID_ARGUMENT, "expected a model with 10 class scores");
    int64_t n = shape[0];
    if (count >= 0)
      n = std::min<int64_t>(n, count);
    cnnc::Array labels;
    if (args.size() == 4) {
      labels = cnnc::Array::loadIdx(args[3]);
      if (labels.count() < n)
        throw cnnc::Error(CNNC_ERROR_INVALID_ARGUMENT, args[3] + ": fewer labels than images");
    }

    const int64_t kBatch = 64;
    std::vector<int> predictions;
    for (int64_t first = 0; first < n; first += kBatch) {
      int64_t batch = std::min(kBatch, n - first);
      std::vector<float> x(images.data() + first * in.itemCount,
                           images.data() + (first + batch) * in.itemCount);
      for (float &v : x)
        v /= 255.0f;
      std::vector<float> scores = model.run(batch, x);
      for (int64_t b = 0; b < batch; ++b) {
        const float *s = scores.data() + b * 10;
        predictions.push_back(int(std::max_element(s, s + 10) - s));
      }
    }

    int64_t correct = 0;
    for (int64_t i = 0; i < n; ++i) {
      int label = labels.count() ? int(labels.data()[i]) : -1;
      correct += predictions[i] == label;
      if (i < 10)
        std::printf("image %lld: %-12s%s%s\n", (long long)i, kClassNames[predictions[i]],
                    label >= 0 ? "  label: " : "",
                    label >= 0 && label < 10 ? kClassNames[label] : "");
    }
    if (labels.count() && n > 0)
      std::printf("accuracy: %lld/%lld = %.4f\n", (long long)correct, (long long)n,
                  double(correct) / double(n));
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "classify: error: %s\n", e.what());
    return 1;
  }
}
