//===- npy_fuzzer.cpp - Fuzz target: the .npy reader ----------------------===//
//
// Reads the input as a NumPy .npy file with both of the runtime's readers
// (cnnc_npy_load: float32 only; cnnc_npy_load_numeric: any numeric dtype,
// converted), as `cnnrun run --input` and the .npy datasets do. A refused
// file is a status; any crash, sanitizer report, leak or hang is a finding,
// and so is an array whose count is not the product of its shape. The
// readers take a path, so the bytes go through an in-memory file
// (FuzzFile.h). Seeds: test/fuzz/corpus/npy (make_corpus.py).
//
//===----------------------------------------------------------------------===//
#include "FuzzFile.h"

#include "cnnc/runtime.h"

#include <cstddef>
#include <cstdint>

namespace {

void checkArray(const cnnc_array &a) {
  int64_t count = 1;
  for (int32_t i = 0; i < a.rank; ++i)
    count *= a.shape[i];
  if (a.rank < 0 || a.rank > CNNC_ARRAY_MAX_RANK || count != a.count || (count && !a.data))
    __builtin_trap();
  volatile float sink = count ? a.data[0] + a.data[count - 1] : 0; // the whole array is there
  (void)sink;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cnnc::fuzz::MemFile file("input.npy");
  cnnc::fuzz::FileLeakCheck leaks("the .npy reader");
  file.write(data, size);
  cnnc_array a{};
  if (cnnc_npy_load(file.path.c_str(), &a) == CNNC_OK)
    checkArray(a);
  cnnc_array_free(&a);
  cnnc_array b{};
  cnnc_dtype dtype;
  if (cnnc_npy_load_numeric(file.path.c_str(), &b, &dtype) == CNNC_OK)
    checkArray(b);
  cnnc_array_free(&b);
  return 0;
}
