//===- GlibcCompat.cpp - arc4random for cnnrun_static ---------------------===//
//
// The static libstdc++ that cnnrun_static links in references arc4random
// (std::random_device's default source, never used by cnnrun), which glibc
// has only since 2.36. Defining it here keeps the binary's glibc requirement
// at 2.34, that of every model.so, so it runs on older GPU hosts too.
//
//===----------------------------------------------------------------------===//
#include <cstdint>
#include <sys/random.h>

extern "C" uint32_t arc4random(void) {
  uint32_t value = 0;
  while (getrandom(&value, sizeof value, 0) != ssize_t(sizeof value)) {
  }
  return value;
}
