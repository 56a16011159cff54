//===- DefaultParameters.cpp - read and write the safetensors of embedded values ===//
//
// Reads a weights file with the runtime's safetensors reader, which checks
// the whole header against the file size (and names a file of another
// format) before anything is copied, and matches its tensors to the
// model's parameters with the runtime's messages. Writes the embedded blob:
// an 8-byte little-endian header length, a JSON header {name: {"dtype",
// "shape", "data_offsets": [begin, end]}, "__metadata__"} and the data,
// offsets relative to the end of the header. Assumes a little-endian host,
// as the runtime does.
//
//===----------------------------------------------------------------------===//
#include "compiler/Target/DefaultParameters.h"

#include "runtime/src/error.h"
#include "runtime/src/safetensors.h"

#include "llvm/Support/JSON.h"

#include <cstring>

using namespace cnnc;

llvm::Expected<DefaultParameters> cnnc::readSafetensorsFile(llvm::StringRef path,
                                                            llvm::StringRef stripPrefix) {
  try {
    rt::SafetensorsReader reader(path.str(), "weights");
    DefaultParameters out;
    out.source = path.str();
    out.stripPrefix = stripPrefix.str();
    for (const auto &[name, entry] : reader.entries) {
      out.fileNames.push_back(name);
      if (!llvm::StringRef(name).starts_with(stripPrefix))
        continue;
      std::string stripped = name.substr(stripPrefix.size());
      if (entry.dtype != rt::kDtypeF32) {
        out.otherDtypes[stripped] = entry.dtype;
        continue;
      }
      ParameterValues t;
      t.name = stripped;
      t.shape = entry.shape;
      t.data.resize(size_t((entry.end - entry.begin) / sizeof(float)));
      if (!reader.read(entry, t.data.data()))
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "cannot read tensor '" + name + "' from '" + path + "'");
      out.tensors.push_back(std::move(t));
    }
    return out;
  } catch (const rt::RuntimeError &e) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), e.what());
  } catch (const std::bad_alloc &) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "out of memory reading '" + path + "'");
  }
}

llvm::Expected<std::vector<const ParameterValues *>> cnnc::selectParameters(
    const DefaultParameters &values,
    const std::vector<std::pair<std::string, std::vector<int64_t>>> &parameters) {
  auto error = [](const std::string &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  };
  std::map<std::string, const ParameterValues *> byName;
  for (const ParameterValues &t : values.tensors)
    byName.emplace(t.name, &t);
  // Report missing parameters first, then dtypes and shapes, as the runtime does.
  std::vector<rt::MissingTensor> missing;
  for (const auto &[name, shape] : parameters)
    if (!byName.count(name) && !values.otherDtypes.count(name))
      missing.push_back({name, shape});
  if (!missing.empty()) {
    std::vector<std::string> wanted, fileNames = values.fileNames;
    for (const auto &parameter : parameters)
      wanted.push_back(parameter.first);
    if (fileNames.empty())
      for (const ParameterValues &t : values.tensors)
        fileNames.push_back(t.name);
    return error(rt::missingTensorsMessage(values.source, "parameter", missing, wanted, fileNames,
                                           values.stripPrefix));
  }
  std::vector<const ParameterValues *> ordered;
  for (const auto &[name, shape] : parameters) {
    auto it = byName.find(name);
    if (it == byName.end())
      return error(values.source + ": " + values.stripPrefix + name + ": expected dtype " +
                   rt::kDtypeF32 + ", found " + values.otherDtypes.at(name));
    if (it->second->shape != shape)
      return error(values.source + ": " + values.stripPrefix + name + ": expected " +
                   rt::shapeString(shape) + ", found " + rt::shapeString(it->second->shape));
    ordered.push_back(it->second);
  }
  return ordered;
}

std::string cnnc::safetensorsBlob(const std::vector<const ParameterValues *> &tensors) {
  llvm::json::Object header;
  header["__metadata__"] = llvm::json::Object{{"format", "pt"}};
  uint64_t offset = 0;
  for (const ParameterValues *t : tensors) {
    uint64_t bytes = uint64_t(t->data.size()) * 4;
    llvm::json::Array shape;
    for (int64_t d : t->shape)
      shape.push_back(d);
    header[t->name] =
        llvm::json::Object{{"dtype", "F32"},
                           {"shape", std::move(shape)},
                           {"data_offsets", llvm::json::Array{offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  llvm::raw_string_ostream(text) << llvm::json::Value(std::move(header));
  while (text.size() % 8)
    text += ' ';
  std::string blob;
  for (int i = 0; i < 8; ++i)
    blob += char((uint64_t(text.size()) >> (8 * i)) & 0xff);
  blob += text;
  for (const ParameterValues *t : tensors)
    blob.append(reinterpret_cast<const char *>(t->data.data()), t->data.size() * 4);
  return blob;
}
