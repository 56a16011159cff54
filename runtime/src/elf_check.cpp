//===- elf_check.cpp - Checking a model.so file before dlopen -------------===//
//
// Reads the ELF header, the program headers, the section headers and the
// dynamic symbol table of a model.so with pread, each read bounded by the
// file's size, and checks what dlopen would otherwise trust: the kind of
// file, its class, byte order and machine, that every segment and section
// lies inside the file (a truncated library would die with SIGBUS once
// mapped), and that the library defines the model entry point (a library
// that is not a model is refused before its constructors run). The file is
// never mapped.
//
//===----------------------------------------------------------------------===//
#include "elf_check.h"
#include "error.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace cnnc::rt {
namespace {

#if defined(__x86_64__)
constexpr uint16_t kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t kHostMachine = EM_AARCH64;
#elif defined(__powerpc64__)
constexpr uint16_t kHostMachine = EM_PPC64;
#elif defined(__riscv)
constexpr uint16_t kHostMachine = EM_RISCV;
#else
#error "unknown host machine: add its ELF e_machine value"
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr unsigned char kHostData = ELFDATA2LSB;
#else
constexpr unsigned char kHostData = ELFDATA2MSB;
#endif

/// The sections of a symbol table or string table larger than this are not
/// read (a model's dynamic symbol table has a few dozen entries).
constexpr uint64_t kMaxTableBytes = uint64_t(64) << 20;

std::string machineName(uint16_t machine) {
  switch (machine) {
  case EM_X86_64:
    return "x86-64";
  case EM_386:
    return "32-bit x86";
  case EM_AARCH64:
    return "AArch64";
  case EM_ARM:
    return "32-bit ARM";
  case EM_PPC64:
    return "PowerPC64";
  case EM_RISCV:
    return "RISC-V";
  default:
    return "ELF machine " + std::to_string(machine);
  }
}

std::string typeName(uint16_t type) {
  switch (type) {
  case ET_REL:
    return "a relocatable object file (.o)";
  case ET_EXEC:
    return "an executable";
  case ET_CORE:
    return "a core dump";
  default:
    return "an ELF file of type " + std::to_string(type);
  }
}

/// The file, read with bounded pread calls; every failure names it.
class ElfFile {
public:
  ElfFile(const std::string &path, const std::string &openPath) : path(path) {
    fd = ::open(openPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      fail(CNNC_ERROR_IO, "cannot open model '" + path + "': " + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0)
      fail(CNNC_ERROR_IO, "cannot open model '" + path + "': " + std::strerror(errno));
    if (!S_ISREG(st.st_mode))
      refuse("is not a regular file");
    size = uint64_t(st.st_size);
  }
  ~ElfFile() {
    if (fd >= 0)
      ::close(fd);
  }
  ElfFile(const ElfFile &) = delete;
  ElfFile &operator=(const ElfFile &) = delete;

  [[noreturn]] void refuse(const std::string &what) const {
    fail(CNNC_ERROR_FORMAT, "'" + path + "' " + what);
  }

  /// Refuses the file as truncated unless [offset, offset + bytes) lies in it.
  void requireInside(uint64_t offset, uint64_t bytes, const std::string &what) const {
    if (offset > size || bytes > size - offset) {
      uint64_t end = offset + bytes;
      refuse("is truncated: " + what + " ends at byte " +
             (end < offset ? std::string("beyond 2^64") : std::to_string(end)) +
             " but the file has " + std::to_string(size) + " bytes");
    }
  }

  /// Reads `bytes` bytes at `offset`, which requireInside has checked.
  void read(uint64_t offset, void *out, size_t bytes) const {
    auto *p = static_cast<char *>(out);
    while (bytes > 0) {
      ssize_t n = ::pread(fd, p, bytes, off_t(offset));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        fail(CNNC_ERROR_IO, "cannot read model '" + path + "': " + std::strerror(errno));
      if (n == 0)
        refuse("changed while it was being read");
      p += n;
      offset += uint64_t(n);
      bytes -= size_t(n);
    }
  }

  std::vector<char> readBytes(uint64_t offset, uint64_t bytes, const std::string &what) const {
    requireInside(offset, bytes, what);
    std::vector<char> out(bytes);
    read(offset, out.data(), out.size());
    return out;
  }

  const std::string &path;
  int fd = -1;
  uint64_t size = 0;
};

/// The name of section `s` from the section name table, or "" if unreadable.
std::string sectionName(const std::vector<char> &names, const Elf64_Shdr &s) {
  if (s.sh_name >= names.size())
    return "";
  const char *start = names.data() + s.sh_name;
  size_t length = strnlen(start, names.size() - s.sh_name);
  return length < names.size() - s.sh_name ? std::string(start, length) : "";
}

} // namespace

std::optional<std::string> checkModelLibraryFile(const std::string &path,
                                                 const std::string &openPath,
                                                 const std::string &entryPoint,
                                                 const std::string &metadataSection) {
  ElfFile file(path, openPath);
  const uint64_t size = file.size;
  if (size == 0)
    file.refuse("is empty, not a model library");

  // The identification bytes, then the header.
  unsigned char ident[EI_NIDENT] = {};
  file.read(0, ident, size_t(std::min<uint64_t>(size, EI_NIDENT)));
  if (size < SELFMAG || std::memcmp(ident, ELFMAG, SELFMAG) != 0)
    file.refuse("is not a model library: it is not an ELF file");
  if (size > EI_CLASS && ident[EI_CLASS] == ELFCLASS32)
    file.refuse("is a 32-bit ELF file; this runtime loads 64-bit libraries only");
  if (size > EI_CLASS && ident[EI_CLASS] != ELFCLASS64)
    file.refuse("is not a model library: ELF class " + std::to_string(ident[EI_CLASS]) +
                " is unknown");
  if (size > EI_DATA && ident[EI_DATA] != kHostData)
    file.refuse(std::string("is a ") + (ident[EI_DATA] == ELFDATA2MSB ? "big" : "little") +
                "-endian ELF file, this machine is " +
                (kHostData == ELFDATA2LSB ? "little" : "big") + "-endian");
  file.requireInside(0, sizeof(Elf64_Ehdr), "the ELF header");
  Elf64_Ehdr eh;
  file.read(0, &eh, sizeof eh);
  if (eh.e_type != ET_DYN)
    file.refuse("is " + typeName(eh.e_type) + ", not a shared library");
  if (eh.e_machine != kHostMachine)
    file.refuse("is built for " + machineName(eh.e_machine) + ", this machine is " +
                machineName(kHostMachine));

  // Program headers and the segments they describe.
  if (eh.e_phnum == 0 || eh.e_phnum == PN_XNUM)
    file.refuse("is not a loadable shared library: it has " +
                std::string(eh.e_phnum ? "too many" : "no") + " program headers");
  if (eh.e_phentsize != sizeof(Elf64_Phdr))
    file.refuse("is malformed: its program headers have " + std::to_string(eh.e_phentsize) +
                " bytes each, expected " + std::to_string(sizeof(Elf64_Phdr)));
  std::vector<Elf64_Phdr> segments(eh.e_phnum);
  file.requireInside(eh.e_phoff, uint64_t(eh.e_phnum) * sizeof(Elf64_Phdr),
                     "the program header table");
  file.read(eh.e_phoff, segments.data(), segments.size() * sizeof(Elf64_Phdr));
  size_t loads = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const Elf64_Phdr &p = segments[i];
    if (p.p_type == PT_NULL)
      continue;
    file.requireInside(p.p_offset, p.p_filesz, "segment " + std::to_string(i));
    if (p.p_type == PT_LOAD) {
      ++loads;
      if (p.p_filesz > p.p_memsz)
        file.refuse("is malformed: segment " + std::to_string(i) + " has " +
                    std::to_string(p.p_filesz) + " bytes in the file but only " +
                    std::to_string(p.p_memsz) + " in memory");
    }
  }
  if (loads == 0)
    file.refuse("is not a loadable shared library: it has no loadable segment");

  // Section headers and the sections they describe.
  if (eh.e_shoff == 0 || eh.e_shnum == 0)
    file.refuse("has no section headers, so its exported symbols cannot be checked");
  if (eh.e_shentsize != sizeof(Elf64_Shdr))
    file.refuse("is malformed: its section headers have " + std::to_string(eh.e_shentsize) +
                " bytes each, expected " + std::to_string(sizeof(Elf64_Shdr)));
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  file.requireInside(eh.e_shoff, uint64_t(eh.e_shnum) * sizeof(Elf64_Shdr),
                     "the section header table");
  file.read(eh.e_shoff, sections.data(), sections.size() * sizeof(Elf64_Shdr));
  std::vector<char> names;
  if (eh.e_shstrndx < sections.size() && sections[eh.e_shstrndx].sh_type == SHT_STRTAB &&
      sections[eh.e_shstrndx].sh_size <= kMaxTableBytes) {
    const Elf64_Shdr &s = sections[eh.e_shstrndx];
    names = file.readBytes(s.sh_offset, s.sh_size, "section " + std::to_string(eh.e_shstrndx));
  }
  const Elf64_Shdr *metadata = nullptr;
  for (size_t i = 0; i < sections.size(); ++i) {
    const Elf64_Shdr &s = sections[i];
    if (s.sh_type == SHT_NULL || s.sh_type == SHT_NOBITS)
      continue;
    std::string name = sectionName(names, s);
    file.requireInside(s.sh_offset, s.sh_size,
                       "section " + std::to_string(i) + (name.empty() ? "" : " (" + name + ")"));
    if (name == metadataSection && !metadata)
      metadata = &s;
  }

  // The dynamic symbol table must define the entry point as a function in
  // an executable segment.
  const std::string notAModel = "is not a cnnc model: it exports no " + entryPoint;
  const Elf64_Shdr *dynsym = nullptr;
  for (const Elf64_Shdr &s : sections)
    if (s.sh_type == SHT_DYNSYM) {
      dynsym = &s;
      break;
    }
  if (!dynsym)
    file.refuse(notAModel + " (it has no dynamic symbol table)");
  if (dynsym->sh_entsize != sizeof(Elf64_Sym) || dynsym->sh_link >= sections.size() ||
      sections[dynsym->sh_link].sh_type != SHT_STRTAB)
    file.refuse("is malformed: its dynamic symbol table has no string table or entries of " +
                std::to_string(dynsym->sh_entsize) + " bytes");
  const Elf64_Shdr &dynstr = sections[dynsym->sh_link];
  if (dynsym->sh_size > kMaxTableBytes || dynstr.sh_size > kMaxTableBytes)
    file.refuse("is not a model library: its dynamic symbol table is over " +
                std::to_string(kMaxTableBytes >> 20) + " MiB");
  std::vector<char> symbolBytes =
      file.readBytes(dynsym->sh_offset, dynsym->sh_size, "the dynamic symbol table");
  std::vector<char> strings =
      file.readBytes(dynstr.sh_offset, dynstr.sh_size, "the dynamic string table");
  size_t count = symbolBytes.size() / sizeof(Elf64_Sym);
  for (size_t i = 0; i < count; ++i) {
    Elf64_Sym sym;
    std::memcpy(&sym, symbolBytes.data() + i * sizeof(Elf64_Sym), sizeof sym);
    if (sym.st_name >= strings.size() || strings.size() - sym.st_name <= entryPoint.size() ||
        std::memcmp(strings.data() + sym.st_name, entryPoint.c_str(), entryPoint.size() + 1) != 0)
      continue;
    unsigned bind = ELF64_ST_BIND(sym.st_info);
    if (sym.st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK) ||
        ELF64_ST_VISIBILITY(sym.st_other) != STV_DEFAULT)
      continue;
    if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC)
      file.refuse("is not a cnnc model: its " + entryPoint + " is not a function");
    bool inCode = false;
    for (const Elf64_Phdr &p : segments)
      inCode |= p.p_type == PT_LOAD && (p.p_flags & PF_X) && sym.st_value >= p.p_vaddr &&
                sym.st_value - p.p_vaddr < p.p_filesz;
    if (!inCode)
      file.refuse("is malformed: its " + entryPoint + " lies outside its code");
    if (!metadata)
      return std::nullopt;
    if (metadata->sh_size > kMaxTableBytes)
      file.refuse("is not a model library: its " + metadataSection + " section is over " +
                  std::to_string(kMaxTableBytes >> 20) + " MiB");
    std::vector<char> text = file.readBytes(metadata->sh_offset, metadata->sh_size,
                                            "the " + metadataSection + " section");
    return std::string(text.data(), strnlen(text.data(), text.size()));
  }
  file.refuse(notAModel);
}

} // namespace cnnc::rt
