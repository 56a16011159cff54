//===- GraphBuilder.h - typed layer specs -> cnn ops ------------*- C++ -*-===//
//
// The part of a frontend that does not depend on the model format: one spec
// struct per layer kind (conv2d, pooling, dense, batch norm, ...; the
// convolutions share ConvSpec, the poolings PoolSpec) and a GraphBuilder
// that turns a spec and its input values into cnn ops. It creates the
// layer's parameters with PyTorch's state_dict names
// (`<layer>.weight`, `.bias`, `.running_mean`, ...), applies an
// `activation` shorthand as a second op named `<layer>.<activation>`,
// resolves padding modes and checks every shape with the dialect's shape
// functions before it builds an op.
//
// A frontend reads its format into specs and says where things are written
// with Sites (the YAML frontend: file:line:col of a node; an ONNX frontend:
// node names). Errors go to the frontend's Reporter at the site concerned;
// the builder method then returns a null Value and builds nothing more.
// Every op is located at NameLoc(layer name, layer site).
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_FRONTENDS_COMMON_GRAPHBUILDER_H
#define CNNC_FRONTENDS_COMMON_GRAPHBUILDER_H

#include "compiler/Dialect/CNN/IR/Window.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cnnc::frontend {

/// Where something is written in the model, as the frontend locates it.
using Site = mlir::Location;

/// Receives the user errors the builder finds.
class Reporter {
public:
  virtual ~Reporter() = default;
  /// An error in the layer being built (a shape that does not fit, a bad
  /// value), at `site`; the frontend adds which layer it is.
  virtual void layerError(Site site, const std::string &message) = 0;
  /// An error about the model as a whole, reported as is, with notes.
  virtual void modelError(Site site, const std::string &message,
                          llvm::ArrayRef<std::pair<Site, std::string>> notes) = 0;
};

/// The layer being built: its full name (its parameters' prefix and the
/// name in its ops' locations) and where it is written.
struct LayerInfo {
  std::string name;
  Site site;
  /// Parameters the model names itself (ONNX initializers), by suffix
  /// (`weight`, `bias`, `running_mean`, ...); the others are named
  /// `<name>.<suffix>`.
  std::map<std::string, std::string> paramNames = {};
};

/// One input of a layer, with the name the model reads it by and where that
/// reference is written (for messages about several inputs).
struct Input {
  mlir::Value value;
  std::string name;
  Site site;
};

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

enum class Activation {
  Relu,
  LeakyRelu,
  Relu6,
  Hardswish,
  HardSigmoid,
  Silu,
  Sigmoid,
  Tanh,
  Softmax
};

struct ActivationInfo {
  Activation kind;
  const char *name;   ///< the cnn op's name, also the model files' name
  bool needsFeatures; ///< only on [N, F] values
  /// The attribute of a parameterized activation (leaky_relu's
  /// negative_slope), or null, and its default (PyTorch's).
  const char *parameter = nullptr;
  double defaultParameter = 0;
};

/// Every activation, in the order messages list them: what a layer's
/// `activation` shorthand accepts and what a frontend offers as layers.
llvm::ArrayRef<ActivationInfo> activations();
/// The activation called `name`, or null.
const ActivationInfo *findActivation(llvm::StringRef name);

/// The activation a conv or dense layer applies to its result, and where
/// the layer asks for it (the location of that second op).
struct FusedActivation {
  Activation kind;
  /// The activation's parameter (its default for the shorthand).
  double parameter = 0;
  Site site;
};

//===----------------------------------------------------------------------===//
// Layer specs. An optional Site that is not given means the layer's.
//===----------------------------------------------------------------------===//

/// A connection table: for each output channel, the input channels it
/// reads, with where each list is written.
struct ConnectionTable {
  struct Row {
    std::vector<int64_t> channels;
    Site site;
  };
  std::vector<Row> rows;
  std::optional<Site> site;
};

/// What every convolution has besides its window: the output channels, how
/// many groups split the input channels, the parameter `<layer>.bias` [O]
/// (if `bias`) and the activation shorthand.
struct ConvSpec {
  int64_t outChannels = 1;
  int64_t groups = 1;
  bool bias = true;
  std::optional<FusedActivation> activation;
};

/// conv2d (nn.Conv2d). With `connections` (LeNet-5's C3) the parameter
/// `<layer>.weight` holds one kh x kw kernel per connection, [K, kh, kw],
/// expanded to the dense weight by cnn.scatter_connections.
struct Conv2DSpec : ConvSpec {
  std::array<int64_t, 2> kernel = {1, 1};
  std::array<int64_t, 2> stride = {1, 1};
  std::array<int64_t, 2> dilation = {1, 1};
  cnn::Padding padding;
  std::optional<ConnectionTable> connections;
};

/// conv_transpose2d (nn.ConvTranspose2d): `padding` is removed from the
/// output, `outputPadding` added at its bottom/right.
struct ConvTranspose2DSpec : ConvSpec {
  std::array<int64_t, 2> kernel = {1, 1};
  std::array<int64_t, 2> stride = {1, 1};
  std::array<int64_t, 2> dilation = {1, 1};
  std::array<int64_t, 4> padding = {0, 0, 0, 0}; ///< top, left, bottom, right
  std::array<int64_t, 2> outputPadding = {0, 0};
  std::optional<Site> outputPaddingSite;
};

/// conv1d (nn.Conv1d) over a sequence [N, C, 1, L]: a conv2d with a 1 x k
/// window whose weight keeps the layout [O, C/groups, k]. `padding` gives
/// left and right as pads[1] and pads[3].
struct Conv1DSpec : ConvSpec {
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t dilation = 1;
  cnn::Padding padding;
};

enum class PoolKind { Max, Average, Min, L2 };

/// What every pooling layer has besides its kernel and stride.
struct PoolSpec {
  PoolKind kind = PoolKind::Max;
  cnn::Padding padding;
  bool ceilMode = false;
  bool countIncludePad = true; ///< average pooling only
};

/// max/avg/min/l2 pooling over 2-D windows.
struct Pool2DSpec : PoolSpec {
  std::array<int64_t, 2> kernel = {1, 1};
  std::array<int64_t, 2> stride = {1, 1};
  std::array<int64_t, 2> dilation = {1, 1}; ///< max pooling only
};

/// Pooling over a sequence [N, C, 1, L] with 1 x k windows; `padding` as
/// for Conv1DSpec.
struct Pool1DSpec : PoolSpec {
  int64_t kernel = 1;
  int64_t stride = 1;
};

/// dense (nn.Linear) on [N, F].
struct DenseSpec {
  int64_t outFeatures = 1;
  bool bias = true;
  /// The weight parameter is stored [in, out] (ONNX MatMul's B) and
  /// transposed for the layer.
  bool transposedWeight = false;
  std::optional<FusedActivation> activation;
};

/// batch_norm: parameters weight, bias, running_mean, running_var, each [C].
struct BatchNormSpec {
  double epsilon = 1e-5;
  double momentum = 0.1;
};

struct DropoutSpec {
  double rate = 0.5;
};

/// local_response_norm (nn.LocalResponseNorm) over channels.
struct LocalResponseNormSpec {
  int64_t size = 1;
  double alpha = 1e-4;
  double beta = 0.75;
  double k = 1.0;
};

/// embedding: token ids [N, L] -> sequence [N, E, 1, L]; weight [V, E].
struct EmbeddingSpec {
  int64_t numEmbeddings = 1;
  int64_t embeddingDim = 1;
};

enum class GlobalPoolKind { Average, Max };

/// kmax_pool: the k largest values of each plane, in order.
struct KMaxPoolSpec {
  int64_t k = 1;
  std::optional<Site> kSite;
};

/// The element-wise binary ops; the second operand may broadcast (NumPy
/// rules) to the first's shape, and for add and mul either operand may.
enum class BinaryKind { Add, Sub, Mul, Div };

/// upsample (nn.Upsample, ONNX Resize): to an output height and width at
/// least the input's, nearest or bilinear.
struct UpsampleSpec {
  std::array<int64_t, 2> size = {1, 1};
  bool bilinear = false;
  bool alignCorners = false;
};

/// concat along channels; `inputsSite` is where the list of inputs is
/// written.
struct ConcatSpec {
  std::optional<Site> inputsSite;
};

//===----------------------------------------------------------------------===//
// The builder
//===----------------------------------------------------------------------===//

/// Builds layers at the insertion point of an OpBuilder the frontend owns
/// (so a frontend can place layers into regions, e.g. cnn.block bodies).
/// Parameter names are unique across everything one builder builds. Each
/// method returns the layer's value, after its activation, or a null Value
/// once it has reported an error.
class GraphBuilder {
public:
  GraphBuilder(mlir::OpBuilder &builder, Reporter &reporter) : b(builder), reporter(reporter) {}

  mlir::Value conv2d(const LayerInfo &layer, mlir::Value input, const Conv2DSpec &spec);
  mlir::Value convTranspose2d(const LayerInfo &layer, mlir::Value input,
                              const ConvTranspose2DSpec &spec);
  mlir::Value conv1d(const LayerInfo &layer, mlir::Value input, const Conv1DSpec &spec);
  mlir::Value pool2d(const LayerInfo &layer, mlir::Value input, const Pool2DSpec &spec);
  mlir::Value pool1d(const LayerInfo &layer, mlir::Value input, const Pool1DSpec &spec);
  mlir::Value globalPool(const LayerInfo &layer, mlir::Value input, GlobalPoolKind kind);
  mlir::Value kmaxPool(const LayerInfo &layer, mlir::Value input, const KMaxPoolSpec &spec);
  mlir::Value dense(const LayerInfo &layer, mlir::Value input, const DenseSpec &spec);
  mlir::Value batchNorm(const LayerInfo &layer, mlir::Value input, const BatchNormSpec &spec);
  mlir::Value dropout(const LayerInfo &layer, mlir::Value input, const DropoutSpec &spec);
  /// An activation as a layer of its own.
  mlir::Value activation(const LayerInfo &layer, mlir::Value input, Activation kind,
                         double parameter = 0);
  mlir::Value flatten(const LayerInfo &layer, mlir::Value input);
  /// The element-wise sum of two or more inputs, each of the first's shape
  /// or broadcasting to it.
  mlir::Value add(const LayerInfo &layer, llvm::ArrayRef<Input> inputs);
  /// The element-wise product, as add.
  mlir::Value mul(const LayerInfo &layer, llvm::ArrayRef<Input> inputs);
  /// lhs op rhs; rhs broadcasts to lhs (for add and mul, either way).
  mlir::Value binary(const LayerInfo &layer, BinaryKind kind, const Input &lhs, const Input &rhs);
  /// min(max(x, lo), hi), lo < hi (either infinite).
  mlir::Value clip(const LayerInfo &layer, mlir::Value input, double lo, double hi);
  /// scale·x + shift (arithmetic with a number).
  mlir::Value affine(const LayerInfo &layer, mlir::Value input, double scale, double shift);
  /// nn.PReLU: a learned slope `<layer>.weight` [slopes], 1 or one per channel.
  mlir::Value prelu(const LayerInfo &layer, mlir::Value input, int64_t slopes);
  /// PReLU with a given slope value [1] or [C].
  mlir::Value prelu(const LayerInfo &layer, mlir::Value input, mlir::Value slope);
  /// `input` viewed with another static shape of as many elements.
  mlir::Value view(const LayerInfo &layer, mlir::Value input, llvm::ArrayRef<int64_t> shape);
  mlir::Value upsample(const LayerInfo &layer, mlir::Value input, const UpsampleSpec &spec);
  /// `input` [N, C, H, W] surrounded by `value`: `padding` is [top, left,
  /// bottom, right], each >= 0.
  mlir::Value pad(const LayerInfo &layer, mlir::Value input, std::array<int64_t, 4> padding,
                  double value);
  /// ShuffleNet's channel shuffle with `groups` groups.
  mlir::Value channelShuffle(const LayerInfo &layer, mlir::Value input, int64_t groups);
  /// Channels [begin, end) of the input.
  mlir::Value sliceChannels(const LayerInfo &layer, mlir::Value input, int64_t begin, int64_t end);
  /// The parameter `<layer>.<suffix>` (or the name `layer.paramNames` gives
  /// it) of `shape`, for a frontend whose model names its tensors itself.
  mlir::Value parameter(const LayerInfo &layer, llvm::StringRef suffix,
                        llvm::ArrayRef<int64_t> shape) {
    return param(layer, suffix, shape);
  }
  /// min(max(alpha·x + beta, 0), 1) (ONNX's HardSigmoid; the `hardsigmoid`
  /// activation is PyTorch's, alpha 1/6 and beta 1/2).
  mlir::Value hardSigmoid(const LayerInfo &layer, mlir::Value input, double alpha, double beta);
  mlir::Value concat(const LayerInfo &layer, llvm::ArrayRef<Input> inputs, const ConcatSpec &spec);
  /// A learnable bias per channel and position, `<layer>.bias` [C, H, W].
  mlir::Value positionBias(const LayerInfo &layer, mlir::Value input);
  mlir::Value localResponseNorm(const LayerInfo &layer, mlir::Value input,
                                const LocalResponseNormSpec &spec);
  mlir::Value embedding(const LayerInfo &layer, mlir::Value ids, const EmbeddingSpec &spec);

private:
  mlir::Location opLoc(const LayerInfo &layer);
  /// Reports `message` at `site` and returns a null Value.
  mlir::Value fail(Site site, const std::string &message);
  /// Reports `error` at `site` unless it is empty (a shape function's "no
  /// error"); true if it did.
  bool reported(Site site, const std::string &error);
  /// The parameter `<layer>.<suffix>`; null (reported) when another layer
  /// already defined a parameter of that name.
  mlir::Value param(const LayerInfo &layer, llvm::StringRef suffix, llvm::ArrayRef<int64_t> shape);
  mlir::Value applyActivation(Activation kind, double parameter, mlir::Location loc,
                              mlir::Value input);
  mlir::Value fuseActivation(const LayerInfo &layer, mlir::Value result,
                             const std::optional<FusedActivation> &act);
  /// What every convolution ends with, after its shape checks: its bias,
  /// its conv2d or conv_transpose2d op reading `weight`, its activation.
  mlir::Value convOp(const LayerInfo &layer, mlir::Value input, mlir::Value weight,
                     const ConvSpec &spec, const cnn::Window &w, bool transposed);
  mlir::Value connectionWeight(const LayerInfo &layer, int64_t inChannels, const Conv2DSpec &spec);
  /// The pooling op of `spec.kind` over window `w`, after its shape check.
  mlir::Value pool(const LayerInfo &layer, mlir::Value input, const PoolSpec &spec,
                   const cnn::Window &w);

  mlir::OpBuilder &b;
  Reporter &reporter;
  /// Every parameter built so far, with the site of its layer.
  std::map<std::string, Site> params;
};

} // namespace cnnc::frontend

#endif
