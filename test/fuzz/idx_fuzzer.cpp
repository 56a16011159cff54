//===- idx_fuzzer.cpp - Fuzz target: the IDX reader and the IDX dataset ---===//
//
// Reads the input as an IDX file (the MNIST format, gzipped or plain) with
// cnnc_idx_load; when that succeeds, also as the images of an IDX dataset
// (cnnc_dataset_load_idx, as `cnnrun train --data` does) next to a valid
// labels file with one label per item, and takes its first batch. A refused
// file is a status; any crash, sanitizer report, leak or hang is a finding.
// The readers take paths, so the bytes go through in-memory files
// (FuzzFile.h). Seeds: test/fuzz/corpus/idx (make_corpus.py).
//
//===----------------------------------------------------------------------===//
#include "FuzzFile.h"

#include "cnnc/runtime.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

/// A plain IDX file of `n` unsigned-byte labels, all 0.
std::vector<uint8_t> labelsFile(uint32_t n) {
  std::vector<uint8_t> bytes = {
      0, 0, 8, 1, uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
  bytes.resize(bytes.size() + n, 0);
  return bytes;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cnnc::fuzz::MemFile images("images.idx"), labels("labels.idx");
  cnnc::fuzz::FileLeakCheck leaks("the IDX readers");
  images.write(data, size);
  cnnc_array a{};
  cnnc_status status = cnnc_idx_load(images.path.c_str(), &a);
  int64_t items = status == CNNC_OK && a.rank >= 2 ? a.shape[0] : -1;
  if (status == CNNC_OK) {
    int64_t count = 1;
    for (int32_t i = 0; i < a.rank; ++i)
      count *= a.shape[i];
    if (count != a.count || (count && !a.data))
      __builtin_trap();
  }
  cnnc_array_free(&a);
  if (items < 0 || items > 1 << 16) {
    return 0;
  }
  std::vector<uint8_t> l = labelsFile(uint32_t(items));
  labels.write(l.data(), l.size());
  cnnc_dataset *dataset = nullptr;
  if (cnnc_dataset_load_idx(images.path.c_str(), labels.path.c_str(), 0, &dataset) == CNNC_OK) {
    if (cnnc_dataset_size(dataset) != items)
      __builtin_trap();
    (void)cnnc_dataset_shuffle(dataset, 1, 0);
    std::vector<float> x(size_t(cnnc_dataset_item_count(dataset)) * 2), y(2);
    int64_t got = 0;
    if (items > 0)
      (void)cnnc_dataset_get_batch(dataset, cnnc_dataset_num_batches(dataset, 2) - 1, 2, x.data(),
                                   y.data(), &got);
  }
  cnnc_dataset_free(dataset);
  return 0;
}
