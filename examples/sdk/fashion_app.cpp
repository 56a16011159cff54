//===- fashion_app.cpp - A program built against the installed cnnc SDK ---===//
//
//   fashion_app DATA_DIR [--images N]
// Loads the model that cnnc_add_model compiled into this build (its path is
// CNNC_MODEL_FASHION_NET), trains it for one epoch on the first N (default
// 2048) Fashion-MNIST training images of DATA_DIR, then prints its accuracy on
// the first 1000 test images. Uses only the public runtime API
// (cnnc/runtime.hpp).
//
//===----------------------------------------------------------------------===//
#include <cnnc/runtime.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA_DIR [--images N]\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  long long images = argc > 3 && std::string(argv[2]) == "--images" ? std::atoll(argv[3]) : 2048;
  try {
    cnnc::Model model(CNNC_MODEL_FASHION_NET);
    cnnc::TrainInfo info = model.trainInfo();
    cnnc::Dataset train(dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz",
                        images);
    cnnc::Dataset test(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz",
                       1000);
    model.initParameters(/*seed=*/0);
    int64_t batch = info.batch;
    std::vector<float> x(size_t(batch * train.itemCount())), y(static_cast<size_t>(batch));
    train.shuffle(/*seed=*/0, /*epoch=*/0);
    double lossSum = 0;
    int64_t steps = train.numBatches(batch);
    for (int64_t b = 0; b < steps; ++b) {
      int64_t n = train.getBatch(b, batch, x.data(), y.data());
      lossSum += model.trainStep(n, {x.data()}, y.data(), float(info.lr)).loss;
    }
    double correct = 0;
    for (int64_t b = 0; b < test.numBatches(batch); ++b) {
      int64_t n = test.getBatch(b, batch, x.data(), y.data());
      correct += model.evaluate(n, {x.data()}, y.data()).correct;
    }
    std::printf("%s: %lld train steps (%s), mean loss %.4f, test accuracy %.2f%% on %lld images\n",
                model.name().c_str(), (long long)steps, info.optimizer.c_str(),
                lossSum / double(steps), 100.0 * correct / double(test.size()),
                (long long)test.size());
  } catch (const cnnc::Error &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
