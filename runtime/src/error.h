//===- error.h - Thread-local error state of the runtime --------*- C++ -*-===//
//
// Every C API function reports failure by returning a non-OK cnnc_status and
// leaving a message in a thread-local string (cnnc_last_error). Inside the
// runtime, code throws RuntimeError; the C entry points catch it (and
// std::bad_alloc) in guard(), so no exception ever crosses the C ABI.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_SRC_ERROR_H
#define CNNC_RUNTIME_SRC_ERROR_H

#include "cnnc/runtime.h"

#include <new>
#include <stdexcept>
#include <string>

namespace cnnc::rt {

/// An error inside the runtime, turned into a status at the C boundary.
class RuntimeError : public std::runtime_error {
public:
  RuntimeError(cnnc_status status, const std::string &message)
      : std::runtime_error(message), status(status) {}
  cnnc_status status;
};

/// Throws a RuntimeError with the given status and message.
[[noreturn]] inline void fail(cnnc_status status, const std::string &message) {
  throw RuntimeError(status, message);
}

/// Stores `message` as this thread's last error and returns `status`.
cnnc_status setError(cnnc_status status, const std::string &message);

/// Clears this thread's last error.
void clearError();

/// The Halide error handler installed in every model.so: keeps the message
/// (instead of Halide's default, which aborts) so the failing kernel call
/// returns a status that names the problem. Callable from any thread.
void recordKernelError(void *userContext, const char *message);

/// The message recorded since the last call, or "" (and forgets it): the
/// calling thread's own if it has one, else one from a worker thread.
std::string takeKernelError();

/// Marks the calling thread as running a kernel while it lives, so that an
/// error Halide reports on this thread is kept for this thread's call
/// (threads running sessions of one model at once each get their own);
/// errors reported on Halide's worker threads share one slot.
class KernelErrorScope {
public:
  KernelErrorScope();
  ~KernelErrorScope();
  KernelErrorScope(const KernelErrorScope &) = delete;
  KernelErrorScope &operator=(const KernelErrorScope &) = delete;
};

/// Runs `body` (returning void), converting exceptions to a status.
template <typename Fn> cnnc_status guard(Fn &&body) {
  try {
    clearError();
    body();
    return CNNC_OK;
  } catch (const RuntimeError &e) {
    return setError(e.status, e.what());
  } catch (const std::bad_alloc &) {
    return setError(CNNC_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception &e) {
    return setError(CNNC_ERROR_INVALID_ARGUMENT, e.what());
  }
}

/// Formats a shape as "[32,1,3,3]".
template <typename Vec> std::string shapeString(const Vec &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

} // namespace cnnc::rt

#endif
