//===- safetensors.cpp - Model parameters from and to safetensors ---------===//
//
// Reads and writes the safetensors format: an 8-byte little-endian header
// length, a JSON header {name: {"dtype", "shape", "data_offsets": [begin,
// end]}, optional "__metadata__"} and the tensor data, offsets relative to
// the end of the header. Loading validates the whole header against the file
// size and the model before any parameter changes; tensors the model does
// not have are ignored (e.g. batch norm's int64 num_batches_tracked). Also
// cnnc_model_set_parameter / get_parameter. Assumes a little-endian host.
//
//===----------------------------------------------------------------------===//
#include "error.h"
#include "json.h"
#include "model.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>

using namespace cnnc::rt;

namespace {

static_assert(sizeof(float) == 4, "float must be IEEE binary32");

/// Closes a FILE* on scope exit.
struct File {
  std::FILE *f = nullptr;
  ~File() {
    if (f)
      std::fclose(f);
  }
};

/// Bytes per element of the safetensors dtypes, or 0 if unknown.
int64_t dtypeSize(const std::string &dtype) {
  static const std::map<std::string, int64_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
      {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

/// One tensor of a safetensors header.
struct Entry {
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

/// Parses and checks a safetensors header against the data size.
std::map<std::string, Entry> parseHeader(const std::string &path, const std::string &text,
                                         uint64_t dataSize) {
  JsonValue root = parseJson(text, "safetensors header in '" + path + "'");
  auto bad = [&](const std::string &msg) {
    fail(CNNC_ERROR_FORMAT, "malformed safetensors header in '" + path + "': " + msg);
  };
  if (!root.isObject())
    bad(std::string("expected an object, found ") + jsonKindName(root.kind));
  std::map<std::string, Entry> entries;
  for (const auto &[name, v] : root.object) {
    if (name == "__metadata__")
      continue;
    if (!v.isObject())
      bad("tensor '" + name + "' is not an object");
    Entry e;
    const JsonValue *dtype = v.find("dtype");
    const JsonValue *shape = v.find("shape");
    const JsonValue *offsets = v.find("data_offsets");
    if (!dtype || !dtype->isString())
      bad("tensor '" + name + "' has no string \"dtype\"");
    if (!shape || !shape->isArray())
      bad("tensor '" + name + "' has no array \"shape\"");
    if (!offsets || !offsets->isArray() || offsets->array.size() != 2)
      bad("tensor '" + name + "' has no \"data_offsets\" [begin, end]");
    e.dtype = dtype->string;
    uint64_t count = 1;
    bool overflow = false;
    for (const JsonValue &d : shape->array) {
      if (!d.isNumber() || !d.isInteger || d.integer < 0)
        bad("tensor '" + name + "' has a shape entry that is not a non-negative integer");
      e.shape.push_back(d.integer);
      if (d.integer != 0 && count > std::numeric_limits<uint64_t>::max() / 16 / uint64_t(d.integer))
        overflow = true;
      count *= uint64_t(d.integer);
    }
    for (int k = 0; k < 2; ++k)
      if (!offsets->array[k].isNumber() || !offsets->array[k].isInteger ||
          offsets->array[k].integer < 0)
        bad("tensor '" + name + "' has a data offset that is not a non-negative integer");
    e.begin = uint64_t(offsets->array[0].integer);
    e.end = uint64_t(offsets->array[1].integer);
    if (e.begin > e.end)
      bad("tensor '" + name + "' has data_offsets [" + std::to_string(e.begin) + "," +
          std::to_string(e.end) + "] with begin > end");
    if (e.end > dataSize)
      fail(CNNC_ERROR_FORMAT, "truncated safetensors file '" + path + "': tensor '" + name +
                                  "' has data_offsets [" + std::to_string(e.begin) + "," +
                                  std::to_string(e.end) + "] past the end of its " +
                                  std::to_string(dataSize) + " data bytes");
    if (int64_t size = dtypeSize(e.dtype); size && !overflow && count * size != e.end - e.begin)
      bad("tensor '" + name + "' (" + e.dtype + " " + shapeString(e.shape) + ") needs " +
          std::to_string(count * size) + " bytes but data_offsets span " +
          std::to_string(e.end - e.begin));
    entries[name] = std::move(e);
  }
  return entries;
}

void loadParameters(cnnc_model &model, const std::string &path) {
  File file;
  file.f = std::fopen(path.c_str(), "rb");
  if (!file.f)
    fail(CNNC_ERROR_IO, "cannot open weights '" + path + "': " + std::strerror(errno));
  if (std::fseek(file.f, 0, SEEK_END) != 0)
    fail(CNNC_ERROR_IO, "cannot read weights '" + path + "': not a seekable file");
  long fileSizeL = std::ftell(file.f);
  if (fileSizeL < 0)
    fail(CNNC_ERROR_IO, "cannot read weights '" + path + "': " + std::strerror(errno));
  uint64_t fileSize = uint64_t(fileSizeL);
  std::rewind(file.f);
  if (fileSize < 8)
    fail(CNNC_ERROR_FORMAT, "truncated safetensors file '" + path +
                                "': " + std::to_string(fileSize) +
                                " bytes, less than the 8-byte header length");
  unsigned char lenBytes[8];
  if (std::fread(lenBytes, 1, 8, file.f) != 8)
    fail(CNNC_ERROR_IO, "cannot read weights '" + path + "'");
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) | lenBytes[i];
  if (headerLen > fileSize - 8)
    fail(CNNC_ERROR_FORMAT, "truncated safetensors file '" + path + "': header length " +
                                std::to_string(headerLen) + " is past the end of the file (" +
                                std::to_string(fileSize) + " bytes)");
  if (headerLen > (uint64_t(100) << 20))
    fail(CNNC_ERROR_FORMAT, "malformed safetensors file '" + path + "': header length " +
                                std::to_string(headerLen) + " exceeds 100 MB");
  std::string header(headerLen, '\0');
  if (headerLen && std::fread(header.data(), 1, headerLen, file.f) != headerLen)
    fail(CNNC_ERROR_IO, "cannot read the header of weights '" + path + "'");
  uint64_t dataStart = 8 + headerLen;
  std::map<std::string, Entry> entries = parseHeader(path, header, fileSize - dataStart);

  // Validate every parameter before changing any.
  std::vector<const Entry *> found;
  for (const TensorDesc &p : model.parameters) {
    auto it = entries.find(p.name);
    if (it == entries.end())
      fail(CNNC_ERROR_PARAMETER, path + ": missing parameter '" + p.name + "'");
    const Entry &e = it->second;
    if (e.dtype != "F32")
      fail(CNNC_ERROR_PARAMETER, path + ": " + p.name + ": expected dtype F32, found " + e.dtype);
    if (e.shape != p.shape)
      fail(CNNC_ERROR_PARAMETER, path + ": " + p.name + ": expected " + shapeString(p.shape) +
                                     ", found " + shapeString(e.shape));
    found.push_back(&e);
  }
  for (size_t i = 0; i < model.parameters.size(); ++i) {
    const TensorDesc &p = model.parameters[i];
    const Entry &e = *found[i];
    float *dst = model.storage[p.buffer].get();
    size_t bytes = size_t(e.end - e.begin);
    if (std::fseek(file.f, long(dataStart + e.begin), SEEK_SET) != 0 ||
        (bytes && std::fread(dst, 1, bytes, file.f) != bytes)) {
      // The file changed under us or the disk failed: leave no half-loaded state.
      std::fill(model.parameterSet.begin(), model.parameterSet.end(), false);
      fail(CNNC_ERROR_IO, "cannot read parameter '" + p.name + "' from '" + path + "'");
    }
    markHostWritten(model, p.buffer);
    model.parameterSet[i] = true;
  }
  model.prepared = false;
}

void saveParameters(const cnnc_model &model, const std::string &path) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  uint64_t offset = 0;
  for (size_t i = 0; i < model.parameters.size(); ++i) {
    const TensorDesc &p = model.parameters[i];
    if (!model.parameterSet[i])
      fail(CNNC_ERROR_PARAMETER, "cannot save parameters: '" + p.name + "' has not been set");
    uint64_t bytes = uint64_t(p.itemCount) * 4;
    header += "," + jsonQuote(p.name) + ":{\"dtype\":\"F32\",\"shape\":" + shapeString(p.shape) +
              ",\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  while (header.size() % 8)
    header += ' ';
  File file;
  file.f = std::fopen(path.c_str(), "wb");
  if (!file.f)
    fail(CNNC_ERROR_IO, "cannot write weights '" + path + "': " + std::strerror(errno));
  unsigned char lenBytes[8];
  uint64_t len = header.size();
  for (int i = 0; i < 8; ++i)
    lenBytes[i] = (unsigned char)(len >> (8 * i));
  bool ok = std::fwrite(lenBytes, 1, 8, file.f) == 8 &&
            std::fwrite(header.data(), 1, header.size(), file.f) == header.size();
  for (size_t i = 0; ok && i < model.parameters.size(); ++i) {
    const TensorDesc &p = model.parameters[i];
    size_t n = size_t(p.itemCount);
    ok = std::fwrite(model.storage[p.buffer].get(), sizeof(float), n, file.f) == n;
  }
  std::FILE *f = file.f;
  file.f = nullptr;
  if (std::fclose(f) != 0)
    ok = false;
  if (!ok)
    fail(CNNC_ERROR_IO, "cannot write weights '" + path + "': " + std::strerror(errno));
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

extern "C" cnnc_status cnnc_model_load_parameters(cnnc_model *model, const char *path) {
  return guard([&] {
    if (!model || !path)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_load_parameters: null model or path");
    loadParameters(*model, path);
  });
}

extern "C" cnnc_status cnnc_model_save_parameters(const cnnc_model *model, const char *path) {
  return guard([&] {
    if (!model || !path)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_save_parameters: null model or path");
    saveParameters(*model, path);
  });
}

extern "C" cnnc_status cnnc_model_set_parameter(cnnc_model *model, const char *name,
                                                const float *data, size_t count) {
  return guard([&] {
    int i = requireParameter(model, name, count, "cnnc_model_set_parameter");
    if (!data && count)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_set_parameter: data is null");
    const TensorDesc &p = model->parameters[i];
    std::memcpy(model->storage[p.buffer].get(), data, count * sizeof(float));
    markHostWritten(*model, p.buffer);
    model->parameterSet[i] = true;
    model->prepared = false;
  });
}

extern "C" cnnc_status cnnc_model_get_parameter(const cnnc_model *model, const char *name,
                                                size_t count, float *out_data) {
  return guard([&] {
    int i = requireParameter(model, name, count, "cnnc_model_get_parameter");
    if (!out_data && count)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_get_parameter: out_data is null");
    if (!model->parameterSet[i])
      fail(CNNC_ERROR_PARAMETER, "parameter '" + std::string(name) + "' has not been set");
    const TensorDesc &p = model->parameters[i];
    std::memcpy(out_data, model->storage[p.buffer].get(), count * sizeof(float));
  });
}
