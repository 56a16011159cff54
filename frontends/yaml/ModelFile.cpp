//===- ModelFile.cpp - parse and check a cnnc model file ------------------===//
//
// Implements ModelFile.h: YAML text -> ModelFile, with every structural error
// (unknown key, unknown op, bad or duplicate name, unknown or forward input
// reference, unknown block or block parameter, misused input-shape name,
// malformed repeat list, recursive block) reported at the YAML node it
// concerns, against the op table of LayerOps.h; and the typed reading of
// attribute values with `$param` substitution. Shapes are
// not checked here: the graph builder does that when MLIRGen builds a layer.
//
//===----------------------------------------------------------------------===//
#include "frontends/yaml/ModelFile.h"
#include "frontends/yaml/LayerOps.h"

#include "cnnc/model_schema.h"

#include <yaml-cpp/depthguard.h>

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <set>

using namespace cnnc::model;
namespace schema = cnnc::schema;
namespace opt = cnnc::schema::optimizer;
namespace losses = cnnc::schema::loss;

/// "a or b" / "a, b or c" of the names in `names`.
template <size_t N> static std::string orList(const std::array<std::string_view, N> &names) {
  std::string text;
  for (size_t i = 0; i < N; ++i)
    text += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(names[i]);
  return text;
}
using llvm::ArrayRef;
using llvm::StringRef;

//===----------------------------------------------------------------------===//
// Locations, errors, rendering
//===----------------------------------------------------------------------===//

SourceLoc SourceLoc::of(const YAML::Mark &mark) {
  if (mark.is_null())
    return {};
  return {mark.line + 1, mark.column + 1};
}

SourceLoc SourceLoc::of(const YAML::Node &node) {
  if (!node.IsDefined())
    return {};
  return of(node.Mark());
}

void cnnc::model::fail(SourceLoc loc, const std::string &message) {
  throw ModelError{loc, message, {}};
}

/// Appends `node` to `out` as render() shows it, stopping once `out` is
/// longer than limits::kMaxRenderedLength (an alias may make a value huge).
static void renderInto(const YAML::Node &node, std::string &out) {
  if (out.size() > limits::kMaxRenderedLength)
    return;
  if (!node.IsDefined() || node.IsNull()) {
    out += "nothing";
    return;
  }
  if (node.IsScalar()) {
    out += node.Scalar().substr(0, limits::kMaxRenderedLength);
    return;
  }
  bool seq = node.IsSequence();
  out += seq ? "[" : "{";
  bool first = true;
  for (auto it = node.begin(); it != node.end() && out.size() <= limits::kMaxRenderedLength; ++it) {
    out += first ? "" : ", ";
    first = false;
    if (seq) {
      renderInto(*it, out);
    } else {
      out += "'";
      renderInto(it->first, out);
      out += "': ...";
    }
  }
  out += seq ? "]" : "}";
}

std::string cnnc::model::render(const YAML::Node &node) {
  if (!node.IsDefined() || node.IsNull())
    return "nothing";
  std::string s = node.IsScalar() ? "'" : "";
  renderInto(node, s);
  if (s.size() > limits::kMaxRenderedLength)
    s = s.substr(0, limits::kMaxRenderedLength) + "...";
  return node.IsScalar() ? s + "'" : s;
}

/// "a, b, c".
static std::string joined(ArrayRef<std::string> names) { return llvm::join(names, ", "); }

/// " (did you mean 'x'?)" when one of `candidates` is close to `word`.
static std::string suggestion(StringRef word, ArrayRef<std::string> candidates) {
  std::string best;
  unsigned bestDistance = 3;
  for (const std::string &c : candidates) {
    unsigned d = word.edit_distance(c, /*AllowReplacements=*/true, bestDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

//===----------------------------------------------------------------------===//
// YAML shape helpers
//===----------------------------------------------------------------------===//

/// The key/value pairs of a map, failing on a non-scalar or duplicate key.
static std::vector<std::pair<YAML::Node, YAML::Node>> entries(const YAML::Node &map) {
  std::vector<std::pair<YAML::Node, YAML::Node>> out;
  std::map<std::string, SourceLoc> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    YAML::Node key = it->first;
    if (!key.IsScalar())
      fail(SourceLoc::of(key), "expected a scalar key, found " + render(key));
    auto [pos, inserted] = seen.emplace(key.Scalar(), SourceLoc::of(key));
    if (!inserted) {
      ModelError err{SourceLoc::of(key), "duplicate key '" + key.Scalar() + "'", {}};
      err.notes.push_back({pos->second, "first given here"});
      throw err;
    }
    out.push_back({key, it->second});
  }
  return out;
}

/// True for a scalar written as a positive integer (digits, maybe with a
/// sign), whether or not it fits in 64 bits.
static bool isDecimal(StringRef s) {
  s = s.trim();
  if (s.starts_with("+"))
    s = s.drop_front();
  return !s.empty() && llvm::all_of(s, llvm::isDigit);
}

/// True for a node that was written and is not null (`~` or empty).
static bool isPresent(const YAML::Node &node) { return node.IsDefined() && !node.IsNull(); }

static void expectMap(const YAML::Node &node, SourceLoc loc, const std::string &what) {
  if (!node.IsMap())
    fail(SourceLoc::of(node).isValid() ? SourceLoc::of(node) : loc,
         what + ": expected a map, found " + render(node));
}

/// Refuses a name longer than limits::kMaxNameLength.
static void checkNameLength(const std::string &name, SourceLoc loc, const std::string &what) {
  if (name.size() > limits::kMaxNameLength)
    fail(loc, llvm::formatv("{0}: a name of {1} characters, longer than the {2} allowed", what,
                            name.size(), limits::kMaxNameLength));
}

static std::string expectScalar(const YAML::Node &node, SourceLoc loc, const std::string &what) {
  SourceLoc at = SourceLoc::of(node).isValid() ? SourceLoc::of(node) : loc;
  if (!node.IsScalar() || node.Scalar().empty())
    fail(at, what + ": expected a name, found " + render(node));
  checkNameLength(node.Scalar(), at, what);
  return node.Scalar();
}

/// Names of layers, blocks and parameters: letters, digits, '_', '-', '.'.
static bool isValidName(StringRef name, bool allowDots) {
  if (name.empty() || !(llvm::isAlpha(name[0]) || name[0] == '_'))
    return false;
  return llvm::all_of(name, [&](char c) {
    return llvm::isAlnum(c) || c == '_' || c == '-' || (allowDots && c == '.');
  });
}

/// The names of every op, for messages.
static std::vector<std::string> opNames() {
  std::vector<std::string> names;
  for (const LayerOp &op : layerOps())
    names.push_back(op.name);
  return names;
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

const Attr *Layer::find(StringRef key) const {
  for (const Attr &a : attrs)
    if (a.key == key)
      return &a;
  return nullptr;
}

std::string Layer::describe() const {
  // Names are given to unnamed layers once their whole list is read.
  std::string quoted = name.empty() ? "" : " '" + name + "'";
  if (!op.empty())
    return op + quoted;
  return "block '" + block + "' instance" + quoted;
}

/// Reads the `repeat:` of a block instance: a count (an integer or a `$param`,
/// read when the instance is built) or a non-empty list of argument maps,
/// one per repetition, into `layer.repeats`. The arguments are checked
/// against the block by checkInstances.
static void parseRepeat(const Attr &repeat, Layer &layer) {
  const YAML::Node &value = repeat.value;
  SourceLoc loc = SourceLoc::of(value).isValid() ? SourceLoc::of(value) : repeat.keyLoc;
  if (value.IsScalar() && !value.Scalar().empty())
    return;
  if (!value.IsSequence() || value.size() == 0)
    fail(loc, layer.describe() +
                  ": 'repeat': expected a count (an integer >= 1) or a non-empty list of "
                  "argument maps, one per repetition ([{out: 64}, {out: 128, stride: 2}]), "
                  "found " +
                  render(value));
  if (value.size() > size_t(limits::kMaxRepeat))
    fail(loc, llvm::formatv("{0}: 'repeat': a list of {1} entries, more than the {2} allowed",
                            layer.describe(), value.size(), limits::kMaxRepeat));
  for (size_t i = 0; i < value.size(); ++i) {
    const YAML::Node &node = value[i];
    RepeatEntry entry;
    entry.loc = SourceLoc::of(node).isValid() ? SourceLoc::of(node) : loc;
    if (!node.IsMap())
      fail(entry.loc, layer.describe() + ": 'repeat' entry #" + std::to_string(i + 1) +
                          ": expected a map of block arguments ({out: 64}), found " + render(node));
    for (auto &[key, arg] : entries(node))
      entry.args.push_back({key.Scalar(), SourceLoc::of(key), arg});
    layer.repeats.push_back(std::move(entry));
  }
}

/// Parses one `layers:` entry; names, inputs and attributes are checked by
/// parseScope once the whole list is known.
static Layer parseLayer(const YAML::Node &node, size_t index) {
  Layer layer;
  layer.loc = SourceLoc::of(node);
  if (!node.IsMap())
    fail(layer.loc, llvm::formatv("layer #{0}: expected a map with 'op' (or "
                                  "'block'), found {1}",
                                  index + 1, render(node)));
  for (auto &[key, value] : entries(node)) {
    std::string k = key.Scalar();
    SourceLoc valueLoc = SourceLoc::of(value);
    if (k == "name") {
      layer.name = expectScalar(value, valueLoc, "'name'");
      layer.nameLoc = valueLoc;
      if (!isValidName(layer.name, /*allowDots=*/true))
        fail(valueLoc, "invalid layer name '" + layer.name +
                           "': expected letters, digits, '_', '-' or '.', "
                           "starting with a letter or '_'");
    } else if (k == "op") {
      layer.op = expectScalar(value, valueLoc, "'op'");
      layer.opLoc = valueLoc;
    } else if (k == "block") {
      layer.block = expectScalar(value, valueLoc, "'block'");
      layer.blockLoc = valueLoc;
    } else if (k == "inputs") {
      layer.explicitInputs = true;
      layer.inputsLoc = valueLoc;
      if (value.IsScalar()) {
        layer.inputs.push_back({value.Scalar(), valueLoc});
      } else if (value.IsSequence() && value.size() > 0) {
        for (const YAML::Node &in : value)
          layer.inputs.push_back({expectScalar(in, valueLoc, "'inputs'"), SourceLoc::of(in)});
      } else {
        fail(valueLoc, "'inputs': expected a layer name or a list of layer "
                       "names, found " +
                           render(value));
      }
    } else if (k == "repeat") {
      layer.attrs.push_back({k, SourceLoc::of(key), value});
    } else {
      layer.args.push_back({k, SourceLoc::of(key), value});
    }
  }
  if (!layer.op.empty() && !layer.block.empty())
    fail(layer.blockLoc, "a layer is either an op or a block instance: found "
                         "both 'op: " +
                             layer.op + "' and 'block: " + layer.block + "'");
  if (layer.op.empty() && layer.block.empty())
    fail(layer.loc, llvm::formatv("layer #{0}: missing 'op' (or 'block')", index + 1));
  if (!layer.op.empty()) {
    // For ops, everything that is not structural is an op attribute.
    if (const Attr *repeat = layer.find("repeat"))
      fail(repeat->keyLoc, "'repeat' applies to block instances only, not to "
                           "op '" +
                               layer.op + "'");
    layer.attrs = std::move(layer.args);
    layer.args.clear();
    if (!findLayerOp(layer.op)) {
      std::vector<std::string> names = opNames();
      fail(layer.opLoc, "unknown op '" + layer.op + "'" + suggestion(layer.op, names) +
                            "; known ops: " + joined(names));
    }
  } else if (const Attr *repeat = layer.find("repeat")) {
    parseRepeat(*repeat, layer);
  }
  return layer;
}

/// Collects the `$name` references in a scalar (a reference or expression),
/// taking each node walked from `budget` if given.
static void collectRefs(const YAML::Node &node,
                        std::vector<std::pair<std::string, SourceLoc>> &refs,
                        ExpansionBudget *budget = nullptr) {
  if (budget)
    budget->take(SourceLoc::of(node));
  if (node.IsSequence()) {
    for (const YAML::Node &n : node)
      collectRefs(n, refs, budget);
    return;
  }
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it)
      collectRefs(it->second, refs, budget);
    return;
  }
  if (!node.IsScalar())
    return;
  StringRef s = node.Scalar();
  for (size_t i = s.find('$'); i != StringRef::npos; i = s.find('$', i + 1)) {
    size_t end = i + 1;
    while (end < s.size() && (llvm::isAlnum(s[end]) || s[end] == '_'))
      ++end;
    refs.push_back({s.slice(i + 1, end).str(), SourceLoc::of(node)});
  }
}

static bool isInputShapeName(StringRef name) { return llvm::is_contained(inputShapeNames(), name); }

/// "$in_channels, $in_height, ...".
static std::string inputShapeRefs() {
  std::vector<std::string> refs;
  for (StringRef name : inputShapeNames())
    refs.push_back("$" + name.str());
  return joined(refs);
}

/// Checks that every `$name` in `layer` is a parameter of the enclosing block
/// or the shape of its input (`block` is null at the top level, where
/// neither exists).
static void checkRefs(const Layer &layer, const BlockDef *block) {
  std::vector<std::pair<std::string, SourceLoc>> refs;
  for (const Attr &a : layer.attrs)
    collectRefs(a.value, refs);
  for (const Attr &a : layer.args)
    collectRefs(a.value, refs);
  for (auto &[name, loc] : refs) {
    bool shapeName = isInputShapeName(name);
    if (!block)
      fail(loc, "'$" + name +
                    (shapeName ? "' is the shape of a block's input: it can only be used inside "
                                 "a block definition (blocks:)"
                               : "': block parameters can only be used inside a "
                                 "block definition (blocks:)"));
    if (shapeName)
      continue;
    std::vector<std::string> params, known;
    for (const BlockParam &p : block->params)
      params.push_back(p.name);
    known = params;
    for (StringRef shape : inputShapeNames())
      known.push_back(shape.str());
    if (!llvm::is_contained(params, name))
      fail(loc,
           "unknown parameter '$" + name + "' in block '" + block->name + "'" +
               suggestion(name, known) +
               (params.empty() ? "; it has no parameters" : "; its parameters: " + joined(params)) +
               "; its input's shape: " + inputShapeRefs());
  }
}

/// The graph of a model or of a block as written: its `layers:` list, with
/// where that key is, and its optional `output:`.
struct ScopeNodes {
  YAML::Node layers, output;
  SourceLoc layersKeyLoc;
  bool hasLayers = false;

  /// Takes the entry `key: value` if it is `layers` or `output`.
  bool take(const YAML::Node &key, const YAML::Node &value) {
    if (key.Scalar() == "layers") {
      layers = value;
      hasLayers = true;
      layersKeyLoc = SourceLoc::of(key);
      return true;
    }
    if (key.Scalar() == "output") {
      output = value;
      return true;
    }
    return false;
  }
};

/// How a scope's inputs are referred to: `names[k]` is input `index[k]`
/// (a model with one input also answers to `input`).
struct ScopeInputs {
  std::vector<std::string> names;
  std::vector<int> index;
  /// InputRef::index of `name` (-1 for input 0, ...), or 0 if not an input.
  int find(const std::string &name) const {
    for (size_t k = 0; k < names.size(); ++k)
      if (names[k] == name)
        return -1 - index[k];
    return 0;
  }
};

/// Parses the `layers:` list (and `output:`) of `nodes` into a scope: assigns
/// generated names, rejects duplicates, resolves `inputs:` to earlier layers
/// and checks op attribute keys. `inputs` are how the scope's inputs are
/// referred to; a block (`block` set) has one output.
static Scope parseScope(const ScopeNodes &nodes, const ScopeInputs &inputs, const BlockDef *block) {
  const YAML::Node &layers = nodes.layers, &output = nodes.output;
  ArrayRef<std::string> inputNames = inputs.names;
  if (!layers.IsSequence() || layers.size() == 0)
    fail(SourceLoc::of(layers).isValid() ? SourceLoc::of(layers) : nodes.layersKeyLoc,
         "'layers': expected a non-empty list of layers, found " + render(layers));
  Scope scope;
  for (size_t i = 0; i < layers.size(); ++i)
    scope.layers.push_back(parseLayer(layers[i], i));

  // Explicit names first, so generated names can avoid them.
  std::map<std::string, int> index;
  for (size_t i = 0; i < scope.layers.size(); ++i) {
    Layer &layer = scope.layers[i];
    if (layer.name.empty())
      continue;
    if (llvm::is_contained(inputNames, layer.name))
      fail(layer.nameLoc,
           "layer name '" + layer.name + "' is taken by the input; choose another name");
    auto [pos, inserted] = index.emplace(layer.name, (int)i);
    if (!inserted) {
      ModelError err{layer.nameLoc, "duplicate layer name '" + layer.name + "'", {}};
      err.notes.push_back({scope.layers[pos->second].nameLoc, "first used here"});
      throw err;
    }
  }
  std::map<std::string, int> counters;
  for (size_t i = 0; i < scope.layers.size(); ++i) {
    Layer &layer = scope.layers[i];
    if (!layer.name.empty())
      continue;
    std::string base = layer.op.empty() ? layer.block : layer.op;
    std::string name;
    do
      name = base + "_" + std::to_string(++counters[base]);
    while (index.count(name) || llvm::is_contained(inputNames, name));
    layer.name = name;
    layer.generatedName = true;
    layer.nameLoc = layer.loc;
    index.emplace(name, (int)i);
  }

  for (size_t i = 0; i < scope.layers.size(); ++i) {
    Layer &layer = scope.layers[i];
    if (const LayerOp *row = findLayerOp(layer.op)) {
      for (const Attr &a : layer.attrs)
        if (!llvm::is_contained(row->attrs, a.key))
          fail(a.keyLoc, layer.describe() + ": unknown attribute '" + a.key + "'" +
                             suggestion(a.key, row->attrs) +
                             (row->attrs.empty() ? "; " + layer.op + " takes no attributes"
                                                 : "; expected one of: " + joined(row->attrs)));
    }
    checkRefs(layer, block);

    // Inputs: earlier layers of this scope, or the scope's input.
    if (!layer.explicitInputs) {
      layer.inputs.push_back(
          {i == 0 ? inputNames[0] : scope.layers[i - 1].name, layer.loc, (int)i - 1});
    } else {
      for (InputRef &ref : layer.inputs) {
        if (int input = inputs.find(ref.name)) {
          ref.index = input;
          continue;
        }
        auto it = index.find(ref.name);
        if (it == index.end()) {
          std::vector<std::string> known;
          for (size_t k = 0; k < inputNames.size(); ++k)
            if (inputs.index[k] == int(k))
              known.push_back(inputNames[k]);
          for (size_t j = 0; j < i; ++j)
            known.push_back(scope.layers[j].name);
          fail(ref.loc, layer.describe() + ": unknown input '" + ref.name + "'" +
                            suggestion(ref.name, known) + "; expected " +
                            (known.size() > i + 1 ? "an input" : "the input") +
                            " or an earlier layer: " + joined(known));
        }
        if (it->second >= (int)i)
          fail(ref.loc,
               layer.describe() + ": cycle or forward reference: input '" + ref.name + "' is " +
                   (it->second == (int)i ? "this layer itself" : "defined after this layer") +
                   "; a layer may only read the input or earlier layers");
        ref.index = it->second;
      }
    }
    unsigned minInputs = 1;
    bool variadic = false;
    if (const LayerOp *row = findLayerOp(layer.op)) {
      minInputs = row->minInputs;
      variadic = row->variadic;
    }
    size_t n = layer.inputs.size();
    if (n < minInputs || (!variadic && n > minInputs))
      fail(layer.explicitInputs ? layer.inputsLoc : layer.loc,
           llvm::formatv("{0}: expected {1}{2} input{3}{4}, found {5}", layer.describe(),
                         variadic ? "at least " : "", minInputs, minInputs == 1 ? "" : "s",
                         layer.explicitInputs ? "" : " (name them with 'inputs: [a, b]')", n));
  }

  if (!isPresent(output)) {
    const Layer &last = scope.layers.back();
    scope.outputs.push_back({last.name, last.loc, (int)scope.layers.size() - 1});
    return scope;
  }
  std::vector<YAML::Node> names;
  if (output.IsSequence()) {
    if (block)
      fail(SourceLoc::of(output), "'output': a block has one output, found " + render(output));
    if (output.size() == 0)
      fail(SourceLoc::of(output), "'output': expected a layer name or a non-empty list of them");
    for (const YAML::Node &n : output)
      names.push_back(n);
  } else {
    names.push_back(output);
  }
  for (const YAML::Node &node : names) {
    SourceLoc loc = SourceLoc::of(node).isValid() ? SourceLoc::of(node) : SourceLoc::of(output);
    std::string name = expectScalar(node, loc, "'output'");
    auto it = index.find(name);
    int ref;
    if (int input = inputs.find(name)) {
      ref = input;
    } else if (it == index.end()) {
      std::vector<std::string> known;
      for (const Layer &l : scope.layers)
        known.push_back(l.name);
      fail(loc, "'output': unknown layer '" + name + "'" + suggestion(name, known) +
                    "; expected one of: " + joined(known));
    } else {
      ref = it->second;
    }
    for (const OutputRef &o : scope.outputs)
      if (o.index == ref)
        fail(loc, "'output': '" + name + "' is listed twice");
    scope.outputs.push_back({name, loc, ref});
  }
  return scope;
}

//===----------------------------------------------------------------------===//
// Blocks
//===----------------------------------------------------------------------===//

static BlockDef parseBlock(const std::string &name, SourceLoc nameLoc, const YAML::Node &node) {
  BlockDef block;
  block.name = name;
  block.loc = nameLoc;
  checkNameLength(name, nameLoc, "block");
  if (!isValidName(name, /*allowDots=*/false))
    fail(nameLoc, "invalid block name '" + name + "': expected letters, digits, '_' or '-'");
  expectMap(node, nameLoc, "block '" + name + "'");
  ScopeNodes body;
  for (auto &[key, value] : entries(node)) {
    if (body.take(key, value))
      continue;
    std::string k = key.Scalar();
    if (k == "params") {
      if (value.IsNull())
        continue;
      if (!value.IsSequence())
        fail(SourceLoc::of(value),
             "block '" + name +
                 "': 'params' expected a list of parameter "
                 "names, each optionally with a default ({stride: 1}), found " +
                 render(value));
      for (const YAML::Node &p : value) {
        BlockParam param;
        if (p.IsScalar()) {
          param.name = p.Scalar();
          param.loc = SourceLoc::of(p);
        } else if (p.IsMap() && p.size() == 1) {
          auto it = p.begin();
          param.name = expectScalar(it->first, SourceLoc::of(p), "parameter");
          param.loc = SourceLoc::of(it->first);
          param.defaultValue = it->second;
          std::vector<std::pair<std::string, SourceLoc>> refs;
          collectRefs(it->second, refs);
          for (auto &[ref, refLoc] : refs)
            if (!isInputShapeName(ref))
              fail(refLoc, "block '" + name + "': the default of '" + param.name +
                               "' cannot refer to parameters ('$" + ref +
                               "'), only to the input's shape: " + inputShapeRefs());
        } else {
          fail(SourceLoc::of(p), "block '" + name +
                                     "': expected a parameter name or "
                                     "{name: default}, found " +
                                     render(p));
        }
        checkNameLength(param.name, param.loc, "block '" + name + "': parameter");
        if (block.params.size() == limits::kMaxBlockParams)
          fail(param.loc, llvm::formatv("block '{0}': more than {1} parameters", name,
                                        limits::kMaxBlockParams));
        if (!isValidName(param.name, /*allowDots=*/false) ||
            param.name.find('-') != std::string::npos)
          fail(param.loc,
               "invalid parameter name '" + param.name + "': expected letters, digits or '_'");
        if (isInputShapeName(param.name))
          fail(param.loc, "block '" + name + "': '" + param.name + "' cannot be declared: $" +
                              param.name +
                              " is already the shape of the block's input; choose another name");
        for (const BlockParam &other : block.params)
          if (other.name == param.name)
            fail(param.loc, "block '" + name + "': duplicate parameter '" + param.name + "'");
        block.params.push_back(param);
      }
    } else {
      std::vector<std::string> keys = {"params", "layers", "output"};
      fail(SourceLoc::of(key), "block '" + name + "': unknown key '" + k + "'" +
                                   suggestion(k, keys) + "; expected one of: " + joined(keys));
    }
  }
  if (!body.hasLayers)
    fail(nameLoc, "block '" + name + "': missing 'layers'");
  block.body = parseScope(body, ScopeInputs{{"input"}, {0}}, &block);
  return block;
}

/// Checks every block instance in `scope` against the block definitions.
static void checkInstances(const Scope &scope, const std::map<std::string, BlockDef> &blocks) {
  for (const Layer &layer : scope.layers) {
    if (layer.block.empty())
      continue;
    auto it = blocks.find(layer.block);
    if (it == blocks.end()) {
      std::vector<std::string> names;
      for (auto &entry : blocks)
        names.push_back(entry.first);
      fail(layer.blockLoc, "unknown block '" + layer.block + "'" + suggestion(layer.block, names) +
                               (names.empty() ? "; the model defines no blocks (blocks:)"
                                              : "; defined blocks: " + joined(names)));
    }
    const BlockDef &def = it->second;
    std::vector<std::string> params;
    for (const BlockParam &p : def.params)
      params.push_back(p.name);
    // An argument of the instance, or of one repetition (`entry` its prefix).
    auto checkArg = [&](const Attr &arg, const std::string &entry) {
      std::string what = layer.describe() + ": " + entry;
      if (isInputShapeName(arg.key))
        fail(arg.keyLoc, what + "'" + arg.key + "' is not an argument: the block reads $" +
                             arg.key + " from its input");
      if (llvm::is_contained(params, arg.key))
        return;
      if (!entry.empty() && arg.key == "repeat")
        fail(arg.keyLoc, what + "an entry cannot repeat: the list's length is the number of "
                                "repetitions");
      if (!entry.empty() &&
          (arg.key == "name" || arg.key == "inputs" || arg.key == "block" || arg.key == "op"))
        fail(arg.keyLoc, what + "'" + arg.key +
                             "' cannot vary per repetition: an entry gives block arguments only");
      fail(arg.keyLoc,
           what + "block '" + def.name + "' has no parameter '" + arg.key + "'" +
               suggestion(arg.key, params) +
               (params.empty() ? "; it takes none" : "; its parameters: " + joined(params)));
    };
    for (const Attr &arg : layer.args)
      checkArg(arg, "");
    for (size_t i = 0; i < layer.repeats.size(); ++i)
      for (const Attr &arg : layer.repeats[i].args)
        checkArg(arg, "'repeat' entry #" + std::to_string(i + 1) + ": ");
    // A parameter without a default is given by the instance or by every
    // entry of its repeat list.
    auto givenIn = [](const std::vector<Attr> &args, const BlockParam &p) {
      return llvm::any_of(args, [&](const Attr &a) { return a.key == p.name; });
    };
    for (const BlockParam &p : def.params) {
      if (isPresent(p.defaultValue) || givenIn(layer.args, p))
        continue;
      SourceLoc loc = layer.loc;
      std::string where;
      if (!layer.repeats.empty()) {
        auto missing =
            llvm::find_if(layer.repeats, [&](const RepeatEntry &e) { return !givenIn(e.args, p); });
        if (missing == layer.repeats.end())
          continue;
        loc = missing->loc;
        where = "'repeat' entry #" + std::to_string(missing - layer.repeats.begin() + 1) +
                " (and the instance) give no '" + p.name + "', ";
      }
      ModelError err{loc,
                     layer.describe() + ": " +
                         (where.empty()
                              ? "missing parameter '" + p.name + "' of block '" + def.name + "'"
                              : where + "a parameter of block '" + def.name + "' without default"),
                     {}};
      err.notes.push_back({p.loc, "parameter declared here"});
      throw err;
    }
  }
}

/// Rejects blocks that instantiate themselves, directly or not, and block
/// instances nested deeper than limits::kMaxBlockDepth.
static void checkRecursion(const std::map<std::string, BlockDef> &blocks) {
  // 0: not seen, -1: on the stack, else the block's height: the levels of
  // nesting an instance of it spans (1 without instances in its body).
  std::map<std::string, int> state;
  // `depth`: the level of an instance of `def` (1 in the model's layers).
  std::function<int(const BlockDef &, int)> visit = [&](const BlockDef &def, int depth) {
    state[def.name] = -1;
    int height = 1;
    for (const Layer &layer : def.body.layers) {
      if (layer.block.empty())
        continue;
      int s = state[layer.block];
      if (s == -1)
        fail(layer.blockLoc, "block '" + def.name + "' instantiates block '" + layer.block +
                                 "', which is being defined: blocks cannot "
                                 "be recursive");
      auto tooDeep = [&] {
        fail(layer.blockLoc,
             llvm::formatv("block '{0}' instantiates block '{1}': block instances nested "
                           "deeper than {2} levels",
                           def.name, layer.block, limits::kMaxBlockDepth));
      };
      if (depth + 1 > limits::kMaxBlockDepth)
        tooDeep();
      int h = s == 0 ? visit(blocks.at(layer.block), depth + 1) : s;
      if (depth + h > limits::kMaxBlockDepth)
        tooDeep();
      height = std::max(height, 1 + h);
    }
    state[def.name] = height;
    return height;
  };
  for (auto &entry : blocks)
    if (state[entry.first] == 0)
      visit(entry.second, 1);
}

//===----------------------------------------------------------------------===//
// The model file
//===----------------------------------------------------------------------===//

/// A number from a scalar node, within [min, max] (open ends as flagged).
static double trainNumber(const YAML::Node &node, const std::string &key, double min, double max,
                          bool minOpen, bool integer) {
  double value = 0;
  bool ok = node.IsScalar();
  if (ok) {
    try {
      value = node.as<double>();
    } catch (const YAML::Exception &) {
      ok = false;
    }
  }
  if (ok && integer && value != std::floor(value))
    ok = false;
  bool inRange = ok && (minOpen ? value > min : value >= min) && value <= max;
  if (!inRange) {
    auto number = [](double x) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", x);
      return std::string(buf);
    };
    std::string range = std::string(minOpen ? "(" : "[") + number(min) + ", " +
                        (max == HUGE_VAL ? std::string("inf") : number(max)) + "]";
    fail(SourceLoc::of(node), "train '" + key + "': expected " +
                                  (integer ? "an integer" : "a number") + " in " + range +
                                  ", found " + render(node));
  }
  return value;
}

/// Reads one numeric or boolean training setting.
static TrainSetting trainValue(const std::string &key, const YAML::Node &value) {
  TrainSetting t{key, TrainSetting::Number, "", 0};
  if (key == opt::kLr || key == opt::kEpsilon)
    t.number = trainNumber(value, key, 0, HUGE_VAL, /*minOpen=*/true, false);
  else if (key == opt::kBeta1 || key == opt::kBeta2)
    t.number = trainNumber(value, key, 0, 0.999999999, false, false);
  else if (key == opt::kWeightDecay || key == opt::kMomentum)
    t.number = trainNumber(value, key, 0, HUGE_VAL, false, false);
  else if (key == opt::kDampening)
    t.number = trainNumber(value, key, 0, 1, false, false);
  else if (key == schema::key::kLabelSmoothing) {
    t.number = trainNumber(value, key, 0, 1, false, false);
    if (t.number == 1)
      fail(SourceLoc::of(value),
           "train 'label_smoothing': expected a number in [0, 1), found " + render(value));
  } else if (key == schema::key::kClipGradNorm)
    t.number = trainNumber(value, key, 0, 1e30, false, false);
  else if (key == schema::key::kBatch || key == schema::key::kEpochs) {
    t.kind = TrainSetting::Integer;
    t.number = trainNumber(value, key, 1, 1e9, false, true);
  } else if (key == opt::kNesterov) {
    t.kind = TrainSetting::Flag;
    if (!value.IsScalar() || (value.Scalar() != "true" && value.Scalar() != "false"))
      fail(SourceLoc::of(value),
           "train 'nesterov': expected true or false, found " + render(value));
    t.number = value.Scalar() == "true";
  }
  return t;
}

/// train: {loss, optimizer: name | {name, lr, ...}, lr, batch, epochs,
/// label_smoothing, clip_grad_norm}.
static std::vector<TrainSetting> parseTrain(const YAML::Node &node, SourceLoc keyLoc) {
  expectMap(node, keyLoc, "'train'");
  std::vector<TrainSetting> settings;
  const std::vector<std::string> topKeys = {std::string(schema::key::kLoss),
                                            std::string(schema::key::kOptimizer),
                                            std::string(opt::kLr),
                                            std::string(schema::key::kBatch),
                                            std::string(schema::key::kEpochs),
                                            std::string(schema::key::kLabelSmoothing),
                                            std::string(schema::key::kClipGradNorm)};
  YAML::Node smoothingNode;
  std::string optimizer(opt::kAdam);
  YAML::Node optimizerNode, nesterovNode;
  for (auto &[key, value] : entries(node)) {
    std::string k = key.Scalar();
    if (k == schema::key::kLoss) {
      std::string loss = expectScalar(value, SourceLoc::of(key), "train 'loss'");
      if (loss != losses::kCrossEntropy && loss != losses::kMse)
        fail(SourceLoc::of(value),
             "train 'loss': expected " + orList(losses::kAll) + ", found '" + loss + "'");
      settings.push_back({k, TrainSetting::Text, loss, 0});
    } else if (k == schema::key::kOptimizer) {
      optimizerNode = value;
    } else if (k == opt::kLr || k == schema::key::kBatch || k == schema::key::kEpochs ||
               k == schema::key::kClipGradNorm) {
      settings.push_back(trainValue(k, value));
    } else if (k == schema::key::kLabelSmoothing) {
      settings.push_back(trainValue(k, value));
      smoothingNode = value;
    } else {
      fail(SourceLoc::of(key), "unknown key '" + k + "' in 'train'" + suggestion(k, topKeys) +
                                   "; expected one of: " + joined(topKeys));
    }
  }
  if (isPresent(optimizerNode)) {
    YAML::Node nameNode = optimizerNode;
    std::vector<std::pair<YAML::Node, YAML::Node>> options;
    if (optimizerNode.IsMap()) {
      for (auto &entry : entries(optimizerNode)) {
        if (entry.first.Scalar() == opt::kName)
          nameNode = entry.second;
        else
          options.push_back(entry);
      }
      if (nameNode.IsMap())
        fail(SourceLoc::of(optimizerNode),
             "train 'optimizer': missing 'name' (" + orList(opt::kAll) + ")");
    }
    optimizer = expectScalar(nameNode, SourceLoc::of(optimizerNode), "train 'optimizer'");
    if (std::find(opt::kAll.begin(), opt::kAll.end(), optimizer) == opt::kAll.end())
      fail(SourceLoc::of(nameNode),
           "train 'optimizer': expected " + orList(opt::kAll) + ", found '" + optimizer + "'");
    settings.push_back({std::string(schema::key::kOptimizer), TrainSetting::Text, optimizer, 0});
    std::vector<std::string> allowed = {std::string(opt::kLr), std::string(opt::kWeightDecay)};
    if (optimizer != opt::kSgd)
      for (std::string_view k : {opt::kBeta1, opt::kBeta2, opt::kEpsilon})
        allowed.emplace_back(k);
    else
      for (std::string_view k : {opt::kMomentum, opt::kDampening, opt::kNesterov})
        allowed.emplace_back(k);
    for (auto &[key, value] : options) {
      std::string k = key.Scalar();
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
        fail(SourceLoc::of(key), "unknown option '" + k + "' of optimizer " + optimizer +
                                     suggestion(k, allowed) + "; expected one of: name, " +
                                     joined(allowed));
      if (std::any_of(settings.begin(), settings.end(),
                      [&](const TrainSetting &t) { return t.key == k; }))
        fail(SourceLoc::of(key),
             "train '" + k + "' is given twice (in 'train' and in 'optimizer')");
      settings.push_back(trainValue(k, value));
      if (k == opt::kNesterov)
        nesterovNode = key;
    }
  }
  // torch.optim.SGD refuses Nesterov momentum without a momentum or with dampening.
  if (isPresent(nesterovNode)) {
    auto number = [&](std::string_view key) {
      for (const TrainSetting &t : settings)
        if (t.key == key)
          return t.number;
      return 0.0;
    };
    if (number(opt::kNesterov) != 0 &&
        (number(opt::kMomentum) <= 0 || number(opt::kDampening) != 0))
      fail(SourceLoc::of(nesterovNode),
           "train 'nesterov': Nesterov momentum needs a momentum > 0 and zero dampening (as "
           "torch.optim.SGD)");
  }
  // Label smoothing mixes the targets of a cross-entropy; MSE has none.
  auto loss = std::find_if(settings.begin(), settings.end(),
                           [](const TrainSetting &t) { return t.key == schema::key::kLoss; });
  if (isPresent(smoothingNode) && loss != settings.end() && loss->text != losses::kCrossEntropy &&
      smoothingNode.as<double>() != 0)
    fail(SourceLoc::of(smoothingNode), "train 'label_smoothing' applies to the cross_entropy "
                                       "loss, not '" +
                                           loss->text + "'");
  return settings;
}

/// Refuses a document nested deeper than limits::kMaxYamlDepth or with more
/// than limits::kMaxYamlNodes nodes once its aliases are expanded, so that
/// every later walk of it is bounded. An alias refers to a node written
/// before it: a child that starts before its parent was reached through one,
/// and an expansion too large is reported at the collection using it.
static void checkDocumentSize(const YAML::Node &root) {
  int64_t nodes = 0;
  std::function<void(const YAML::Node &, int, const YAML::Node *)> visit =
      [&](const YAML::Node &node, int depth, const YAML::Node *aliasUser) {
        if (++nodes > limits::kMaxYamlNodes) {
          if (!aliasUser)
            fail(SourceLoc::of(node),
                 llvm::formatv("the file has more than {0} YAML nodes", limits::kMaxYamlNodes));
          fail(SourceLoc::of(*aliasUser),
               llvm::formatv("this value has more than {0} YAML nodes once its aliases "
                             "(*name) are expanded",
                             limits::kMaxYamlNodes));
        }
        if (!node.IsSequence() && !node.IsMap())
          return;
        if (depth >= limits::kMaxYamlDepth)
          fail(SourceLoc::of(node),
               llvm::formatv("YAML nested deeper than {0} levels", limits::kMaxYamlDepth));
        auto child = [&](const YAML::Node &c) {
          const YAML::Node *user = aliasUser;
          if (!user && SourceLoc::of(c).isValid() && c.Mark().pos < node.Mark().pos)
            user = &node;
          visit(c, depth + 1, user);
        };
        for (auto it = node.begin(); it != node.end(); ++it) {
          if (node.IsSequence()) {
            child(*it);
          } else {
            child(it->first);
            child(it->second);
          }
        }
      };
  visit(root, 0, nullptr);
}

/// Loads YAML text, bounded by checkDocumentSize.
static YAML::Node loadYaml(StringRef text) {
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::DeepRecursion &e) {
    fail(SourceLoc::of(e.mark),
         llvm::formatv("YAML nested deeper than {0} levels", limits::kMaxYamlDepth));
  } catch (const YAML::Exception &e) {
    fail(SourceLoc::of(e.mark), "invalid YAML: " + e.msg);
  }
  checkDocumentSize(root);
  return root;
}

std::vector<TrainSetting> cnnc::model::parseTrainFile(StringRef text) {
  YAML::Node root = loadYaml(text);
  if (!root.IsMap() || root.size() != 1 || !root.begin()->first.IsScalar() ||
      root.begin()->first.Scalar() != "train")
    fail(SourceLoc::of(root).isValid() ? SourceLoc::of(root) : SourceLoc{1, 1},
         "expected training settings: a map with the one key 'train' ({loss, optimizer, lr, "
         "batch, epochs}), found " +
             render(root));
  auto entry = *root.begin();
  return parseTrain(entry.second, SourceLoc::of(entry.first));
}

/// One model input, `{name: input, shape: [C, H, W]}` at `loc` (the name is
/// required in an `inputs:` list).
static ModelInput parseInput(const YAML::Node &input, SourceLoc loc, bool named) {
  ModelInput in;
  in.loc = loc;
  expectMap(input, loc, "'input'");
  YAML::Node shape;
  bool hasShape = false, hasName = false;
  for (auto &[key, value] : entries(input)) {
    std::string k = key.Scalar();
    if (k == "name") {
      in.name = expectScalar(value, SourceLoc::of(key), "input 'name'");
      hasName = true;
      if (!isValidName(in.name, /*allowDots=*/false))
        fail(SourceLoc::of(value),
             "invalid input name '" + in.name + "': expected letters, digits, '_' or '-'");
    } else if (k == "shape") {
      shape = value;
      hasShape = true;
    } else {
      fail(SourceLoc::of(key), "input: unknown key '" + k + "'" + suggestion(k, {"name", "shape"}) +
                                   "; expected name or shape");
    }
  }
  if (named && !hasName)
    fail(loc, "input: missing 'name' (each of several inputs is named)");
  if (!hasShape)
    fail(loc, "input: missing 'shape' ([C, H, W], without "
              "the batch)");
  auto badShape = [&]() {
    fail(SourceLoc::of(shape), "input shape: expected [C, H, W] (or [C, L] "
                               "for a sequence, [F] for features) of "
                               "positive integers without the batch, found " +
                                   render(shape));
  };
  if (!shape.IsSequence() || shape.size() < 1 || shape.size() > 3)
    badShape();
  for (const YAML::Node &d : shape) {
    auto tooLarge = [&] {
      fail(SourceLoc::of(d).isValid() ? SourceLoc::of(d) : SourceLoc::of(shape),
           llvm::formatv("input shape: a dimension of {0} is larger than the {1} allowed",
                         d.Scalar(), limits::kMaxSize));
    };
    int64_t v = 0;
    bool isInt = d.IsScalar() && !StringRef(d.Scalar()).getAsInteger(10, v);
    if (!isInt && d.IsScalar() && isDecimal(d.Scalar()))
      tooLarge();
    if (!isInt || v <= 0)
      badShape();
    if (v > limits::kMaxSize)
      tooLarge();
    in.shape.push_back(v);
  }
  return in;
}

ModelFile cnnc::model::parseModelFile(StringRef text) {
  YAML::Node root = loadYaml(text);
  if (!root.IsMap())
    fail(SourceLoc::of(root).isValid() ? SourceLoc::of(root) : SourceLoc{1, 1},
         "expected a model (a map with name, input and layers), found " + render(root));

  ModelFile model;
  YAML::Node input, blocks;
  ScopeNodes body;
  bool hasName = false, hasInput = false;
  std::string inputKey;
  SourceLoc inputLoc;
  for (auto &[key, value] : entries(root)) {
    if (body.take(key, value))
      continue;
    std::string k = key.Scalar();
    if (k == "name") {
      model.name = expectScalar(value, SourceLoc::of(key), "'name'");
      hasName = true;
    } else if (k == "input" || k == "inputs") {
      if (hasInput)
        fail(SourceLoc::of(key), "give either 'input' (one) or 'inputs' (a list), not both");
      input = value;
      hasInput = true;
      inputKey = k;
      inputLoc = SourceLoc::of(key);
    } else if (k == "blocks") {
      blocks = value;
    } else if (k == "train") {
      model.train = parseTrain(value, SourceLoc::of(key));
    } else {
      std::vector<std::string> keys = {"name",   "input",  "inputs", "layers",
                                       "output", "blocks", "train"};
      fail(SourceLoc::of(key), "unknown top-level key '" + k + "'" + suggestion(k, keys) +
                                   "; expected one of: " + joined(keys));
    }
  }
  if (!hasName)
    fail({1, 1}, "missing top-level key 'name' (the model's name)");
  if (!hasInput)
    fail({1, 1}, "missing top-level key 'input' ({name: input, shape: [C, H, W]})");
  if (!body.hasLayers)
    fail({1, 1}, "missing top-level key 'layers' (the list of layers)");

  // input: {name: input, shape: [C, H, W]}, or inputs: [{name: ..., shape: ...}, ...]
  if (inputKey == "inputs") {
    if (!input.IsSequence() || input.size() == 0)
      fail(SourceLoc::of(input).isValid() ? SourceLoc::of(input) : inputLoc,
           "'inputs': expected a non-empty list of {name, shape}, found " + render(input));
    for (const YAML::Node &entry : input)
      model.inputs.push_back(parseInput(entry, SourceLoc::of(entry), /*named=*/true));
  } else {
    model.inputs.push_back(parseInput(input, inputLoc, /*named=*/false));
  }
  std::set<std::string> inputNames;
  for (const ModelInput &in : model.inputs)
    if (!inputNames.insert(in.name).second)
      fail(in.loc, "duplicate input name '" + in.name + "'");

  // blocks: {name: {params: [...], layers: [...], output: name}}
  if (isPresent(blocks)) {
    expectMap(blocks, SourceLoc::of(blocks), "'blocks'");
    for (auto &[key, value] : entries(blocks))
      model.blocks.emplace(key.Scalar(), parseBlock(key.Scalar(), SourceLoc::of(key), value));
  }

  ScopeInputs inputs;
  for (size_t k = 0; k < model.inputs.size(); ++k) {
    inputs.names.push_back(model.inputs[k].name);
    inputs.index.push_back(int(k));
  }
  if (model.inputs.size() == 1 && model.inputs[0].name != "input") {
    inputs.names.push_back("input");
    inputs.index.push_back(0);
  }
  model.body = parseScope(body, inputs, nullptr);

  for (auto &entry : model.blocks)
    checkInstances(entry.second.body, model.blocks);
  checkInstances(model.body, model.blocks);
  checkRecursion(model.blocks);
  return model;
}

//===----------------------------------------------------------------------===//
// $param substitution and integer expressions
//===----------------------------------------------------------------------===//

namespace {
/// Evaluates `1 + $w * 2` style integer expressions over bound parameters,
/// in 64-bit integers: an operation whose result does not fit is an error,
/// and so is nesting deeper than limits::kMaxExpressionDepth.
class ExprEval {
public:
  ExprEval(StringRef text, SourceLoc loc, const Env &env) : text(text), loc(loc), env(env) {}

  int64_t run() {
    int64_t v = expr();
    skipSpace();
    if (pos != text.size())
      syntaxError();
    return v;
  }

private:
  void skipSpace() {
    while (pos < text.size() && text[pos] == ' ')
      ++pos;
  }
  bool eat(char c) {
    skipSpace();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  [[noreturn]] void syntaxError() {
    fail(loc, "invalid expression '" + text.str() +
                  "': expected integers and $parameters combined with "
                  "+ - * / % and parentheses");
  }
  [[noreturn]] void overflow(const std::string &what) {
    fail(loc, "invalid expression '" + text.str() + "': integer overflow in " + what +
                  " (the result does not fit in 64 bits)");
  }
  /// `a op b`, checked.
  int64_t apply(char op, int64_t a, int64_t b) {
    int64_t r = 0;
    bool overflows = false;
    switch (op) {
    case '+':
      overflows = __builtin_add_overflow(a, b, &r);
      break;
    case '-':
      overflows = __builtin_sub_overflow(a, b, &r);
      break;
    case '*':
      overflows = __builtin_mul_overflow(a, b, &r);
      break;
    default: // '/' and '%' truncate toward zero, as in C
      if (b == 0)
        fail(loc, "invalid expression '" + text.str() + "': division by zero");
      if (b == -1) { // INT64_MIN / -1 does not fit; any x % -1 is 0
        overflows = op == '/' && a == std::numeric_limits<int64_t>::min();
        r = op == '/' && !overflows ? -a : 0;
      } else {
        r = op == '/' ? a / b : a % b;
      }
    }
    if (overflows)
      overflow(std::to_string(a) + " " + op + " " + (b < 0 ? "(" : "") + std::to_string(b) +
               (b < 0 ? ")" : ""));
    return r;
  }
  int64_t expr() {
    int64_t v = term();
    while (true) {
      if (eat('+'))
        v = apply('+', v, term());
      else if (eat('-'))
        v = apply('-', v, term());
      else
        return v;
    }
  }
  int64_t term() {
    int64_t v = factor();
    while (true) {
      char op = 0;
      if (eat('*'))
        op = '*';
      else if (eat('/'))
        op = '/';
      else if (eat('%'))
        op = '%';
      else
        return v;
      v = apply(op, v, factor());
    }
  }
  /// Counts one level of nesting while alive.
  struct Nested {
    ExprEval &e;
    explicit Nested(ExprEval &e) : e(e) {
      if (++e.depth > limits::kMaxExpressionDepth)
        fail(e.loc, llvm::formatv("expression nested deeper than {0} levels (parentheses and "
                                  "minus signs)",
                                  limits::kMaxExpressionDepth));
    }
    ~Nested() { --e.depth; }
  };
  int64_t factor() {
    if (eat('(')) {
      Nested nested(*this);
      int64_t v = expr();
      if (!eat(')'))
        syntaxError();
      return v;
    }
    if (eat('-')) {
      Nested nested(*this);
      int64_t v = factor();
      if (v == std::numeric_limits<int64_t>::min())
        overflow("-(" + std::to_string(v) + ")");
      return -v;
    }
    skipSpace();
    size_t start = pos;
    if (pos < text.size() && text[pos] == '$') {
      ++pos;
      while (pos < text.size() && (llvm::isAlnum(text[pos]) || text[pos] == '_'))
        ++pos;
      std::string name = text.slice(start + 1, pos).str();
      auto it = env.find(name);
      if (it == env.end())
        fail(loc, "unknown parameter '$" + name + "'");
      if (!it->second.unavailable.empty())
        fail(loc, "'$" + name + "': " + it->second.unavailable);
      int64_t v;
      const YAML::Node &value = it->second.value;
      if (!value.IsScalar() || StringRef(value.Scalar()).trim().getAsInteger(10, v)) {
        ModelError err{
            it->second.loc,
            "parameter '$" + name + "' is used in the expression '" + text.str() +
                "': expected an integer" +
                (value.IsScalar() && isDecimal(value.Scalar()) ? " that fits in 64 bits" : "") +
                ", found " + render(value),
            {}};
        err.notes.push_back({loc, "used here"});
        throw err;
      }
      return v;
    }
    while (pos < text.size() && llvm::isDigit(text[pos]))
      ++pos;
    if (pos == start)
      syntaxError();
    int64_t v;
    if (text.slice(start, pos).getAsInteger(10, v))
      fail(loc, "invalid expression '" + text.str() + "': the integer " +
                    text.slice(start, pos).str() + " does not fit in 64 bits");
    return v;
  }

  StringRef text;
  size_t pos = 0;
  int depth = 0;
  SourceLoc loc;
  const Env &env;
};
} // namespace

/// True for a scalar that is exactly `$name`.
static bool isPlainRef(StringRef s) {
  if (s.size() < 2 || s[0] != '$')
    return false;
  return llvm::all_of(s.drop_front(), [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

static bool hasRefs(const YAML::Node &node, ExpansionBudget &budget) {
  std::vector<std::pair<std::string, SourceLoc>> refs;
  collectRefs(node, refs, &budget);
  return !refs.empty();
}

void ExpansionBudget::take(SourceLoc loc) {
  if (--left < 0)
    fail(loc, llvm::formatv("substituting block parameters walks more than {0} YAML nodes "
                            "over the expanded model",
                            limits::kMaxExpandedNodes));
}

Binding cnnc::model::resolveValue(const YAML::Node &node, const Env &env, ExpansionBudget &budget) {
  SourceLoc loc = SourceLoc::of(node);
  if (!hasRefs(node, budget))
    return {node, loc, ""};
  if (node.IsScalar()) {
    StringRef s = node.Scalar();
    if (isPlainRef(s)) {
      auto it = env.find(s.drop_front());
      if (it == env.end())
        fail(loc, "unknown parameter '" + s.str() + "'");
      if (!it->second.unavailable.empty())
        fail(loc, "'" + s.str() + "': " + it->second.unavailable);
      return it->second;
    }
    int64_t v = ExprEval(s, loc, env).run();
    return {YAML::Node(std::to_string(v)), loc, ""};
  }
  if (node.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const YAML::Node &n : node)
      out.push_back(resolveValue(n, env, budget).value);
    return {out, loc, ""};
  }
  fail(loc, "expected a value, found " + render(node));
}

ArrayRef<StringRef> cnnc::model::inputShapeNames() {
  static const StringRef names[] = {"in_channels", "in_height", "in_width", "in_features"};
  return names;
}

void cnnc::model::bindInputShape(Env &env, ArrayRef<int64_t> shape, const std::string &block) {
  std::string dims = "[N";
  for (int64_t d : shape)
    dims += ", " + std::to_string(d);
  dims += "]";
  auto bind = [&](StringRef name, int64_t size) {
    env[name.str()] = Binding{YAML::Node(std::to_string(size)), {}, ""};
  };
  auto unavailable = [&](StringRef name, const std::string &why) {
    env[name.str()] = Binding{YAML::Node(), {}, why};
  };
  if (shape.size() == 3) {
    bind("in_channels", shape[0]);
    bind("in_height", shape[1]);
    bind("in_width", shape[2]);
    unavailable("in_features", "the input of block '" + block + "' is " + dims +
                                   ", not features [N, F]; use $in_channels, $in_height and "
                                   "$in_width");
    return;
  }
  for (StringRef name : {"in_channels", "in_height", "in_width"})
    unavailable(name, "the input of block '" + block + "' is " + dims +
                          (shape.size() == 1 ? ", features without channels, height or width; use "
                                               "$in_features"
                                             : ", not [N, C, H, W]"));
  if (shape.size() == 1)
    bind("in_features", shape[0]);
  else
    unavailable("in_features",
                "the input of block '" + block + "' is " + dims + ", not features [N, F]");
}

//===----------------------------------------------------------------------===//
// Typed attribute reading
//===----------------------------------------------------------------------===//

void AttrReader::error(SourceLoc loc, const std::string &message) const {
  std::string what = layer.op.empty() ? "block '" + layer.block + "' instance '" + fullName + "'"
                                      : layer.op + " '" + fullName + "'";
  fail(loc.isValid() ? loc : layer.loc, what + ": " + message);
}

SourceLoc AttrReader::locOf(StringRef key) const {
  if (const Attr *a = layer.find(key))
    return SourceLoc::of(a->value).isValid() ? SourceLoc::of(a->value) : a->keyLoc;
  return layer.loc;
}

AttrReader::Resolved AttrReader::resolve(const YAML::Node &node) const {
  Binding b = resolveValue(node, env, budget);
  return {b.value, b.loc.isValid() ? b.loc : SourceLoc::of(node)};
}

int64_t AttrReader::toInt(const Resolved &value, StringRef key, StringRef expected, int64_t min,
                          int64_t max) const {
  int64_t v;
  bool isInt = value.node.IsScalar() && !StringRef(value.node.Scalar()).trim().getAsInteger(10, v);
  if (!isInt && value.node.IsScalar() && isDecimal(value.node.Scalar()))
    error(value.loc, llvm::formatv("attribute '{0}': expected an integer <= {1}, found {2}", key,
                                   max, value.node.Scalar()));
  if (!isInt)
    error(value.loc, llvm::formatv("attribute '{0}': expected {1}, found {2}", key, expected,
                                   render(value.node)));
  if (v < min)
    error(value.loc, llvm::formatv("attribute '{0}': expected an integer >= "
                                   "{1}, found {2}",
                                   key, min, v));
  if (v > max)
    error(value.loc,
          llvm::formatv("attribute '{0}': expected an integer <= {1}, found {2}", key, max, v));
  return v;
}

int64_t AttrReader::getInt(StringRef key, std::optional<int64_t> dflt, int64_t min, int64_t max) {
  const Attr *a = layer.find(key);
  if (!a) {
    if (!dflt)
      error(layer.loc, "missing attribute '" + key.str() + "' (an integer)");
    return *dflt;
  }
  return toInt(resolve(a->value), key, "an integer", min, max);
}

AttrReader::Resolved AttrReader::element(const Resolved &list, size_t i) const {
  SourceLoc loc = SourceLoc::of(list.node[i]);
  return {list.node[i], loc.isValid() ? loc : list.loc};
}

std::vector<int64_t> AttrReader::toInts(const Resolved &list, StringRef key, StringRef expected,
                                        int64_t min) const {
  std::vector<int64_t> values;
  for (size_t i = 0; i < list.node.size(); ++i)
    values.push_back(toInt(element(list, i), key, expected, min));
  return values;
}

std::array<int64_t, 2>
AttrReader::getPair(StringRef key, std::optional<std::array<int64_t, 2>> dflt, int64_t min) {
  const Attr *a = layer.find(key);
  if (!a) {
    if (!dflt)
      error(layer.loc, "missing attribute '" + key.str() + "' (an integer or [height, width])");
    return *dflt;
  }
  Resolved v = resolve(a->value);
  const char *expected = "an integer or a list of 2 integers";
  if (v.node.IsScalar()) {
    int64_t x = toInt(v, key, expected, min);
    return {x, x};
  }
  if (!v.node.IsSequence() || v.node.size() != 2)
    error(v.loc,
          llvm::formatv("attribute '{0}': expected {1}, found {2}", key, expected, render(v.node)));
  std::vector<int64_t> xs = toInts(v, key, expected, min);
  return {xs[0], xs[1]};
}

/// The padding mode named `s` (valid, same, full), if `s` names one.
static std::optional<cnnc::cnn::PaddingMode> paddingMode(StringRef s) {
  if (s == "valid")
    return cnnc::cnn::PaddingMode::Valid;
  if (s == "same")
    return cnnc::cnn::PaddingMode::Same;
  if (s == "full")
    return cnnc::cnn::PaddingMode::Full;
  return std::nullopt;
}

Padding AttrReader::getPadding(StringRef key, int rank) {
  Padding p;
  const Attr *a = layer.find(key);
  if (!a)
    return p;
  Resolved v = resolve(a->value);
  const char *expected = rank == 1 ? "an integer, [left, right], valid, same or full"
                                   : "an integer, [h, w], [top, left, bottom, right], valid, "
                                     "same or full";
  if (v.node.IsScalar()) {
    if (std::optional<cnnc::cnn::PaddingMode> mode = paddingMode(v.node.Scalar())) {
      p.mode = *mode;
      return p;
    }
    int64_t x = toInt(v, key, expected, 0);
    int64_t vertical = rank == 1 ? 0 : x; // a 1-D layer pads left and right
    p.pads = {vertical, x, vertical, x};
    return p;
  }
  bool fits = v.node.IsSequence() && (v.node.size() == 2 || (rank == 2 && v.node.size() == 4));
  if (!fits)
    error(v.loc,
          llvm::formatv("attribute '{0}': expected {1}, found {2}", key, expected, render(v.node)));
  std::vector<int64_t> xs = toInts(v, key, expected, 0);
  if (rank == 1)
    p.pads = {0, xs[0], 0, xs[1]};
  else if (xs.size() == 2)
    p.pads = {xs[0], xs[1], xs[0], xs[1]};
  else
    p.pads = {xs[0], xs[1], xs[2], xs[3]};
  return p;
}

bool AttrReader::getBool(StringRef key, bool dflt) {
  const Attr *a = layer.find(key);
  if (!a)
    return dflt;
  Resolved v = resolve(a->value);
  if (v.node.IsScalar()) {
    StringRef s = v.node.Scalar();
    if (s == "true" || s == "True")
      return true;
    if (s == "false" || s == "False")
      return false;
  }
  error(v.loc,
        llvm::formatv("attribute '{0}': expected true or false, found {1}", key, render(v.node)));
}

double AttrReader::getNumber(StringRef key, double dflt, double min, double max, bool maxOpen,
                             bool minOpen) {
  const Attr *a = layer.find(key);
  if (!a)
    return dflt;
  Resolved v = resolve(a->value);
  double x;
  if (!v.node.IsScalar() || StringRef(v.node.Scalar()).trim().getAsDouble(x) || !std::isfinite(x))
    error(v.loc,
          llvm::formatv("attribute '{0}': expected a number, found {1}", key, render(v.node)));
  if (x < min || (minOpen && x == min) || x > max || (maxOpen && x == max)) {
    auto num = [](double d) {
      if (std::isinf(d))
        return std::string("inf");
      char buf[32];
      snprintf(buf, sizeof(buf), "%g", d);
      return std::string(buf);
    };
    error(v.loc, llvm::formatv("attribute '{0}': expected a number in {1}{2}, "
                               "{3}{4}, found {5}",
                               key, minOpen ? "(" : "[", num(min), num(max), maxOpen ? ")" : "]",
                               v.node.Scalar()));
  }
  return x;
}

std::vector<AttrReader::IntList> AttrReader::getIntLists(StringRef key) {
  std::vector<IntList> rows;
  const Attr *a = layer.find(key);
  if (!a)
    return rows;
  Resolved v = resolve(a->value);
  const char *expected = "a list of lists of integers";
  if (!v.node.IsSequence() || v.node.size() == 0)
    error(v.loc,
          llvm::formatv("attribute '{0}': expected {1}, found {2}", key, expected, render(v.node)));
  for (size_t i = 0; i < v.node.size(); ++i) {
    Resolved row = element(v, i);
    if (!row.node.IsSequence())
      error(row.loc, llvm::formatv("attribute '{0}': expected {1}, found {2} "
                                   "as entry {3}",
                                   key, expected, render(row.node), i));
    rows.push_back({toInts(row, key, "an integer", 0), row.loc});
  }
  return rows;
}

std::string AttrReader::getChoice(StringRef key, ArrayRef<StringRef> choices) {
  const Attr *a = layer.find(key);
  if (!a)
    return "";
  Resolved v = resolve(a->value);
  if (v.node.IsScalar() && llvm::is_contained(choices, v.node.Scalar()))
    return v.node.Scalar();
  std::vector<std::string> names(choices.begin(), choices.end());
  error(v.loc, llvm::formatv("attribute '{0}': expected one of {1}, found {2}", key, joined(names),
                             render(v.node)));
}
