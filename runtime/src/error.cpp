//===- error.cpp - Thread-local error state of the runtime ----------------===//
//
// Implements cnnc_last_error and cnnc_status_string. The message is one
// std::string per thread, replaced by each failing call and cleared by each
// guarded call. Halide's error messages are kept per calling thread too
// (KernelErrorScope), and in one shared slot for Halide's worker threads.
//
//===----------------------------------------------------------------------===//
#include "error.h"

#include <mutex>

namespace {
thread_local std::string lastError;
} // namespace

namespace cnnc::rt {

cnnc_status setError(cnnc_status status, const std::string &message) {
  try {
    lastError = message;
  } catch (...) {
    // Keep the status even if the message cannot be stored.
  }
  return status;
}

void clearError() { lastError.clear(); }

} // namespace cnnc::rt

extern "C" const char *cnnc_last_error(void) { return lastError.c_str(); }

extern "C" const char *cnnc_status_string(cnnc_status status) {
  switch (status) {
  case CNNC_OK:
    return "ok";
  case CNNC_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case CNNC_ERROR_IO:
    return "I/O error";
  case CNNC_ERROR_FORMAT:
    return "format error";
  case CNNC_ERROR_ABI:
    return "ABI error";
  case CNNC_ERROR_PARAMETER:
    return "parameter error";
  case CNNC_ERROR_KERNEL:
    return "kernel error";
  case CNNC_ERROR_OUT_OF_MEMORY:
    return "out of memory";
  case CNNC_ERROR_DEVICE:
    return "device error";
  case CNNC_ERROR_BUSY:
    return "in use";
  }
  return "unknown status";
}

namespace {
std::mutex kernelErrorMutex;
std::string kernelError; ///< reported on a thread outside any KernelErrorScope
thread_local int kernelScopes = 0;
thread_local std::string threadKernelError;

void trimMessage(std::string &message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
    message.pop_back();
}
} // namespace

cnnc::rt::KernelErrorScope::KernelErrorScope() { ++kernelScopes; }
cnnc::rt::KernelErrorScope::~KernelErrorScope() { --kernelScopes; }

void cnnc::rt::recordKernelError(void *, const char *message) {
  if (!message)
    return;
  if (kernelScopes > 0) {
    if (threadKernelError.empty())
      threadKernelError = message;
    return;
  }
  std::lock_guard<std::mutex> lock(kernelErrorMutex);
  if (kernelError.empty())
    kernelError = message;
}

std::string cnnc::rt::takeKernelError() {
  std::string message;
  message.swap(threadKernelError);
  {
    std::lock_guard<std::mutex> lock(kernelErrorMutex);
    if (message.empty())
      message.swap(kernelError);
  }
  trimMessage(message);
  return message;
}
