//===- parameters.cpp - Model parameters from and to safetensors ----------===//
//
// Loads a model's parameters from a safetensors file (safetensors.h reads
// it), or from the values model.so embeds, and saves them. Loading checks
// every parameter (present, F32, exactly the expected shape) before any
// changes; tensors the model does not have are ignored (e.g. batch norm's
// int64 num_batches_tracked). With a prefix to strip, parameter NAME is read
// from the file's tensor PREFIX + NAME, and tensors without the prefix are
// ignored. A missing parameter is reported with the file's nearest names and
// the prefix every parameter has in the file, if any. Also
// cnnc_model_set_parameter (by count or by full shape) and _get_parameter.
//
//===----------------------------------------------------------------------===//
#include "error.h"
#include "model.h"
#include "safetensors.h"

#include <algorithm>
#include <cstring>

using namespace cnnc::rt;

namespace {

/// Sets every parameter of `model` from `reader`'s tensors stripPrefix + name.
void readParameters(cnnc_model &model, const SafetensorsReader &reader,
                    const std::string &stripPrefix = "") {
  const std::string &path = reader.path;
  // Validate every parameter before changing any.
  std::vector<const SafetensorsEntry *> found;
  std::vector<MissingTensor> missing;
  for (const TensorDesc &p : model.parameters) {
    found.push_back(reader.find(stripPrefix + p.name));
    if (!found.back())
      missing.push_back({p.name, p.shape});
  }
  if (!missing.empty()) {
    std::vector<std::string> wanted;
    for (const TensorDesc &p : model.parameters)
      wanted.push_back(p.name);
    fail(CNNC_ERROR_PARAMETER,
         missingTensorsMessage(path, "parameter", missing, wanted, reader.names(), stripPrefix));
  }
  for (size_t i = 0; i < model.parameters.size(); ++i)
    reader.check(*found[i], stripPrefix + model.parameters[i].name, model.parameters[i].shape);
  for (size_t i = 0; i < model.parameters.size(); ++i) {
    const TensorDesc &p = model.parameters[i];
    if (!reader.read(*found[i], model.storage[p.buffer].get())) {
      // The file changed under us or the disk failed: leave no half-loaded state.
      std::fill(model.parameterSet.begin(), model.parameterSet.end(), false);
      fail(CNNC_ERROR_IO, "cannot read parameter '" + p.name + "' from '" + path + "'");
    }
    markHostWritten(model, p.buffer);
    model.parameterSet[i] = true;
  }
  model.prepared = false;
}

void loadParameters(cnnc_model &model, const std::string &path, const std::string &stripPrefix) {
  readParameters(model, SafetensorsReader(path, "weights"), stripPrefix);
}

void saveParameters(const cnnc_model &model, const std::string &path) {
  std::vector<SafetensorsTensor> tensors;
  for (size_t i = 0; i < model.parameters.size(); ++i) {
    const TensorDesc &p = model.parameters[i];
    if (!model.parameterSet[i])
      fail(CNNC_ERROR_PARAMETER, "cannot save parameters: '" + p.name + "' has not been set");
    tensors.push_back({p.name, p.shape, currentHostData(model, p.buffer), p.itemCount});
  }
  writeSafetensors(path, {{safetensors_key::kFormat, "pt"}}, tensors, "weights");
}

int requireParameter(const cnnc_model *model, const char *name, size_t count, const char *fn) {
  if (!model || !name)
    fail(CNNC_ERROR_INVALID_ARGUMENT, std::string(fn) + ": null model or name");
  int i = findParameter(*model, name);
  if (i < 0)
    fail(CNNC_ERROR_INVALID_ARGUMENT,
         std::string(fn) + ": the model has no parameter '" + name + "'");
  const TensorDesc &p = model->parameters[i];
  if (count != size_t(p.itemCount))
    fail(CNNC_ERROR_INVALID_ARGUMENT,
         std::string(fn) + ": parameter '" + p.name + "' " + shapeString(p.shape) + " has " +
             std::to_string(p.itemCount) + " elements, got " + std::to_string(count));
  return i;
}

} // namespace

void cnnc::rt::loadDefaultParameters(cnnc_model &model) {
  const cnnc_model_desc &desc = *model.desc;
  if (!desc.default_parameters_size)
    return;
  if (!desc.default_parameters)
    fail(CNNC_ERROR_FORMAT,
         "malformed model '" + model.path + "': default_parameters is null but its size is not 0");
  readParameters(model, SafetensorsReader(desc.default_parameters, desc.default_parameters_size,
                                          "the parameters embedded in '" + model.path + "'"));
}

extern "C" int cnnc_model_has_default_parameters(const cnnc_model *model) {
  return model && model->desc->default_parameters_size ? 1 : 0;
}

extern "C" cnnc_status cnnc_model_load_default_parameters(cnnc_model *model) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_load_default_parameters", ModelAccess::ChangeParameters);
    if (!model)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_load_default_parameters: null model");
    if (!model->desc->default_parameters_size)
      fail(CNNC_ERROR_PARAMETER, "model '" + model->path + "' embeds no parameter values");
    loadDefaultParameters(*model);
  });
}

extern "C" cnnc_status cnnc_model_load_parameters(cnnc_model *model, const char *path) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_load_parameters", ModelAccess::ChangeParameters);
    if (!model || !path)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_load_parameters: null model or path");
    loadParameters(*model, path, "");
  });
}

extern "C" cnnc_status cnnc_model_load_parameters_prefixed(cnnc_model *model, const char *path,
                                                           const char *strip_prefix) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_load_parameters_prefixed", ModelAccess::ChangeParameters);
    if (!model || !path)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_load_parameters_prefixed: null model or path");
    loadParameters(*model, path, strip_prefix ? strip_prefix : "");
  });
}

extern "C" cnnc_status cnnc_model_save_parameters(const cnnc_model *model, const char *path) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_save_parameters");
    if (!model || !path)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_save_parameters: null model or path");
    saveParameters(*model, path);
  });
}

/// Sets parameter `i` from its element count of floats at `data`.
static void setParameter(cnnc_model &model, int i, const float *data, const char *fn) {
  const TensorDesc &p = model.parameters[i];
  if (!data && p.itemCount)
    fail(CNNC_ERROR_INVALID_ARGUMENT, std::string(fn) + ": data is null");
  std::memcpy(model.storage[p.buffer].get(), data, size_t(p.itemCount) * sizeof(float));
  markHostWritten(model, p.buffer);
  model.parameterSet[i] = true;
  model.prepared = false;
}

extern "C" cnnc_status cnnc_model_set_parameter(cnnc_model *model, const char *name,
                                                const float *data, size_t count) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_set_parameter", ModelAccess::ChangeParameters);
    int i = requireParameter(model, name, count, "cnnc_model_set_parameter");
    setParameter(*model, i, data, "cnnc_model_set_parameter");
  });
}

extern "C" cnnc_status cnnc_model_set_parameter_shaped(cnnc_model *model, const char *name,
                                                       const float *data, int32_t rank,
                                                       const int64_t *shape) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_set_parameter_shaped", ModelAccess::ChangeParameters);
    const char *fn = "cnnc_model_set_parameter_shaped";
    if (!model || !name)
      fail(CNNC_ERROR_INVALID_ARGUMENT, std::string(fn) + ": null model or name");
    int i = findParameter(*model, name);
    if (i < 0)
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           std::string(fn) + ": the model has no parameter '" + name + "'");
    checkArrayShape(model->parameters[i], "parameter", rank, shape, nullptr);
    setParameter(*model, i, data, fn);
  });
}

extern "C" cnnc_status cnnc_model_get_parameter(const cnnc_model *model, const char *name,
                                                size_t count, float *out_data) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_get_parameter");
    int i = requireParameter(model, name, count, "cnnc_model_get_parameter");
    if (!out_data && count)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_get_parameter: out_data is null");
    if (!model->parameterSet[i])
      fail(CNNC_ERROR_PARAMETER, "parameter '" + std::string(name) + "' has not been set");
    const TensorDesc &p = model->parameters[i];
    std::memcpy(out_data, currentHostData(*model, p.buffer), count * sizeof(float));
  });
}
