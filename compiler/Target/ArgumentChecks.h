//===- ArgumentChecks.h - which checks of a kernel's arguments to keep -*- C++ -*-===//
//
// Halide guards every pipeline against a caller that passes the wrong
// buffers: each argument's type, rank, extents, strides and the region it
// must cover are checked before any work, a few thousand assertions per
// model. A cnnc kernel has one caller, the runtime, which passes buffers it
// built from the model's own plan, so those checks can only fail on a
// compiler bug; generating them costs about a fifth of the compile time.
// By default they are removed from every kernel (`cnnc --kernel-checks`
// keeps them). Checks that can fail at run time stay: allocation sizes
// that depend on the batch, null or dirty buffers, and every result of a
// Halide runtime call (out of memory, device errors).
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TARGET_ARGUMENTCHECKS_H
#define CNNC_TARGET_ARGUMENTCHECKS_H

#include "Halide.h"

namespace cnnc {

/// Removes the checks of the buffer arguments' type, rank, extents, strides
/// and bounds from what `pipeline` compiles.
void dropArgumentChecks(Halide::Pipeline &pipeline);

} // namespace cnnc

#endif
