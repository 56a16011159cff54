//===- ArgumentChecks.cpp - drop the checks of a kernel's buffer arguments ===//
//
// A custom Halide lowering pass: after lowering, every assertion whose error
// is one of the argument-validation errors below becomes a no-op. Halide
// has already used the constraints those assertions verify (dense strides,
// the extents the plan gives) to simplify the kernel; only the run-time
// comparison goes.
//
//===----------------------------------------------------------------------===//
#include "compiler/Target/ArgumentChecks.h"

#include <set>
#include <string>

using namespace Halide::Internal;

namespace {

/// The errors of Halide's checks of the buffers a pipeline is called with.
bool isArgumentCheck(const std::string &error) {
  static const std::set<std::string> kErrors = {
      "halide_error_bad_type",                // element type
      "halide_error_bad_dimensions",          // rank
      "halide_error_buffer_extents_negative", // an extent below 0
      "halide_error_access_out_of_bounds",    // the region the kernel reads or writes
      "halide_error_constraint_violated",     // a stride or extent cnnc fixed
  };
  return kErrors.count(error) != 0;
}

class DropArgumentChecks : public IRMutator {
  using IRMutator::visit;

  Stmt visit(const AssertStmt *op) override {
    const Call *error = op->message.as<Call>();
    if (error && isArgumentCheck(error->name))
      return Evaluate::make(0);
    return IRMutator::visit(op);
  }
};

} // namespace

void cnnc::dropArgumentChecks(Halide::Pipeline &pipeline) {
  pipeline.add_custom_lowering_pass(new DropArgumentChecks);
}
