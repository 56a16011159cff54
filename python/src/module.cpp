//===- module.cpp - The cnnc._cnnc extension: the runtime for Python ------===//
//
// A pybind11 binding of the C++ runtime wrapper (cnnc/runtime.hpp): one class,
// _cnnc.Model, over a loaded model.so, taking and returning NumPy float32
// arrays. Inputs that are already float32 and C-contiguous are passed to the
// kernels without a copy; outputs are written straight into new arrays. Every
// array's full shape is checked against the model's metadata (inputs,
// labels [batch], parameters: an NHWC array or a transposed weight with the
// right element count is refused, not silently misread). The GIL is
// released while kernels run. A failed runtime call raises cnnc.CnncError
// with the runtime's message and `status` set to the status name. The
// Pythonic layer (cnnc.Model, fit, compile) is python/cnnc/*.py.
//
//===----------------------------------------------------------------------===//
#include "cnnc/runtime.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

[[noreturn]] void invalid(const std::string &message) {
  throw cnnc::Error(CNNC_ERROR_INVALID_ARGUMENT, message);
}

/// Converts `arrays` to float32 C order and checks each against `infos`:
/// the same rank, the same dimensions, one batch size for all. Returns the batch.
int64_t checkInputs(const std::vector<cnnc::TensorInfo> &infos, std::vector<FloatArray> &arrays) {
  if (arrays.size() != infos.size())
    invalid("the model has " + std::to_string(infos.size()) + " input(s), got " +
            std::to_string(arrays.size()));
  int64_t batch = -1;
  for (size_t i = 0; i < arrays.size(); ++i) {
    const cnnc::TensorInfo &info = infos[i];
    std::vector<int64_t> got(arrays[i].shape(), arrays[i].shape() + arrays[i].ndim());
    if (got.empty() || got.size() != info.shape.size())
      invalid("input '" + info.name + "' has shape " + shapeString(info.shape) +
              " (-1: the batch), got an array of shape " + shapeString(got));
    if (batch < 0)
      batch = got[0];
    bool same = true;
    for (size_t d = 0; d < got.size(); ++d)
      same &= got[d] == (info.shape[d] == -1 ? batch : info.shape[d]);
    if (!same)
      invalid("input '" + info.name + "' needs shape " + shapeString(info.shapeFor(batch)) +
              " for batch " + std::to_string(batch) + ", got " + shapeString(got));
  }
  if (batch < 1)
    invalid("the batch must have at least one item");
  return batch;
}

std::vector<const float *> pointers(const std::vector<FloatArray> &arrays) {
  std::vector<const float *> result;
  for (const FloatArray &a : arrays)
    result.push_back(a.data());
  return result;
}

/// Labels must be one class index per item: shape [batch].
FloatArray checkLabels(FloatArray labels, int64_t batch) {
  std::vector<int64_t> got(labels.shape(), labels.shape() + labels.ndim());
  if (got != std::vector<int64_t>{batch})
    invalid("labels need shape [" + std::to_string(batch) + "] for batch " + std::to_string(batch) +
            " (one class index per item), got " + shapeString(got));
  return labels;
}

py::dict tensorDict(const std::vector<cnnc::TensorInfo> &infos) {
  py::dict result;
  for (const cnnc::TensorInfo &t : infos) {
    py::dict d;
    d["shape"] = t.shape;
    d["item_count"] = t.itemCount;
    d["batched"] = t.batched;
    result[py::str(t.name)] = d;
  }
  return result;
}

cnnc::TensorInfo findTensor(const std::vector<cnnc::TensorInfo> &infos, const std::string &name,
                            const char *what) {
  for (const cnnc::TensorInfo &t : infos)
    if (t.name == name)
      return t;
  invalid(std::string("the model has no ") + what + " '" + name + "'");
}

/// A train or eval step's result as Python receives it: (mean loss, correct count).
/// A copy of the parameter or state tensor `name` (`what` names the kind in
/// errors), read with `copy` (cnnc_model_get_parameter or _get_state).
FloatArray copyTensor(const cnnc::Model &model, const std::vector<cnnc::TensorInfo> &infos,
                      const std::string &name, const char *what,
                      cnnc_status (*copy)(const cnnc_model *, const char *, size_t, float *)) {
  FloatArray result(findTensor(infos, name, what).shape);
  cnnc::check(copy(model.get(), name.c_str(), size_t(result.size()), result.mutable_data()));
  return result;
}

std::pair<float, float> lossAndCorrect(const cnnc::StepResult &r) { return {r.loss, r.correct}; }

/// The optimizer settings as Python sees them: a dict with PyTorch's names.
py::dict optimizerDict(const cnnc::OptimizerSettings &s) {
  py::dict d;
  d["name"] = s.name;
  d["momentum"] = s.momentum;
  d["dampening"] = s.dampening;
  d["weight_decay"] = s.weightDecay;
  d["nesterov"] = s.nesterov;
  d["beta1"] = s.beta1;
  d["beta2"] = s.beta2;
  d["epsilon"] = s.epsilon;
  return d;
}

/// The settings of a dict with exactly optimizerDict's keys.
cnnc::OptimizerSettings optimizerSettings(const py::dict &d) {
  const char *keys[] = {"name",     "momentum", "dampening", "weight_decay",
                        "nesterov", "beta1",    "beta2",     "epsilon"};
  for (auto item : d) {
    std::string key = py::str(item.first);
    if (std::find(std::begin(keys), std::end(keys), key) == std::end(keys))
      invalid("unknown optimizer setting '" + key +
              "' (expected name, momentum, dampening, weight_decay, nesterov, beta1, beta2, "
              "epsilon)");
  }
  for (const char *key : keys)
    if (!d.contains(key))
      invalid(std::string("missing optimizer setting '") + key + "'");
  cnnc::OptimizerSettings s;
  s.name = py::cast<std::string>(d["name"]);
  s.momentum = py::cast<double>(d["momentum"]);
  s.dampening = py::cast<double>(d["dampening"]);
  s.weightDecay = py::cast<double>(d["weight_decay"]);
  s.nesterov = py::cast<bool>(d["nesterov"]);
  s.beta1 = py::cast<double>(d["beta1"]);
  s.beta2 = py::cast<double>(d["beta2"]);
  s.epsilon = py::cast<double>(d["epsilon"]);
  return s;
}

} // namespace

PYBIND11_MODULE(_cnnc, m) {
  m.doc() = "The cnnc runtime: load a model.so compiled by cnnc, run and train it.";

  static py::exception<cnnc::Error> errorType(m, "CnncError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p)
        std::rethrow_exception(p);
    } catch (const cnnc::Error &e) {
      py::object error = py::handle(errorType.ptr())(e.what());
      error.attr("status") = cnnc_status_string(e.status());
      PyErr_SetObject(errorType.ptr(), error.ptr());
    }
  });

  m.def(
      "lr_at",
      [](const std::string &schedule, double baseLr, uint64_t step, int64_t stepsPerEpoch,
         int64_t epochs) {
        return cnnc::LrSchedule(schedule).at(baseLr, step, stepsPerEpoch, epochs);
      },
      py::arg("schedule"), py::arg("base_lr"), py::arg("step"), py::arg("steps_per_epoch"),
      py::arg("epochs"),
      "The learning rate of 0-based `step` under a schedule (constant, step:E:G, cosine).");

  py::class_<cnnc::Model>(m, "Model")
      .def(py::init<const std::string &>(), py::arg("path"))
      .def_property_readonly("name", &cnnc::Model::name)
      .def_property_readonly("target", &cnnc::Model::target)
      .def_property_readonly("device_api", &cnnc::Model::deviceApi)
      .def_property_readonly("inputs",
                             [](const cnnc::Model &self) { return tensorDict(self.inputs()); })
      .def_property_readonly("outputs",
                             [](const cnnc::Model &self) { return tensorDict(self.outputs()); })
      .def_property_readonly("parameters",
                             [](const cnnc::Model &self) { return tensorDict(self.parameters()); })
      .def_property_readonly("state",
                             [](const cnnc::Model &self) { return tensorDict(self.state()); })
      .def_property_readonly("has_training", &cnnc::Model::hasTraining)
      .def_property_readonly("has_default_parameters", &cnnc::Model::hasDefaultParameters)
      .def_property_readonly("step_count", &cnnc::Model::stepCount)
      .def_property_readonly("seed", &cnnc::Model::seed)
      .def_property("label_smoothing", &cnnc::Model::labelSmoothing,
                    &cnnc::Model::setLabelSmoothing)
      .def_property_readonly("has_clip_grad_norm", &cnnc::Model::hasClipGradNorm)
      .def_property("clip_grad_norm", &cnnc::Model::clipGradNorm, &cnnc::Model::setClipGradNorm)
      .def("train_info",
           [](const cnnc::Model &self) {
             cnnc::TrainInfo t = self.trainInfo();
             py::dict d;
             d["loss"] = t.loss;
             d["optimizer"] = t.optimizer;
             d["lr"] = t.lr;
             d["batch"] = t.batch;
             d["epochs"] = t.epochs;
             d["classes"] = t.classes;
             return d;
           })
      .def_property_readonly(
          "optimizer", [](const cnnc::Model &self) { return optimizerDict(self.optimizer()); })
      .def("set_optimizer",
           [](cnnc::Model &self, const py::dict &settings) {
             self.setOptimizer(optimizerSettings(settings));
           })
      .def("set_parameter",
           [](cnnc::Model &self, const std::string &name, FloatArray value) {
             cnnc::TensorInfo info = findTensor(self.parameters(), name, "parameter");
             std::vector<int64_t> got(value.shape(), value.shape() + value.ndim());
             if (got != info.shape)
               invalid("parameter '" + name + "' needs shape " + shapeString(info.shape) +
                       ", got " + shapeString(got));
             self.setParameter(name, value.data(), got);
           })
      .def("get_parameter",
           [](const cnnc::Model &self, const std::string &name) {
             return copyTensor(self, self.parameters(), name, "parameter",
                               cnnc_model_get_parameter);
           })
      .def("get_state",
           [](const cnnc::Model &self, const std::string &name) {
             return copyTensor(self, self.state(), name, "state tensor", cnnc_model_get_state);
           })
      .def("load_parameters", &cnnc::Model::loadParameters, py::arg("path"),
           py::arg("strip_prefix") = "")
      .def("load_default_parameters", &cnnc::Model::loadDefaultParameters)
      .def("save_parameters", &cnnc::Model::saveParameters, py::arg("path"))
      .def("init_parameters", &cnnc::Model::initParameters, py::arg("seed") = 0)
      .def(
          "save_checkpoint",
          [](const cnnc::Model &self, const std::string &path) { self.save(path); },
          py::arg("path"))
      .def("load_checkpoint", &cnnc::Model::load, py::arg("path"))
      .def("prepare", &cnnc::Model::prepare, py::call_guard<py::gil_scoped_release>())
      .def("run",
           [](cnnc::Model &self, std::vector<FloatArray> inputs) {
             int64_t batch = checkInputs(self.inputs(), inputs);
             std::vector<FloatArray> outputs;
             std::vector<float *> outPtrs;
             for (const cnnc::TensorInfo &info : self.outputs()) {
               outputs.emplace_back(info.shapeFor(batch));
               outPtrs.push_back(outputs.back().mutable_data());
             }
             std::vector<const float *> inPtrs = pointers(inputs);
             {
               py::gil_scoped_release release;
               self.run(batch, inPtrs, outPtrs);
             }
             return outputs;
           })
      .def("train_step",
           [](cnnc::Model &self, std::vector<FloatArray> inputs, FloatArray labels, float lr) {
             int64_t batch = checkInputs(self.inputs(), inputs);
             labels = checkLabels(labels, batch);
             std::vector<const float *> inPtrs = pointers(inputs);
             py::gil_scoped_release release;
             return lossAndCorrect(self.trainStep(batch, inPtrs, labels.data(), lr));
           })
      .def("evaluate", [](cnnc::Model &self, std::vector<FloatArray> inputs, FloatArray labels) {
        int64_t batch = checkInputs(self.inputs(), inputs);
        labels = checkLabels(labels, batch);
        std::vector<const float *> inPtrs = pointers(inputs);
        py::gil_scoped_release release;
        return lossAndCorrect(self.evaluate(batch, inPtrs, labels.data()));
      });
}
