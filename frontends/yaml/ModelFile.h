//===- ModelFile.h - the model file as parsed, before any IR ----*- C++ -*-===//
//
// The syntax tree of a cnnc model file (docs/model-format.md) and the typed
// reading of layer attributes. It knows YAML but no MLIR: parseModelFile
// checks the file's structure (keys, op names, layer names, input
// references, block definitions and `$param` uses) and MLIRGen.cpp maps the
// result to the cnn dialect. Attribute values stay YAML nodes until a layer
// is built, because inside a block they may be `$param` references or small
// integer expressions that only an instantiation can resolve.
//
// User errors are thrown as ModelError (yaml-cpp reports its own errors by
// exception too) and caught in exactly one place, importYamlModel, which
// turns them into MLIR diagnostics; nothing else throws across this API.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_FRONTENDS_YAML_MODELFILE_H
#define CNNC_FRONTENDS_YAML_MODELFILE_H

#include "compiler/Dialect/CNN/IR/Window.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cnnc::model {

/// Bounds on what a model file may ask of the frontend, so that no file can
/// exhaust its stack, memory or time: each is refused with an error at the
/// YAML node concerned. They lie far beyond any real network;
/// docs/model-format.md lists them under "Limits".
namespace limits {
/// Nesting of YAML maps and lists in the file.
constexpr int kMaxYamlDepth = 64;
/// YAML nodes in the file, counting what an alias (`*name`) refers to once
/// per use: bounds every walk of the file, and the "billion laughs" of
/// aliases of aliases.
constexpr int64_t kMaxYamlNodes = 1'000'000;
/// YAML nodes walked and copied to substitute `$param` values, over all the
/// layers of the expanded model.
constexpr int64_t kMaxExpandedNodes = 10'000'000;
/// Nesting of parentheses and unary minus signs in an integer expression.
constexpr int kMaxExpressionDepth = 64;
/// Nesting of block instances: a block instantiating a block ...
constexpr int kMaxBlockDepth = 64;
/// The count of `repeat: N` and the length of a `repeat:` list.
constexpr int64_t kMaxRepeat = 10'000;
/// Layers (ops and block instances) once blocks and repeats are expanded.
constexpr int64_t kMaxLayers = 100'000;
/// Parameters of one block.
constexpr size_t kMaxBlockParams = 256;
/// Characters of a name (of the model, an input, a layer, a block or a
/// parameter).
constexpr size_t kMaxNameLength = 256;
/// Any integer attribute and any dimension of an input shape: the largest
/// extent of a Halide buffer dimension (2^31 - 1), so that sizes computed
/// from a few of them fit in 64 bits.
constexpr int64_t kMaxSize = 2'147'483'647;
/// Characters of a YAML value quoted in a message (longer ones end in ...).
constexpr size_t kMaxRenderedLength = 200;
} // namespace limits

/// A 1-based line:column in the model file; line 0 means unknown.
struct SourceLoc {
  int line = 0;
  int col = 0;
  /// The location of a YAML node (yaml-cpp marks are 0-based).
  static SourceLoc of(const YAML::Node &node);
  static SourceLoc of(const YAML::Mark &mark);
  bool isValid() const { return line > 0; }
};

/// A user error in the model file, with optional notes pointing elsewhere.
struct ModelError {
  SourceLoc loc;
  std::string message;
  std::vector<std::pair<SourceLoc, std::string>> notes;
};

/// Throws ModelError at `loc`.
[[noreturn]] void fail(SourceLoc loc, const std::string &message);

/// One `key: value` of a layer that is not structural (not name/op/inputs/...).
struct Attr {
  std::string key;
  SourceLoc keyLoc;
  YAML::Node value;
};

/// A reference to a layer's input: one of the scope's inputs (index -1 for
/// the first, -2 for the second, ...) or an earlier layer of the same scope.
struct InputRef {
  std::string name;
  SourceLoc loc;
  int index = -1;
};

/// One entry of a `repeat:` list: the arguments of one repetition, which
/// override the instance's own.
struct RepeatEntry {
  SourceLoc loc; ///< the entry's map
  std::vector<Attr> args;
};

/// One entry of a `layers:` list: a primitive op or a block instance.
struct Layer {
  std::string name; ///< local name (explicit or generated)
  bool generatedName = false;
  SourceLoc nameLoc; ///< the `name:` value, or the layer
  SourceLoc loc;     ///< the layer's map node
  std::string op;    ///< the op, or empty for a block instance
  SourceLoc opLoc;
  std::string block; ///< the instantiated block, or empty
  SourceLoc blockLoc;
  std::vector<InputRef> inputs; ///< resolved; the previous layer by default
  bool explicitInputs = false;
  SourceLoc inputsLoc;
  std::vector<Attr> attrs; ///< op attributes (`repeat` for an instance)
  std::vector<Attr> args;  ///< arguments of a block instance
  /// The entries of `repeat: [{...}, ...]` (empty for `repeat: N` or none).
  std::vector<RepeatEntry> repeats;

  /// The attribute called `key`, or null.
  const Attr *find(llvm::StringRef key) const;
  /// `op` or `block`, for messages: "conv2d 'conv1'" / "block 'layer1'".
  std::string describe() const;
};

/// A scope's output: a layer, or (a negative index as in InputRef) an input.
struct OutputRef {
  std::string name;
  SourceLoc loc;
  int index = 0;
};

/// A list of layers with its inputs and outputs: the model (one or more of
/// each) or a block (one of each).
struct Scope {
  std::vector<Layer> layers;
  std::vector<OutputRef> outputs; ///< the last layer by default
};

/// A parameter of a block, with its default if it has one.
struct BlockParam {
  std::string name;
  SourceLoc loc;
  YAML::Node defaultValue; ///< null when the parameter is required
};

/// A `blocks:` entry.
struct BlockDef {
  std::string name;
  SourceLoc loc;
  std::vector<BlockParam> params;
  Scope body;
};

/// One validated entry of the `train:` section (docs/model-format.md).
struct TrainSetting {
  enum Kind { Text, Number, Integer, Flag };
  std::string key; ///< loss, optimizer, lr, beta1, beta2, epsilon, weight_decay,
                   ///< momentum, dampening, nesterov, batch, epochs
  Kind kind = Number;
  std::string text;  ///< Text: the loss or optimizer name
  double number = 0; ///< Number, Integer, Flag (0 / 1)
};

/// One model input: `{name: input, shape: [C, H, W]}`.
struct ModelInput {
  std::string name = "input";
  std::vector<int64_t> shape; ///< without the batch: [C, H, W], [C, L]
                              ///< (a sequence, [C, 1, L] in the IR) or [F]
  SourceLoc loc;
};

/// What substituting `$param` values may still walk and copy during one
/// import (limits::kMaxExpandedNodes).
struct ExpansionBudget {
  int64_t left = limits::kMaxExpandedNodes;
  /// Takes one node from the budget; an error at `loc` when none is left.
  void take(SourceLoc loc);
};

/// The whole model file.
struct ModelFile {
  std::string name;
  std::vector<ModelInput> inputs; ///< `input:` (one) or `inputs:` (a list)
  Scope body;
  std::map<std::string, BlockDef> blocks;
  std::vector<TrainSetting> train; ///< empty without a `train:` section
};

/// Parses and checks the structure of a model file. Throws ModelError.
ModelFile parseModelFile(llvm::StringRef text);

/// Parses a training-settings file: a map whose one key is `train`, as in a
/// model file (for models that come without one, e.g. ONNX). Throws
/// ModelError.
std::vector<TrainSetting> parseTrainFile(llvm::StringRef text);

/// The value of a block parameter inside one instance.
struct Binding {
  YAML::Node value; ///< already free of `$` references
  SourceLoc loc;    ///< where the value was written; unknown for the input shape
  /// Why the name has no value in this instance (an input-shape name the
  /// block's input does not have); empty when it has one.
  std::string unavailable;
};
using Env = std::map<std::string, Binding, std::less<>>;

/// The names under which a block's layers read the shape of the block's
/// input: in_channels, in_height, in_width (a 4-D input [N, C, H, W], a
/// sequence being [N, C, 1, L]) and in_features (a flat input [N, F]).
/// They cannot be declared as parameters nor given as arguments.
llvm::ArrayRef<llvm::StringRef> inputShapeNames();

/// Binds the input-shape names in `env` for an instance of `block` whose
/// input has `shape` (without the batch): those the input has to its sizes,
/// the others as unavailable, saying why.
void bindInputShape(Env &env, llvm::ArrayRef<int64_t> shape, const std::string &block);

/// A padding attribute: explicit [top, left, bottom, right] or a mode.
using Padding = cnn::Padding;

/// Reads the typed attributes of one layer under the bindings of its block
/// instance; every error names the layer and points at the offending value.
class AttrReader {
public:
  AttrReader(const Layer &layer, const Env &env, std::string fullName, ExpansionBudget &budget)
      : layer(layer), env(env), fullName(std::move(fullName)), budget(budget) {}

  /// An integer in [min, max]; `dflt` when absent (missing and no default:
  /// error).
  int64_t getInt(llvm::StringRef key, std::optional<int64_t> dflt, int64_t min = 1,
                 int64_t max = limits::kMaxSize);
  /// An integer or a list of 2 integers, each in [min, limits::kMaxSize].
  std::array<int64_t, 2> getPair(llvm::StringRef key, std::optional<std::array<int64_t, 2>> dflt,
                                 int64_t min = 1);
  /// The padding of a layer over `rank` spatial dimensions: for rank 2 an
  /// integer, [h, w], [top, left, bottom, right], valid, same or full; for
  /// rank 1 an integer, [left, right], valid, same or full, as
  /// [top, left, bottom, right] with top = bottom = 0.
  Padding getPadding(llvm::StringRef key, int rank);
  bool getBool(llvm::StringRef key, bool dflt);
  /// A number in [min, max) (`maxOpen`) or [min, max].
  double getNumber(llvm::StringRef key, double dflt, double min, double max, bool maxOpen,
                   bool minOpen = false);
  /// A list of lists of integers >= 0 (a connection table), each row with
  /// where it is written; empty when absent.
  struct IntList {
    std::vector<int64_t> values;
    SourceLoc loc;
  };
  std::vector<IntList> getIntLists(llvm::StringRef key);
  /// One of `choices`, or "" when absent.
  std::string getChoice(llvm::StringRef key, llvm::ArrayRef<llvm::StringRef> choices);
  /// Where the attribute is written (its value), or the layer.
  SourceLoc locOf(llvm::StringRef key) const;

  /// Throws a ModelError prefixed with "<op> '<name>': ".
  [[noreturn]] void error(SourceLoc loc, const std::string &message) const;

  /// The full name, e.g. `layer1.0.conv1`.
  const std::string &name() const { return fullName; }

private:
  /// A value with every `$param` substituted, and where it was written.
  struct Resolved {
    YAML::Node node;
    SourceLoc loc;
  };
  Resolved resolve(const YAML::Node &node) const;
  /// Entry `i` of a list, where it is written or else where the list is.
  Resolved element(const Resolved &list, size_t i) const;
  int64_t toInt(const Resolved &value, llvm::StringRef key, llvm::StringRef expected, int64_t min,
                int64_t max = limits::kMaxSize) const;
  /// Every entry of a list through toInt.
  std::vector<int64_t> toInts(const Resolved &list, llvm::StringRef key, llvm::StringRef expected,
                              int64_t min) const;

  const Layer &layer;
  const Env &env;
  std::string fullName;
  ExpansionBudget &budget;
};

/// Substitutes `$param` references and evaluates integer expressions
/// (`$width * 2`) in `node` under `env`, taking what it walks from `budget`.
/// Used for attributes and for the arguments of nested block instances.
Binding resolveValue(const YAML::Node &node, const Env &env, ExpansionBudget &budget);

/// Renders a YAML value for a message: `'abc'`, `[1, 2]`, `{...}`; at most
/// about limits::kMaxRenderedLength characters.
std::string render(const YAML::Node &node);

} // namespace cnnc::model

#endif
