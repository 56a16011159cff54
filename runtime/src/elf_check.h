//===- elf_check.h - Checking a model.so file before dlopen -----*- C++ -*-===//
//
// dlopen maps a library's segments and runs its constructors: a truncated
// file then dies with SIGBUS when a page past its end is touched, and a
// library that is not a model runs its code before the runtime can tell.
// checkModelLibraryFile reads the file with bounded pread calls (nothing is
// mapped) and refuses, with a message naming the file and the problem,
// anything that is not a complete ELF64 shared object for this machine
// exporting the model entry point.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_SRC_ELF_CHECK_H
#define CNNC_RUNTIME_SRC_ELF_CHECK_H

#include <optional>
#include <string>

namespace cnnc::rt {

/// Fails with CNNC_ERROR_FORMAT unless the file at `path` (opened as
/// `openPath`) is an ELF64 shared object (ET_DYN) of this machine's byte
/// order and architecture whose ELF header, program headers, segments,
/// section headers and sections all lie inside the file, and whose dynamic
/// symbol table defines the function `entryPoint`. Fails with CNNC_ERROR_IO
/// if the file cannot be read. Returns the text of the section named
/// `metadataSection` (up to its first NUL), if the file has one.
std::optional<std::string> checkModelLibraryFile(const std::string &path,
                                                 const std::string &openPath,
                                                 const std::string &entryPoint,
                                                 const std::string &metadataSection);

} // namespace cnnc::rt

#endif
