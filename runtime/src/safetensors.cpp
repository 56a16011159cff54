//===- safetensors.cpp - Reading and writing safetensors files ------------===//
//
// The safetensors format: an 8-byte little-endian header length, a JSON
// header {name: {"dtype", "shape", "data_offsets": [begin, end]}, optional
// "__metadata__"} and the tensor data, offsets relative to the end of the
// header. The reader validates the whole header against the file size
// before anything is read; a file whose first bytes cannot start a
// safetensors file is named by what it is (torch.save zip or legacy
// pickle, TorchScript, pickle, .npy/.npz, ONNX, HDF5, gzip, empty) with
// how to convert it. missingTensorsMessage ranks a file's names against a
// name it lacks. The atomic writer (writeFileAtomically, shared with the
// .npy writer) writes a temporary file, fsyncs and renames it, and removes
// the temporary files of killed writers. Needs no model (parameters.cpp and checkpoint.cpp apply
// files to models), so the compiler links this file too. Assumes a little-endian host.
//
//===----------------------------------------------------------------------===//
#include "safetensors.h"
#include "error.h"
#include "json.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string_view>

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

/// How many leading bytes the format recognition looks at (a zip's first
/// entry name lies within them).
constexpr size_t kHeadBytes = 512;

/// `path` with its extension (if its file name has one) replaced by
/// ".safetensors", or by ".converted.safetensors" if that is its extension.
std::string safetensorsName(const std::string &path) {
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  bool hasExtension =
      dot != std::string::npos && dot > (slash == std::string::npos ? 0 : slash + 1);
  std::string stem = hasExtension ? path.substr(0, dot) : path;
  return stem + (hasExtension && path.substr(dot) == ".safetensors" ? ".converted" : "") +
         ".safetensors";
}

/// True if `text` ends with `suffix`.
bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

/// The message for a file that is not safetensors but another known format,
/// judged from its first bytes `head` (and, for a zip archive, its last
/// bytes, read from `file`); "" for an unknown format.
std::string otherFormatMessage(const std::string &path, std::string_view head, uint64_t fileSize,
                               std::FILE *file) {
  auto is = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
  std::string convert = "convert it with `python3 -m cnnc.convert " + path + " " +
                        safetensorsName(path) + "` (the cnnc Python package)";
  auto message = [&](const std::string &kind, const std::string &advice) {
    return "'" + path + "' is " + kind + ", not safetensors: " + advice;
  };
  if (is("PK\x03\x04")) {
    // A zip archive: the name of its first entry (local header: name length
    // at byte 26, the name at byte 30) tells torch.save from np.savez.
    std::string_view first;
    if (head.size() >= 30) {
      size_t nameLength = size_t(uint8_t(head[26])) | size_t(uint8_t(head[27])) << 8;
      first = head.substr(30, nameLength);
    }
    if (first == "data.pkl" || endsWith(first, "/data.pkl"))
      return message("a PyTorch checkpoint (torch.save zip archive)", convert);
    if (endsWith(first, ".npy"))
      return message("a NumPy .npz archive", convert);
    // Otherwise look for the names of PyTorch's records in the central
    // directory at the end of the file.
    std::string tail(size_t(std::min<uint64_t>(fileSize, 1 << 16)), '\0');
    if (std::fseek(file, long(fileSize - tail.size()), SEEK_SET) == 0 &&
        std::fread(tail.data(), 1, tail.size(), file) == tail.size()) {
      if (tail.find("/constants.pkl") != std::string::npos)
        return message("a TorchScript module (torch.jit.save zip archive)", convert);
      if (tail.find("/data.pkl") != std::string::npos)
        return message("a PyTorch checkpoint (torch.save zip archive)", convert);
    }
    return message("a zip archive", "cnnc reads parameters from safetensors files");
  }
  if (head.size() >= 2 && uint8_t(head[0]) == 0x80 && head[1] >= 2 && head[1] <= 5) {
    // torch.save's legacy format pickles its magic number 0x1950a86a20f9469cfc6c first.
    if (head.substr(2, 12) == std::string_view("\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"))
      return message("a PyTorch checkpoint (legacy torch.save format)", convert);
    return message("a Python pickle", "if it holds a dict of arrays, " + convert);
  }
  if (is("\x93NUMPY"))
    return message("a NumPy .npy array", "parameters are read by name: save a dict of "
                                         "name -> array with np.savez and convert that .npz "
                                         "with `python3 -m cnnc.convert`");
  if (is("\x89HDF\r\n\x1a\n"))
    return message("an HDF5 file (Keras weights?)",
                   "cnnc reads PyTorch state_dict names from safetensors files");
  if (is("\x1f\x8b"))
    return message("gzip-compressed", "decompress it first (gunzip)");
  // An ONNX ModelProto starts with ir_version (field 1, a small varint), then
  // usually producer_name, producer_version, domain, model_version, doc_string,
  // graph or opset_import.
  if (head.size() >= 3 && head[0] == 0x08 && head[1] >= 1 && head[1] <= 15 &&
      std::string_view("\x12\x1a\x22\x28\x32\x3a\x42").find(head[2]) != std::string_view::npos)
    return message("an ONNX model", "compile it with cnnc (`cnnc " + path +
                                        "`), which embeds its initializers in model.so");
  return "";
}

/// Levenshtein distance between `a` and `b`.
size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// True if one of `a`, `b` ends with the other at a '.' boundary
/// ("module.conv1.weight" and "conv1.weight").
bool sharesDottedSuffix(const std::string &a, const std::string &b) {
  const std::string &longer = a.size() >= b.size() ? a : b;
  const std::string &shorter = a.size() >= b.size() ? b : a;
  return !shorter.empty() && endsWith(longer, shorter) &&
         (longer.size() == shorter.size() || longer[longer.size() - shorter.size() - 1] == '.');
}

/// The shortest non-empty prefix P such that every name of `wanted` is in
/// `have` as P + name; "" if there is none.
std::string extraPrefix(const std::vector<std::string> &wanted, const std::set<std::string> &have) {
  std::string best;
  if (wanted.empty())
    return best;
  for (const std::string &h : have) {
    if (h.size() <= wanted[0].size() || !endsWith(h, wanted[0]))
      continue;
    std::string prefix = h.substr(0, h.size() - wanted[0].size());
    if (!best.empty() && prefix.size() >= best.size())
      continue;
    bool all = true;
    for (const std::string &w : wanted)
      all = all && have.count(prefix + w);
    if (all)
      best = prefix;
  }
  return best;
}

/// The prefix P that every name of `wanted` starts with and is in `have`
/// without; "" if there is none.
std::string missingPrefix(const std::vector<std::string> &wanted,
                          const std::set<std::string> &have) {
  if (wanted.empty())
    return "";
  for (const std::string &h : have) {
    if (wanted[0].size() <= h.size() || !endsWith(wanted[0], h))
      continue;
    std::string prefix = wanted[0].substr(0, wanted[0].size() - h.size());
    bool all = true;
    for (const std::string &w : wanted)
      all = all && w.compare(0, prefix.size(), prefix) == 0 && have.count(w.substr(prefix.size()));
    if (all)
      return prefix;
  }
  return "";
}

} // namespace

namespace cnnc::rt {

std::string missingTensorsMessage(const std::string &file, const char *what,
                                  const std::vector<MissingTensor> &missing,
                                  const std::vector<std::string> &wanted,
                                  const std::vector<std::string> &fileNames,
                                  const std::string &stripPrefix) {
  const MissingTensor &first = missing.front();
  std::string text =
      file + ": missing " + what + " '" + first.name + "' " + shapeString(first.shape);
  if (!stripPrefix.empty())
    text += " (looked up as '" + stripPrefix + first.name + "')";
  if (missing.size() > 1)
    text += " and " + std::to_string(missing.size() - 1) + " more";
  if (fileNames.empty())
    return text + "; the file has no tensors";

  // The file's names nearest to the first missing one.
  std::string looked = stripPrefix + first.name;
  std::vector<std::pair<std::pair<int, size_t>, const std::string *>> ranked;
  for (const std::string &name : fileNames)
    ranked.push_back(
        {{sharesDottedSuffix(name, looked) || sharesDottedSuffix(name, first.name) ? 0 : 1,
          editDistance(name, looked)},
         &name});
  size_t shown = std::min<size_t>(3, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + shown, ranked.end(),
                    [](const auto &a, const auto &b) {
                      return a.first != b.first ? a.first < b.first : *a.second < *b.second;
                    });
  text += "; the file has ";
  for (size_t i = 0; i < shown; ++i)
    text += (i ? ", '" : "'") + *ranked[i].second + "'";
  if (ranked.size() > shown)
    text += " and " + std::to_string(ranked.size() - shown) + " more";

  std::set<std::string> have(fileNames.begin(), fileNames.end());
  bool allPlain = !wanted.empty();
  for (const std::string &w : wanted)
    allPlain = allPlain && have.count(w);
  bool anyStripped = false;
  for (const std::string &name : fileNames)
    anyStripped = anyStripped || name.compare(0, stripPrefix.size(), stripPrefix) == 0;
  if (!stripPrefix.empty() && allPlain)
    return text + "; every " + what + " is in the file without the prefix '" + stripPrefix +
           "': load it without stripping a prefix";
  if (std::string prefix = extraPrefix(wanted, have); !prefix.empty())
    return text + "; every " + what + " is in the file under the prefix '" + prefix +
           "': load it with --strip-prefix " + prefix + " (Python: strip_prefix=\"" + prefix +
           "\")";
  if (std::string prefix = missingPrefix(wanted, have); !prefix.empty())
    return text + "; every " + what + " is in the file without the prefix '" + prefix +
           "' the model's names have (e.g. '" + wanted[0].substr(prefix.size()) + "' for '" +
           wanted[0] + "')";
  if (!stripPrefix.empty() && !anyStripped)
    text += "; no tensor name in the file starts with '" + stripPrefix + "'";
  return text;
}

SafetensorsReader::SafetensorsReader(const std::string &path, const char *what) : path(path) {
  file = std::fopen(path.c_str(), "rb");
  if (!file)
    fail(CNNC_ERROR_IO,
         std::string("cannot open ") + what + " '" + path + "': " + std::strerror(errno));
  readHeaderOrClose(what);
}

SafetensorsReader::SafetensorsReader(const void *data, size_t size, const std::string &name)
    : path(name) {
  // fmemopen only reads through the pointer in mode "rb".
  file = size ? fmemopen(const_cast<void *>(data), size, "rb") : nullptr;
  if (!file)
    fail(CNNC_ERROR_FORMAT, "cannot read " + name + ": empty or unreadable");
  readHeaderOrClose("parameters");
}

void SafetensorsReader::readHeaderOrClose(const char *what) {
  // A constructor that throws runs no destructor: close the file here.
  try {
    readHeader(what);
  } catch (...) {
    std::fclose(file);
    file = nullptr;
    throw;
  }
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
  if (fileSize == 0)
    fail(CNNC_ERROR_FORMAT, "'" + path + "' is empty (0 bytes), not a safetensors file");
  std::string head(size_t(std::min<uint64_t>(fileSize, kHeadBytes)), '\0');
  if (std::fread(head.data(), 1, head.size(), file) != head.size())
    fail(CNNC_ERROR_IO, std::string("cannot read ") + what + " '" + path + "'");
  uint64_t headerLen = 0;
  for (int i = std::min(7, int(head.size()) - 1); i >= 0; --i)
    headerLen = (headerLen << 8) | uint8_t(head[i]);
  // A safetensors header is a JSON object within the file; anything else may
  // be another format, named rather than reported as a broken safetensors file.
  if (fileSize < 9 || headerLen > fileSize - 8 || head[8] != '{')
    if (std::string other = otherFormatMessage(path, head, fileSize, file); !other.empty())
      fail(CNNC_ERROR_FORMAT, other);
  if (fileSize < 8)
    fail(CNNC_ERROR_FORMAT, "truncated safetensors file '" + path +
                                "': " + std::to_string(fileSize) +
                                " bytes, less than the 8-byte header length");
  if (headerLen > fileSize - 8)
    fail(CNNC_ERROR_FORMAT, "truncated safetensors file '" + path + "': header length " +
                                std::to_string(headerLen) + " is past the end of the file (" +
                                std::to_string(fileSize) + " bytes)");
  if (headerLen > (uint64_t(100) << 20))
    fail(CNNC_ERROR_FORMAT, "malformed safetensors file '" + path + "': header length " +
                                std::to_string(headerLen) + " exceeds 100 MB");
  std::string header(headerLen, '\0');
  if (headerLen && (std::fseek(file, 8, SEEK_SET) != 0 ||
                    std::fread(header.data(), 1, headerLen, file) != headerLen))
    fail(CNNC_ERROR_IO, std::string("cannot read the header of ") + what + " '" + path + "'");
  dataStart = 8 + headerLen;
  entries = parseHeader(path, header, fileSize - dataStart, metadata);
}

SafetensorsReader::~SafetensorsReader() {
  if (file)
    std::fclose(file);
}

const SafetensorsEntry *SafetensorsReader::find(const std::string &name) const {
  auto it = entries.find(name);
  return it == entries.end() ? nullptr : &it->second;
}

void SafetensorsReader::check(const SafetensorsEntry &e, const std::string &name,
                              const std::vector<int64_t> &shape) const {
  if (e.dtype != kDtypeF32)
    fail(CNNC_ERROR_PARAMETER,
         path + ": " + name + ": expected dtype " + kDtypeF32 + ", found " + e.dtype);
  if (e.shape != shape)
    fail(CNNC_ERROR_PARAMETER, path + ": " + name + ": expected " + shapeString(shape) +
                                   ", found " + shapeString(e.shape));
}

std::vector<std::string> SafetensorsReader::names() const {
  std::vector<std::string> result;
  for (const auto &entry : entries)
    result.push_back(entry.first);
  return result;
}

const SafetensorsEntry &SafetensorsReader::require(const std::string &name,
                                                   const std::vector<int64_t> &shape,
                                                   const char *what) const {
  const Entry *e = find(name);
  if (!e)
    fail(CNNC_ERROR_PARAMETER, missingTensorsMessage(path, what, {{name, shape}}, {}, names(), ""));
  check(*e, name, shape);
  return *e;
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
  writeFileAtomically(path, what, [&](std::FILE *f) {
    unsigned char lenBytes[8];
    uint64_t len = header.size();
    for (int i = 0; i < 8; ++i)
      lenBytes[i] = (unsigned char)(len >> (8 * i));
    bool ok = std::fwrite(lenBytes, 1, 8, f) == 8 &&
              std::fwrite(header.data(), 1, header.size(), f) == header.size();
    for (size_t i = 0; ok && i < tensors.size(); ++i)
      ok = std::fwrite(tensors[i].data, sizeof(float), size_t(tensors[i].count), f) ==
           size_t(tensors[i].count);
    return ok;
  });
}

namespace {

/// The directory of `path` ("." for a bare name) and its last component.
void splitPath(const std::string &path, std::string &dir, std::string &base) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    dir = ".";
    base = path;
  } else {
    dir = slash == 0 ? "/" : path.substr(0, slash);
    base = path.substr(slash + 1);
  }
}

/// "cannot write WHAT 'PATH': CAUSE".
[[noreturn]] void writeError(const char *what, const std::string &path, const std::string &cause) {
  fail(CNNC_ERROR_IO, std::string("cannot write ") + what + " '" + path + "': " + cause);
}

/// Writes `path` (not a regular file: a device or a FIFO) in place.
void writeInPlace(const std::string &path, const char *what,
                  const std::function<bool(std::FILE *)> &write) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    writeError(what, path, std::strerror(errno));
  bool ok = write(f) && std::fflush(f) == 0;
  int savedErrno = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    savedErrno = errno;
  }
  if (!ok)
    writeError(what, path, std::strerror(savedErrno));
}

} // namespace

int removeStaleTemporaries(const std::string &path) {
  std::string dir, base;
  splitPath(path, dir, base);
  DIR *d = opendir(dir.c_str());
  if (!d)
    return 0;
  std::string prefix = base + ".tmp-";
  int removed = 0;
  while (const dirent *e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix)
      continue;
    std::string_view digits = name.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos)
      continue;
    long pid = std::strtol(std::string(digits).c_str(), nullptr, 10);
    // A live process (kill succeeds, or EPERM: it exists but is not ours)
    // may be writing it; only a pid that no longer exists left it behind.
    if (pid <= 0 || pid == long(getpid()) || kill(pid_t(pid), 0) == 0 || errno != ESRCH)
      continue;
    if (unlinkat(dirfd(d), e->d_name, 0) == 0)
      ++removed;
  }
  closedir(d);
  return removed;
}

void writeFileAtomically(const std::string &path, const char *what,
                         const std::function<bool(std::FILE *)> &write) {
  struct stat st;
  bool exists = stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode))
    writeError(what, path, "it is a directory");
  if (exists && !S_ISREG(st.st_mode))
    return writeInPlace(path, what, write);
  if (exists &&
      (access(path.c_str(), W_OK) != 0 || !(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)))) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    fail(CNNC_ERROR_IO, std::string("cannot replace ") + what + " '" + path +
                            "': the file is write-protected (mode " + mode +
                            "); make it writable (chmod u+w) or write elsewhere");
  }
  removeStaleTemporaries(path);
  std::string tmp = path + ".tmp-" + std::to_string(long(getpid()));
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0)
    writeError(what, path, "cannot create '" + tmp + "': " + std::strerror(errno));
  std::FILE *f = fdopen(fd, "wb");
  if (!f) {
    int savedErrno = errno;
    close(fd);
    unlink(tmp.c_str());
    writeError(what, path, std::strerror(savedErrno));
  }
  // The new file keeps the old one's permissions (a 0600 checkpoint stays private).
  bool ok = (!exists || fchmod(fd, st.st_mode & 07777) == 0) && write(f) && std::fflush(f) == 0 &&
            fsync(fd) == 0;
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
    unlink(tmp.c_str());
    writeError(what, path,
               std::string(std::strerror(savedErrno)) +
                   (exists ? " (the previous file is unchanged)" : ""));
  }
  // Make the rename itself durable (best effort: some file systems refuse).
  std::string dir, base;
  splitPath(path, dir, base);
  int dirFd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    fsync(dirFd);
    close(dirFd);
  }
}

} // namespace cnnc::rt
