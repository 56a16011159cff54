//===- runtime.hpp - C++ wrapper over the cnnc runtime C API ----*- C++ -*-===//
//
// Header-only RAII classes over cnnc/runtime.h: cnnc::Model owns a loaded
// model.so, cnnc::Array owns an array read from .npy or IDX. Every failing C
// call becomes a cnnc::Error carrying the status and cnnc_last_error()'s
// message. Nothing here adds behaviour; it only changes the spelling.
// Example:
//   cnnc::Model model("model.so");
//   model.loadParameters("w.safetensors");
//   std::vector<float> y = model.run(batch, x); // one input, one output
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_HPP
#define CNNC_RUNTIME_HPP

#include "cnnc/runtime.h"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace cnnc {

/// A failed runtime call: the status and the runtime's message.
class Error : public std::runtime_error {
public:
  Error(cnnc_status status, const std::string &message)
      : std::runtime_error(message), status_(status) {}
  /// The C status of the failed call.
  cnnc_status status() const { return status_; }

private:
  cnnc_status status_;
};

/// Throws cnnc::Error if `status` is not CNNC_OK.
inline void check(cnnc_status status) {
  if (status != CNNC_OK)
    throw Error(status, cnnc_last_error());
}

/// An input, output or parameter of a model. shape[i] == -1 is the batch.
struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  int64_t itemCount = 0; ///< elements per batch item (all if unbatched)
  bool batched = false;

  /// The shape with the batch dimension set to `batch`.
  std::vector<int64_t> shapeFor(int64_t batch) const {
    std::vector<int64_t> s = shape;
    for (int64_t &d : s)
      if (d == -1)
        d = batch;
    return s;
  }
  /// Elements for `batch` items.
  int64_t countFor(int64_t batch) const { return batched ? itemCount * batch : itemCount; }
};

/// One inference step.
struct StepInfo {
  std::string name;
  int64_t flops = 0; ///< per batch item
};

/// A loaded model.so; move-only, unloaded on destruction.
class Model {
public:
  /// Loads the model library at `path`.
  explicit Model(const std::string &path) {
    cnnc_model *m = nullptr;
    check(cnnc_model_load(path.c_str(), &m));
    model_.reset(m);
  }

  /// The metadata's model name.
  std::string name() const { return cnnc_model_name(get()); }
  /// The Halide target the kernels were compiled for.
  std::string target() const { return cnnc_model_target(get()); }

  std::vector<TensorInfo> inputs() const { return tensors(CNNC_ROLE_INPUT); }
  std::vector<TensorInfo> outputs() const { return tensors(CNNC_ROLE_OUTPUT); }
  std::vector<TensorInfo> parameters() const { return tensors(CNNC_ROLE_PARAMETER); }

  /// The inference steps in execution order.
  std::vector<StepInfo> steps() const {
    std::vector<StepInfo> result;
    for (size_t i = 0, n = cnnc_model_num_steps(get()); i < n; ++i) {
      cnnc_step_info info;
      check(cnnc_model_get_step_info(get(), i, &info));
      result.push_back({info.name, info.flops});
    }
    return result;
  }

  /// Loads all parameters from a safetensors file.
  void loadParameters(const std::string &path) {
    check(cnnc_model_load_parameters(get(), path.c_str()));
  }
  /// Saves all parameters to a safetensors file.
  void saveParameters(const std::string &path) const {
    check(cnnc_model_save_parameters(get(), path.c_str()));
  }
  /// Sets one parameter; `data` must have exactly its element count.
  void setParameter(const std::string &name, const std::vector<float> &data) {
    check(cnnc_model_set_parameter(get(), name.c_str(), data.data(), data.size()));
  }
  /// Returns a copy of one parameter.
  std::vector<float> getParameter(const std::string &name) const {
    for (const TensorInfo &p : parameters())
      if (p.name == name) {
        std::vector<float> data(size_t(p.itemCount));
        check(cnnc_model_get_parameter(get(), name.c_str(), data.size(), data.data()));
        return data;
      }
    throw Error(CNNC_ERROR_INVALID_ARGUMENT, "the model has no parameter '" + name + "'");
  }
  /// Runs the prepare kernels now (otherwise done by the first run).
  void prepare() { check(cnnc_model_prepare(get())); }

  /// Runs a batch: one pointer per input and output, in metadata order.
  void run(int64_t batch, const std::vector<const float *> &inputs,
           const std::vector<float *> &outputs) {
    checkCounts(inputs.size(), outputs.size());
    check(cnnc_model_run(get(), batch, inputs.data(), outputs.data()));
  }
  /// Runs a batch and returns the wall time of each step in milliseconds.
  std::vector<double> runTimed(int64_t batch, const std::vector<const float *> &inputs,
                               const std::vector<float *> &outputs) {
    checkCounts(inputs.size(), outputs.size());
    std::vector<double> ms(cnnc_model_num_steps(get()));
    check(cnnc_model_run_timed(get(), batch, inputs.data(), outputs.data(), ms.data()));
    return ms;
  }
  /// Convenience for a model with one input and one output.
  std::vector<float> run(int64_t batch, const std::vector<float> &input) {
    std::vector<TensorInfo> in = inputs(), out = outputs();
    if (in.size() != 1 || out.size() != 1)
      throw Error(CNNC_ERROR_INVALID_ARGUMENT,
                  "Model::run(batch, input) needs a model with one input and one output");
    if (batch >= 1 && int64_t(input.size()) != in[0].countFor(batch))
      throw Error(CNNC_ERROR_INVALID_ARGUMENT, "input '" + in[0].name + "' needs " +
                                                   std::to_string(in[0].countFor(batch)) +
                                                   " floats for batch " + std::to_string(batch) +
                                                   ", got " + std::to_string(input.size()));
    std::vector<float> result(size_t(batch >= 1 ? out[0].countFor(batch) : 0));
    run(batch, {input.data()}, {result.data()});
    return result;
  }

  /// The underlying C handle (still owned by this object).
  cnnc_model *get() const { return model_.get(); }

private:
  struct Deleter {
    void operator()(cnnc_model *m) const { cnnc_model_free(m); }
  };
  std::unique_ptr<cnnc_model, Deleter> model_;

  std::vector<TensorInfo> tensors(cnnc_tensor_role role) const {
    std::vector<TensorInfo> result;
    for (size_t i = 0, n = cnnc_model_num_tensors(get(), role); i < n; ++i) {
      cnnc_tensor_info info;
      check(cnnc_model_get_tensor_info(get(), role, i, &info));
      result.push_back({info.name, std::vector<int64_t>(info.shape, info.shape + info.rank),
                        info.item_count, info.batched != 0});
    }
    return result;
  }
  void checkCounts(size_t numInputs, size_t numOutputs) const {
    size_t wantIn = cnnc_model_num_tensors(get(), CNNC_ROLE_INPUT);
    size_t wantOut = cnnc_model_num_tensors(get(), CNNC_ROLE_OUTPUT);
    if (numInputs != wantIn || numOutputs != wantOut)
      throw Error(CNNC_ERROR_INVALID_ARGUMENT, "the model has " + std::to_string(wantIn) +
                                                   " inputs and " + std::to_string(wantOut) +
                                                   " outputs, got " + std::to_string(numInputs) +
                                                   " and " + std::to_string(numOutputs));
  }
};

/// A float32 array read from a file (owns its data; move-only).
class Array {
public:
  Array() = default;
  Array(Array &&other) noexcept : a_(other.a_) { other.a_ = cnnc_array{}; }
  Array &operator=(Array &&other) noexcept {
    if (this != &other) {
      cnnc_array_free(&a_);
      a_ = other.a_;
      other.a_ = cnnc_array{};
    }
    return *this;
  }
  Array(const Array &) = delete;
  Array &operator=(const Array &) = delete;
  ~Array() { cnnc_array_free(&a_); }

  /// Reads a .npy file (little-endian float32, C order).
  static Array loadNpy(const std::string &path) {
    Array a;
    check(cnnc_npy_load(path.c_str(), &a.a_));
    return a;
  }
  /// Reads an unsigned-byte IDX file, gzipped or plain; values are 0..255.
  static Array loadIdx(const std::string &path) {
    Array a;
    check(cnnc_idx_load(path.c_str(), &a.a_));
    return a;
  }
  /// Writes `data` with `shape` as a .npy file.
  static void saveNpy(const std::string &path, const float *data,
                      const std::vector<int64_t> &shape) {
    check(cnnc_npy_save(path.c_str(), data, int32_t(shape.size()), shape.data()));
  }

  std::vector<int64_t> shape() const { return {a_.shape, a_.shape + a_.rank}; }
  int64_t count() const { return a_.count; }
  const float *data() const { return a_.data; }
  float *data() { return a_.data; }

private:
  cnnc_array a_{};
};

} // namespace cnnc

#endif
