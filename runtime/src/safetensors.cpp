//===- safetensors.cpp - Model parameters from and to safetensors ---------===//
//
// Reads and writes the safetensors format: an 8-byte little-endian header
// length, a JSON header {name: {"dtype", "shape", "data_offsets": [begin,
// end]}, optional "__metadata__"} and the tensor data, offsets relative to
// the end of the header. Loading validates the whole header against the file
// size and the model before any parameter changes; tensors the model does
// not have are ignored (e.g. batch norm's int64 num_batches_tracked). Also
// cnnc_model_set_parameter / get_parameter. The reader and the atomic
// writer (temporary file, fsync, rename) are shared with checkpoints
// (safetensors.h). Assumes a little-endian host.
//
//===----------------------------------------------------------------------===//
#include "safetensors.h"
#include "error.h"
#include "json.h"
#include "model.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>

using namespace cnnc::rt;

namespace {

static_assert(sizeof(float) == 4, "float must be IEEE binary32");

/// Bytes per element of the safetensors dtypes, or 0 if unknown.
int64_t dtypeSize(const std::string &dtype) {
  static const std::map<std::string, int64_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
      {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

using Entry = SafetensorsEntry;
namespace key = safetensors_key;

/// `name` in double quotes, as header keys appear in messages.
std::string quote(const char *name) { return std::string("\"") + name + "\""; }

/// Parses and checks a safetensors header against the data size; string
/// values of "__metadata__" go to `metadata`.
std::map<std::string, Entry> parseHeader(const std::string &path, const std::string &text,
                                         uint64_t dataSize,
                                         std::map<std::string, std::string> &metadata) {
  Json root = parseJson(text, "safetensors header in '" + path + "'");
  auto bad = [&](const std::string &msg) {
    fail(CNNC_ERROR_FORMAT, "malformed safetensors header in '" + path + "': " + msg);
  };
  if (!root.is_object())
    bad(std::string("expected an object, found ") + root.type_name());
  std::map<std::string, Entry> entries;
  for (const auto &member : root.items()) {
    const std::string &name = member.key();
    const Json &v = member.value();
    if (name == key::kMetadata) {
      if (v.is_object())
        for (const auto &item : v.items())
          if (item.value().is_string())
            metadata[item.key()] = item.value().get<std::string>();
      continue;
    }
    if (!v.is_object())
      bad("tensor '" + name + "' is not an object");
    Entry e;
    const Json *dtype = findMember(v, key::kDtype);
    const Json *shape = findMember(v, key::kShape);
    const Json *offsets = findMember(v, key::kDataOffsets);
    if (!dtype || !dtype->is_string())
      bad("tensor '" + name + "' has no string " + quote(key::kDtype));
    if (!shape || !shape->is_array())
      bad("tensor '" + name + "' has no array " + quote(key::kShape));
    if (!offsets || !offsets->is_array() || offsets->size() != 2)
      bad("tensor '" + name + "' has no " + quote(key::kDataOffsets) + " [begin, end]");
    e.dtype = dtype->get<std::string>();
    uint64_t count = 1;
    bool overflow = false;
    for (const Json &d : *shape) {
      std::optional<int64_t> extent = jsonInteger(d);
      if (!extent || *extent < 0)
        bad("tensor '" + name + "' has a shape entry that is not a non-negative integer");
      e.shape.push_back(*extent);
      if (*extent != 0 && count > std::numeric_limits<uint64_t>::max() / 16 / uint64_t(*extent))
        overflow = true;
      count *= uint64_t(*extent);
    }
    uint64_t bounds[2];
    for (int k = 0; k < 2; ++k) {
      std::optional<int64_t> offset = jsonInteger((*offsets)[k]);
      if (!offset || *offset < 0)
        bad("tensor '" + name + "' has a data offset that is not a non-negative integer");
      bounds[k] = uint64_t(*offset);
    }
    e.begin = bounds[0];
    e.end = bounds[1];
    std::string offsetsText = std::string(key::kDataOffsets) + " [" + std::to_string(e.begin) +
                              "," + std::to_string(e.end) + "]";
    if (e.begin > e.end)
      bad("tensor '" + name + "' has " + offsetsText + " with begin > end");
    if (e.end > dataSize)
      fail(CNNC_ERROR_FORMAT, "truncated safetensors file '" + path + "': tensor '" + name +
                                  "' has " + offsetsText + " past the end of its " +
                                  std::to_string(dataSize) + " data bytes");
    if (int64_t size = dtypeSize(e.dtype); size && !overflow && count * size != e.end - e.begin)
      bad("tensor '" + name + "' (" + e.dtype + " " + shapeString(e.shape) + ") needs " +
          std::to_string(count * size) + " bytes but " + key::kDataOffsets + " span " +
          std::to_string(e.end - e.begin));
    entries[name] = std::move(e);
  }
  return entries;
}

} // namespace

namespace cnnc::rt {

SafetensorsReader::SafetensorsReader(const std::string &path, const char *what) : path(path) {
  file = std::fopen(path.c_str(), "rb");
  if (!file)
    fail(CNNC_ERROR_IO,
         std::string("cannot open ") + what + " '" + path + "': " + std::strerror(errno));
  readHeader(what);
}

SafetensorsReader::SafetensorsReader(const void *data, size_t size, const std::string &name)
    : path(name) {
  // fmemopen only reads through the pointer in mode "rb".
  file = size ? fmemopen(const_cast<void *>(data), size, "rb") : nullptr;
  if (!file)
    fail(CNNC_ERROR_FORMAT, "cannot read " + name + ": empty or unreadable");
  readHeader("parameters");
}

void SafetensorsReader::readHeader(const char *what) {
  if (std::fseek(file, 0, SEEK_END) != 0)
    fail(CNNC_ERROR_IO,
         std::string("cannot read ") + what + " '" + path + "': not a seekable file");
  long fileSizeL = std::ftell(file);
  if (fileSizeL < 0)
    fail(CNNC_ERROR_IO,
         std::string("cannot read ") + what + " '" + path + "': " + std::strerror(errno));
  uint64_t fileSize = uint64_t(fileSizeL);
  std::rewind(file);
  if (fileSize < 8)
    fail(CNNC_ERROR_FORMAT, "truncated safetensors file '" + path +
                                "': " + std::to_string(fileSize) +
                                " bytes, less than the 8-byte header length");
  unsigned char lenBytes[8];
  if (std::fread(lenBytes, 1, 8, file) != 8)
    fail(CNNC_ERROR_IO, std::string("cannot read ") + what + " '" + path + "'");
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
  if (headerLen && std::fread(header.data(), 1, headerLen, file) != headerLen)
    fail(CNNC_ERROR_IO, std::string("cannot read the header of ") + what + " '" + path + "'");
  dataStart = 8 + headerLen;
  entries = parseHeader(path, header, fileSize - dataStart, metadata);
}

SafetensorsReader::~SafetensorsReader() {
  if (file)
    std::fclose(file);
}

const SafetensorsEntry &SafetensorsReader::require(const std::string &name,
                                                   const std::vector<int64_t> &shape,
                                                   const char *what) const {
  auto it = entries.find(name);
  if (it == entries.end())
    fail(CNNC_ERROR_PARAMETER, path + ": missing " + what + " '" + name + "'");
  const Entry &e = it->second;
  if (e.dtype != kDtypeF32)
    fail(CNNC_ERROR_PARAMETER,
         path + ": " + name + ": expected dtype " + kDtypeF32 + ", found " + e.dtype);
  if (e.shape != shape)
    fail(CNNC_ERROR_PARAMETER, path + ": " + name + ": expected " + shapeString(shape) +
                                   ", found " + shapeString(e.shape));
  return e;
}

bool SafetensorsReader::read(const SafetensorsEntry &e, float *dst) const {
  size_t bytes = size_t(e.end - e.begin);
  return std::fseek(file, long(dataStart + e.begin), SEEK_SET) == 0 &&
         (!bytes || std::fread(dst, 1, bytes, file) == bytes);
}

void writeSafetensors(const std::string &path,
                      const std::vector<std::pair<std::string, std::string>> &metadata,
                      const std::vector<SafetensorsTensor> &tensors, const char *what) {
  Json headerJson = Json::object();
  Json &metadataJson = headerJson[key::kMetadata] = Json::object();
  for (const auto &[key, value] : metadata)
    metadataJson[key] = value;
  uint64_t offset = 0;
  for (const SafetensorsTensor &t : tensors) {
    uint64_t bytes = uint64_t(t.count) * 4;
    headerJson[t.name] = {{key::kDtype, kDtypeF32},
                          {key::kShape, t.shape},
                          {key::kDataOffsets, {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header =
      dumpJson(headerJson, std::string("the header of ") + what + " '" + path + "'");
  while (header.size() % 8)
    header += ' ';
  // Write a temporary file next to the target, flush it to disk, then rename:
  // readers see the old file or the complete new one, never a partial one.
  std::string tmp = path + ".tmp-" + std::to_string(long(getpid()));
  std::FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    fail(CNNC_ERROR_IO,
         std::string("cannot write ") + what + " '" + tmp + "': " + std::strerror(errno));
  unsigned char lenBytes[8];
  uint64_t len = header.size();
  for (int i = 0; i < 8; ++i)
    lenBytes[i] = (unsigned char)(len >> (8 * i));
  bool ok = std::fwrite(lenBytes, 1, 8, f) == 8 &&
            std::fwrite(header.data(), 1, header.size(), f) == header.size();
  for (size_t i = 0; ok && i < tensors.size(); ++i)
    ok = std::fwrite(tensors[i].data, sizeof(float), size_t(tensors[i].count), f) ==
         size_t(tensors[i].count);
  ok = ok && std::fflush(f) == 0 && fsync(fileno(f)) == 0;
  int savedErrno = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    savedErrno = errno;
  }
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    savedErrno = errno;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    fail(CNNC_ERROR_IO,
         std::string("cannot write ") + what + " '" + path + "': " + std::strerror(savedErrno));
  }
  // Make the rename itself durable (best effort: some file systems refuse).
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  if (dir.empty())
    dir = "/";
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

} // namespace cnnc::rt

namespace {

void readParameters(cnnc_model &model, const SafetensorsReader &reader) {
  const std::string &path = reader.path;
  // Validate every parameter before changing any.
  std::vector<const Entry *> found;
  for (const TensorDesc &p : model.parameters)
    found.push_back(&reader.require(p.name, p.shape, "parameter"));
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

void loadParameters(cnnc_model &model, const std::string &path) {
  readParameters(model, SafetensorsReader(path, "weights"));
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
    if (!model)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_load_default_parameters: null model");
    if (!model->desc->default_parameters_size)
      fail(CNNC_ERROR_PARAMETER, "model '" + model->path + "' embeds no parameter values");
    loadDefaultParameters(*model);
  });
}

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
    std::memcpy(out_data, currentHostData(*model, p.buffer), count * sizeof(float));
  });
}
