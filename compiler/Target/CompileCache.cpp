//===- CompileCache.cpp - compiled objects kept between compilations ------===//
//
// Entries live in <cache>/v1/<kind>/<first two hex digits>/<key>.o. Each is
// the object file followed by a 32-byte trailer: the magic "cnncobj1", the
// object's size, its xxh3 checksum and the first 8 characters of the key
// (little endian), so a truncated, damaged or misplaced entry is a miss. A
// hit refreshes the entry's modification time, which orders entries for
// trim(): the oldest is the least recently used.
//
//===----------------------------------------------------------------------===//
#include "compiler/Target/CompileCache.h"

#include "Halide.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/xxhash.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <fcntl.h>
#include <sys/stat.h>

using namespace cnnc;

llvm::StringRef cnnc::cnncVersion() { return CNNC_VERSION; }
llvm::StringRef cnnc::llvmVersion() { return LLVM_VERSION_STRING; }
llvm::StringRef cnnc::halideVersion() { return CNNC_HALIDE_VERSION; }

std::string cnnc::defaultCacheDirectory() {
  if (const char *dir = getenv("CNNC_CACHE_DIR"); dir && *dir)
    return dir;
  llvm::SmallString<128> path;
  if (const char *xdg = getenv("XDG_CACHE_HOME"); xdg && *xdg)
    path = xdg;
  else if (const char *home = getenv("HOME"); home && *home)
    llvm::sys::path::append(path, home, ".cache");
  else
    return "";
  llvm::sys::path::append(path, "cnnc");
  return std::string(path);
}

namespace {
/// The object mapped at an address, and its GNU build ID once found.
struct BuildIdSearch {
  uintptr_t address;
  std::string id;
};
} // namespace

static int findBuildId(dl_phdr_info *info, size_t, void *data) {
  auto *search = static_cast<BuildIdSearch *>(data);
  bool contains = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr) &p = info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + p.p_vaddr;
    if (p.p_type == PT_LOAD && search->address >= start && search->address < start + p.p_memsz)
      contains = true;
  }
  if (!contains)
    return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr) &p = info->dlpi_phdr[i];
    if (p.p_type != PT_NOTE)
      continue;
    const char *note = reinterpret_cast<const char *>(info->dlpi_addr + p.p_vaddr);
    const char *end = note + p.p_memsz;
    while (note + sizeof(ElfW(Nhdr)) <= end) {
      const auto *header = reinterpret_cast<const ElfW(Nhdr) *>(note);
      const char *name = note + sizeof(ElfW(Nhdr));
      const char *desc = name + ((header->n_namesz + 3) & ~3u);
      if (desc + header->n_descsz > end)
        break;
      if (header->n_type == NT_GNU_BUILD_ID && header->n_namesz == 4 &&
          memcmp(name, "GNU", 4) == 0) {
        search->id = llvm::toHex(
            llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(desc), header->n_descsz),
            /*LowerCase=*/true);
        return 1;
      }
      note = desc + ((header->n_descsz + 3) & ~3u);
    }
  }
  return 1; // the object has no build ID
}

/// The build ID of the executable or library holding `address`; without
/// one, the file's path, size and modification time.
static std::string buildIdOf(const void *address) {
  BuildIdSearch search{reinterpret_cast<uintptr_t>(address), ""};
  dl_iterate_phdr(findBuildId, &search);
  if (!search.id.empty())
    return search.id;
  Dl_info info;
  llvm::sys::fs::file_status status;
  if (!dladdr(address, &info) || !info.dli_fname || llvm::sys::fs::status(info.dli_fname, status))
    return "unknown";
  return std::string(info.dli_fname) + " " + std::to_string(status.getSize()) + " " +
         std::to_string(status.getLastModificationTime().time_since_epoch().count());
}

const std::string &cnnc::compilerIdentity() {
  static const std::string identity =
      "cnnc " + cnncVersion().str() + " (" +
      buildIdOf(reinterpret_cast<void *>(&compilerIdentity)) + "), LLVM " + llvmVersion().str() +
      ", Halide " + halideVersion().str() + " (" +
      buildIdOf(reinterpret_cast<void *>(&Halide::get_host_target)) + ")";
  return identity;
}

CompileCache::CompileCache(std::string directory, llvm::raw_ostream &warnings)
    : directory(std::move(directory)), warnings(warnings) {}

std::string CompileCache::key(llvm::StringRef description) {
  std::array<uint8_t, 32> hash = llvm::SHA256::hash(llvm::arrayRefFromStringRef(description));
  return llvm::toHex(hash, /*LowerCase=*/true);
}

std::string CompileCache::entryPath(llvm::StringRef kind, llvm::StringRef key) const {
  llvm::SmallString<256> path(directory);
  llvm::sys::path::append(path, "v1", kind, key.take_front(2), key + ".o");
  return std::string(path);
}

namespace {
constexpr char kMagic[8] = {'c', 'n', 'n', 'c', 'o', 'b', 'j', '1'};
constexpr size_t kTrailerSize = 32;
} // namespace

CompileCache::Lookup CompileCache::fetch(llvm::StringRef kind, llvm::StringRef key,
                                         const std::string &objectPath) const {
  if (!enabled())
    return Lookup::Miss;
  auto entry = llvm::MemoryBuffer::getFile(entryPath(kind, key), /*IsText=*/false,
                                           /*RequiresNullTerminator=*/false);
  if (!entry)
    return Lookup::Miss;
  llvm::StringRef bytes = (*entry)->getBuffer();
  if (bytes.size() < kTrailerSize)
    return Lookup::Corrupt;
  llvm::StringRef object = bytes.drop_back(kTrailerSize);
  const char *trailer = bytes.end() - kTrailerSize;
  using llvm::support::endian::read64le;
  if (memcmp(trailer, kMagic, 8) != 0 || read64le(trailer + 8) != object.size() ||
      read64le(trailer + 16) != llvm::xxh3_64bits(llvm::arrayRefFromStringRef(object)) ||
      llvm::StringRef(trailer + 24, 8) != key.take_front(8))
    return Lookup::Corrupt;
  std::error_code ec;
  llvm::raw_fd_ostream out(objectPath, ec, llvm::sys::fs::OF_None);
  if (ec)
    return Lookup::Miss;
  out << object;
  out.close();
  if (out.has_error()) {
    out.clear_error();
    return Lookup::Miss;
  }
  // Used now: the last entry trim() removes (failure to mark it is harmless).
  utimensat(AT_FDCWD, entryPath(kind, key).c_str(), nullptr, 0);
  return Lookup::Hit;
}

void CompileCache::disable(const std::string &why) {
  std::lock_guard<std::mutex> lock(warningMutex);
  if (!writable.exchange(false))
    return;
  warnings << "cnnc: warning: cannot write the compile cache " << directory << " (" << why
           << "); compiling without it\n";
}

void CompileCache::store(llvm::StringRef kind, llvm::StringRef key, const std::string &objectPath) {
  if (!enabled() || !writable)
    return;
  auto object = llvm::MemoryBuffer::getFile(objectPath, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!object)
    return; // the scratch object is gone: nothing to keep
  std::string path = entryPath(kind, key);
  llvm::StringRef parent = llvm::sys::path::parent_path(path);
  if (std::error_code ec = llvm::sys::fs::create_directories(parent))
    return disable(ec.message());
  // A unique temporary name in the entry's directory, renamed into place:
  // a reader sees the whole entry or none, whatever other compilations do.
  int fd;
  llvm::SmallString<256> temp;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(path + ".tmp-%%%%%%%%%%%%", fd, temp))
    return disable(ec.message());
  llvm::StringRef bytes = (*object)->getBuffer();
  char trailer[kTrailerSize];
  memcpy(trailer, kMagic, 8);
  llvm::support::endian::write64le(trailer + 8, bytes.size());
  llvm::support::endian::write64le(trailer + 16,
                                   llvm::xxh3_64bits(llvm::arrayRefFromStringRef(bytes)));
  memcpy(trailer + 24, key.data(), std::min<size_t>(8, key.size()));
  {
    llvm::raw_fd_ostream out(fd, /*shouldClose=*/true);
    out << bytes;
    out.write(trailer, kTrailerSize);
    out.close();
    if (out.has_error()) {
      std::string why = out.error().message();
      out.clear_error();
      llvm::sys::fs::remove(temp);
      return disable(why);
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, path)) {
    llvm::sys::fs::remove(temp);
    return disable(ec.message());
  }
  ++stored;
}

uint64_t CompileCache::sizeLimit(llvm::raw_ostream &warnings) {
  const uint64_t defaultLimit = uint64_t(1) << 30;
  const char *text = getenv("CNNC_CACHE_MAX_SIZE");
  if (!text || !*text)
    return defaultLimit;
  llvm::StringRef rest(text);
  uint64_t value;
  if (!rest.consumeInteger(10, value)) {
    uint64_t unit = rest.empty()                   ? 1
                    : rest.equals_insensitive("k") ? uint64_t(1) << 10
                    : rest.equals_insensitive("m") ? uint64_t(1) << 20
                    : rest.equals_insensitive("g") ? uint64_t(1) << 30
                                                   : 0;
    if (unit)
      return value * unit;
  }
  warnings << "cnnc: warning: ignoring CNNC_CACHE_MAX_SIZE='" << text
           << "' (expected a number of bytes, optionally with a K, M or G suffix)\n";
  return defaultLimit;
}

void CompileCache::trim(uint64_t maxBytes) {
  if (!enabled() || !stored)
    return;
  struct Entry {
    std::string path;
    uint64_t size;
    llvm::sys::TimePoint<> used;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  auto now = std::chrono::system_clock::now();
  llvm::SmallString<256> root(directory);
  llvm::sys::path::append(root, "v1");
  std::error_code ec;
  for (llvm::sys::fs::recursive_directory_iterator it(root, ec), end; it != end && !ec;
       it.increment(ec)) {
    llvm::sys::fs::file_status status;
    if (llvm::sys::fs::status(it->path(), status) ||
        status.type() != llvm::sys::fs::file_type::regular_file)
      continue;
    llvm::sys::TimePoint<> used = status.getLastModificationTime();
    if (llvm::StringRef(it->path()).contains(".tmp-")) {
      if (now - used > std::chrono::hours(1))
        llvm::sys::fs::remove(it->path());
      continue;
    }
    entries.push_back({it->path(), status.getSize(), used});
    total += status.getSize();
  }
  if (total <= maxBytes)
    return;
  llvm::sort(entries, [](const Entry &a, const Entry &b) { return a.used < b.used; });
  for (const Entry &e : entries) {
    if (total <= maxBytes)
      break;
    // Another compilation may have removed it already; either way it is gone.
    llvm::sys::fs::remove(e.path);
    total -= e.size;
  }
}
