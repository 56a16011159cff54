//===- DefaultParameters.cpp - read and write the safetensors of embedded values ===//
//
// The safetensors format: an 8-byte little-endian header length, a JSON
// header {name: {"dtype", "shape", "data_offsets": [begin, end]}, optional
// "__metadata__"} and the data, offsets relative to the end of the header.
// The reader checks every entry against the file size before it copies
// anything. Assumes a little-endian host, as the runtime does.
//
//===----------------------------------------------------------------------===//
#include "compiler/Target/DefaultParameters.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

using namespace cnnc;

llvm::Expected<DefaultParameters> cnnc::readSafetensorsFile(llvm::StringRef path) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), path + ": " + message.str());
  };
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  if (!file)
    return fail("cannot read the file: " + file.getError().message());
  llvm::StringRef bytes = (*file)->getBuffer();
  if (bytes.size() < 8)
    return fail("not a safetensors file (shorter than its 8-byte header length)");
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) | uint8_t(bytes[i]);
  if (headerLen > bytes.size() - 8)
    return fail("not a safetensors file (its header length runs past the end)");
  llvm::StringRef data = bytes.drop_front(8 + headerLen);
  llvm::Expected<llvm::json::Value> header = llvm::json::parse(bytes.substr(8, headerLen));
  if (!header)
    return fail("malformed safetensors header: " + llvm::toString(header.takeError()));
  const llvm::json::Object *entries = header->getAsObject();
  if (!entries)
    return fail("malformed safetensors header: not a JSON object");

  DefaultParameters out;
  out.source = path.str();
  for (const auto &[key, value] : *entries) {
    std::string name = key.str();
    if (name == "__metadata__")
      continue;
    const llvm::json::Object *entry = value.getAsObject();
    if (!entry)
      return fail("tensor '" + name + "' is not a JSON object");
    std::optional<llvm::StringRef> dtype = entry->getString("dtype");
    const llvm::json::Array *shape = entry->getArray("shape");
    const llvm::json::Array *offsets = entry->getArray("data_offsets");
    if (!dtype || !shape || !offsets || offsets->size() != 2)
      return fail("tensor '" + name + "' lacks dtype, shape or data_offsets");
    if (*dtype != "F32")
      continue;
    ParameterValues t;
    t.name = name;
    uint64_t count = 1;
    for (const llvm::json::Value &d : *shape) {
      std::optional<int64_t> extent = d.getAsInteger();
      if (!extent || *extent < 0 || *extent > (int64_t(1) << 40))
        return fail("tensor '" + name + "' has an invalid shape");
      t.shape.push_back(*extent);
      count *= uint64_t(*extent);
      if (count > (uint64_t(1) << 40))
        return fail("tensor '" + name + "' is too large");
    }
    std::optional<int64_t> begin = (*offsets)[0].getAsInteger();
    std::optional<int64_t> end = (*offsets)[1].getAsInteger();
    if (!begin || !end || *begin < 0 || *end < *begin || uint64_t(*end) > data.size() ||
        uint64_t(*end - *begin) != count * 4)
      return fail("tensor '" + name +
                  "' has data_offsets that do not match its shape and the "
                  "file size");
    t.data.resize(count);
    if (count)
      std::memcpy(t.data.data(), data.data() + *begin, count * 4);
    out.tensors.push_back(std::move(t));
  }
  return out;
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
