//===- OnnxGraph.h - the state of an ONNX import ----------------*- C++ -*-===//
//
// What the node converters of OnnxOps.cpp see: the tensors known so far by
// their ONNX names, either a value of the graph being built or a constant
// known at import (an initializer, a Constant node, folded shape
// arithmetic), and a NodeContext per node that reads the node's inputs and
// attributes and reports errors naming the node.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_FRONTENDS_ONNX_ONNXGRAPH_H
#define CNNC_FRONTENDS_ONNX_ONNXGRAPH_H

#include "frontends/common/GraphBuilder.h"

#include "onnx/onnx_pb.h"

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace cnnc::onnx_import {

/// The error of one node; OnnxImporter.cpp prefixes the node's name and
/// type and prints it.
struct NodeError {
  std::string message;
};

/// The batch size inside folded shape arithmetic (`Shape` of an activation
/// gives it for dimension 0): unknown until run time.
constexpr int64_t kBatchDim = std::numeric_limits<int64_t>::min();

/// A tensor whose contents are known at import. Float tensors keep `floats`,
/// integer and boolean ones `ints`.
struct Constant {
  std::vector<int64_t> dims;
  bool isFloat = true;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  /// The initializer's name, or "" for a constant computed at import. A
  /// view of an initializer (Unsqueeze, Squeeze, Reshape) keeps its name,
  /// and `initializerDims` the initializer's own shape.
  std::string initializer;
  std::vector<int64_t> initializerDims;

  int64_t size() const;
};

/// An ONNX tensor during the import: a value of the graph, or a constant.
struct Tensor {
  mlir::Value value;
  std::shared_ptr<const Constant> constant;
  /// Zero padding of `value` by a Pad node, not applied: it becomes part of
  /// the window of the Conv or AveragePool that reads it (top, left,
  /// bottom, right).
  std::array<int64_t, 4> pads = {0, 0, 0, 0};
  /// A sequence: [N, C, L] in ONNX, [N, C, 1, L] in cnnc. Set on model
  /// inputs of rank 3 and kept by every node that reads one and returns a
  /// value of that form.
  bool sequence = false;
  /// Half of a channel shuffle: `value` [N, C, H, W] viewed as [N, g, C/g,
  /// H, W] (shuffleGroups = g) by a Reshape, then transposed to [N, C/g, g,
  /// H, W] (shuffleTransposed); the Reshape back to [N, C, H, W] completes
  /// it. Nothing else may read such a view.
  int64_t shuffleGroups = 0;
  bool shuffleTransposed = false;
  bool padded() const { return pads != std::array<int64_t, 4>{0, 0, 0, 0}; }
  /// The value's rank as the ONNX graph sees it.
  int64_t onnxRank() const;
};

/// Reads a TensorProto (raw or typed data); throws NodeError on a type or
/// size it cannot hold.
Constant readTensor(const onnx::TensorProto &proto);

/// Keeps the first error the graph builder reports (the builder returns a
/// null Value after reporting).
class BuilderErrors : public frontend::Reporter {
public:
  void layerError(frontend::Site, const std::string &message) override { keep(message); }
  void modelError(frontend::Site, const std::string &message,
                  llvm::ArrayRef<std::pair<frontend::Site, std::string>>) override {
    keep(message);
  }
  /// The error kept, cleared.
  std::string take() { return std::exchange(pending, std::string()); }

private:
  void keep(const std::string &message) {
    if (pending.empty())
      pending = message;
  }
  std::string pending;
};

/// One node being converted.
class NodeContext {
public:
  NodeContext(const onnx::NodeProto &node, int64_t opset, frontend::LayerInfo layer,
              frontend::GraphBuilder &graph, BuilderErrors &errors,
              const std::map<std::string, Tensor> &tensors, const std::map<std::string, int> &uses,
              std::map<std::string, mlir::Value> &constantParams)
      : node(node), opset(opset), layer(std::move(layer)), graph(graph), errors(errors),
        tensors(tensors), uses(uses), constantParams(constantParams) {}

  const onnx::NodeProto &node;
  int64_t opset; ///< the model's version of the default domain
  frontend::LayerInfo layer;
  frontend::GraphBuilder &graph;

  [[noreturn]] void fail(const std::string &message) const;
  /// `v`, a value the graph builder returned; throws the builder's error if
  /// it is null.
  mlir::Value built(mlir::Value v) const;

  /// Whether input `i` is given (ONNX leaves optional inputs out or empty).
  bool hasInput(int i) const;
  /// Input `i`, which must be given.
  const Tensor &input(int i) const;
  /// Input `i`'s rank in ONNX (a sequence's 3, not cnnc's 4).
  int64_t rank(int i) const { return input(i).onnxRank(); }
  /// Input `i` as a value of the graph (`what` names it in errors).
  mlir::Value value(int i, const char *what) const;
  /// Input `i` as a value and the zero padding a Pad node put around it.
  mlir::Value paddedValue(int i, const char *what, std::array<int64_t, 4> &pads) const;
  /// Input `i` as a value of the graph; a float constant becomes the
  /// trainable parameter named after its initializer (or, for a constant
  /// node's output, after the tensor), viewed in the node's shape.
  mlir::Value operand(int i, const char *what) const;
  /// Input `i` as a constant known at import.
  const Constant &constant(int i, const char *what) const;
  /// Input `i` as an initializer holding a parameter of `shape`: its name.
  std::string weight(int i, const char *what, llvm::ArrayRef<int64_t> shape) const;

  bool hasAttr(const char *name) const;
  int64_t attrInt(const char *name, int64_t otherwise) const;
  float attrFloat(const char *name, float otherwise) const;
  std::string attrString(const char *name, const std::string &otherwise) const;
  std::vector<int64_t> attrInts(const char *name, std::vector<int64_t> otherwise) const;
  /// Fails on any attribute not in `known`.
  void onlyAttrs(std::initializer_list<const char *> known) const;
  /// Fails if output `i` exists and is read by another node or the graph.
  void unusedOutput(int i, const char *what) const;

private:
  const onnx::AttributeProto *attr(const char *name) const;
  BuilderErrors &errors;
  const std::map<std::string, Tensor> &tensors;
  /// How many nodes (and graph outputs) read each name.
  const std::map<std::string, int> &uses;
  /// The parameter made of each constant operand so far, by name.
  std::map<std::string, mlir::Value> &constantParams;
};

/// The static shape of a graph value ([N, ...] with a dynamic batch).
llvm::ArrayRef<int64_t> shapeOf(mlir::Value v);

/// Converts one node: its outputs in order (a constant, a value, or for an
/// output nobody reads, an empty Tensor). Throws NodeError.
using NodeConverter = std::vector<Tensor> (*)(NodeContext &node);
/// The converter of `opType` in the default domain, or null.
NodeConverter findConverter(const std::string &opType);
/// The op types findConverter knows, sorted (for messages).
std::vector<std::string> supportedOps();

} // namespace cnnc::onnx_import

#endif
