//===- Data.cpp - Reading IDX, .npy and image-folder datasets -------------===//
//
// loadData recognises the layout of a data directory (Data.h) and reads its
// splits: IDX and .npy arrays through the runtime's readers, images through
// stb_image (compiled into this file from Debian's header, so cnnrun needs
// no image library at run time). Labels must be integers >= 0; every error
// names the file and what was expected.
//
//===----------------------------------------------------------------------===//
#include "Data.h"

#include "cnnc/runtime.hpp"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <stdexcept>

namespace fs = std::filesystem;

namespace cnnrun {

const char *const kDataHelp =
    "--data DIR holds one of three layouts, recognised in this order:\n"
    "  IDX      DIR/train-images-idx3-ubyte[.gz], DIR/train-labels-idx1-ubyte[.gz] and\n"
    "           DIR/t10k-images-idx3-ubyte[.gz], DIR/t10k-labels-idx1-ubyte[.gz]\n"
    "           (MNIST, Fashion-MNIST); pixels are divided by 255\n"
    "  .npy     DIR/train_images.npy (N x C x H x W, or N x H x W for one channel; float32\n"
    "           taken as is, uint8 divided by 255) and DIR/train_labels.npy (N integers),\n"
    "           optionally DIR/val_images.npy + val_labels.npy and test_images.npy +\n"
    "           test_labels.npy\n"
    "  folders  DIR/<class>/*.png|jpg|jpeg|bmp|gif (training images, one folder per\n"
    "           class), or DIR/train/<class>/..., DIR/val/<class>/..., DIR/test/<class>/...;\n"
    "           classes are numbered in the sorted order of their folder names; images are\n"
    "           decoded to the model's channel count and resized to its height and width\n"
    "Items whose shape differs from the model's input are resized (bilinear) and their\n"
    "channels converted (1 -> C repeats the channel, 3 -> 1 takes the luminance).";

std::string ItemShape::str() const {
  return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
}

Dataset Dataset::subset(const std::vector<int64_t> &indices,
                        const std::string &subsetOrigin) const {
  Dataset d;
  d.shape = shape;
  d.origin = subsetOrigin;
  d.items.reserve(indices.size() * size_t(shape.count()));
  for (int64_t i : indices) {
    d.items.insert(d.items.end(), item(i), item(i) + shape.count());
    d.labels.push_back(labels[size_t(i)]);
  }
  return d;
}

std::vector<int64_t> epochOrder(int64_t size, uint64_t seed, uint64_t epoch) {
  std::vector<int64_t> order(size_t(std::max<int64_t>(size, 0)));
  std::iota(order.begin(), order.end(), 0);
  Random rng(Random(seed).next() ^ (epoch * 0x9E3779B97F4A7C15ULL));
  for (int64_t i = size - 1; i > 0; --i)
    std::swap(order[size_t(i)], order[size_t(rng.below(uint64_t(i) + 1))]);
  return order;
}

namespace {

/// Where the layouts are explained, for the end of an error.
const std::string kSeeHelp = " (the layouts --data may have: cnnrun train --help)";

bool isFile(const fs::path &p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool isDirectory(const fs::path &p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

/// DIR/NAME.gz or DIR/NAME, whichever exists ("" if neither).
std::string idxFile(const fs::path &dir, const std::string &name) {
  for (const fs::path &p : {dir / (name + ".gz"), dir / name})
    if (isFile(p))
      return p.string();
  return "";
}

/// Checks that every label is a class index.
void checkLabels(Dataset &d, const std::string &labelsPath) {
  for (int64_t i = 0; i < d.size(); ++i) {
    float y = d.labels[size_t(i)];
    if (!std::isfinite(y) || y < 0 || y != std::floor(y))
      throw std::runtime_error(labelsPath + ": label " + std::to_string(i) + " is " +
                               std::to_string(y) + ", expected a class index (an integer >= 0)");
  }
}

/// Images and labels from an array pair: images N×C×H×W or N×H×W, labels N.
Dataset fromArrays(const cnnc::Array &images, bool scaleBytes, const cnnc::Array &labels,
                   const std::string &imagesPath, const std::string &labelsPath, int64_t limit) {
  std::vector<int64_t> shape = images.shape();
  Dataset d;
  d.origin = imagesPath;
  if (shape.size() == 3)
    d.shape = {1, shape[1], shape[2]};
  else if (shape.size() == 4)
    d.shape = {shape[1], shape[2], shape[3]};
  else
    throw std::runtime_error(imagesPath +
                             ": expected images of shape N x C x H x W or N x H x W, "
                             "found rank " +
                             std::to_string(shape.size()));
  if (shape[0] < 1 || d.shape.count() < 1)
    throw std::runtime_error(imagesPath + ": no images");
  std::vector<int64_t> labelShape = labels.shape();
  if (labelShape.size() != 1 && !(labelShape.size() == 2 && labelShape[1] == 1))
    throw std::runtime_error(labelsPath + ": expected N labels (a 1-D array), found rank " +
                             std::to_string(labelShape.size()));
  if (labelShape[0] != shape[0])
    throw std::runtime_error(labelsPath + ": " + std::to_string(labelShape[0]) + " labels for " +
                             std::to_string(shape[0]) + " images in " + imagesPath);
  int64_t n = limit > 0 ? std::min(limit, shape[0]) : shape[0];
  d.items.assign(images.data(), images.data() + n * d.shape.count());
  if (scaleBytes)
    for (float &v : d.items)
      v /= 255.0f;
  d.labels.assign(labels.data(), labels.data() + n);
  checkLabels(d, labelsPath);
  return d;
}

/// The IDX pair of a split ("train" or "t10k"), or nullopt if absent.
std::optional<Dataset> readIdx(const fs::path &dir, const std::string &split, int64_t limit) {
  std::string images = idxFile(dir, split + "-images-idx3-ubyte");
  std::string labels = idxFile(dir, split + "-labels-idx1-ubyte");
  if (images.empty() && labels.empty())
    return std::nullopt;
  if (images.empty() || labels.empty())
    throw std::runtime_error("'" + dir.string() + "' has " + (images.empty() ? labels : images) +
                             " but not its " + (images.empty() ? "images" : "labels") + " file " +
                             split + (images.empty() ? "-images-idx3" : "-labels-idx1") +
                             "-ubyte[.gz]");
  cnnc::Array x = cnnc::Array::loadIdx(images); // images first: their errors come first
  cnnc::Array y = cnnc::Array::loadIdx(labels);
  return fromArrays(x, /*scaleBytes=*/true, y, images, labels, limit);
}

/// The .npy pair of a split ("train", "val", "test"), or nullopt if absent.
std::optional<Dataset> readNpy(const fs::path &dir, const std::string &split, int64_t limit) {
  fs::path images = dir / (split + "_images.npy"), labels = dir / (split + "_labels.npy");
  if (!isFile(images) && !isFile(labels))
    return std::nullopt;
  if (!isFile(images) || !isFile(labels))
    throw std::runtime_error("'" + dir.string() + "' has " +
                             (isFile(images) ? images : labels).filename().string() + " but not " +
                             (isFile(images) ? labels : images).filename().string());
  cnnc_dtype imageType, labelType;
  cnnc::Array x = cnnc::Array::loadNpyNumeric(images.string(), imageType);
  cnnc::Array y = cnnc::Array::loadNpyNumeric(labels.string(), labelType);
  if (imageType != CNNC_DTYPE_FLOAT32 && imageType != CNNC_DTYPE_UINT8)
    throw std::runtime_error(images.string() + ": expected float32 or uint8 images "
                                               "(convert with .astype(np.float32))");
  if (labelType == CNNC_DTYPE_FLOAT32 || labelType == CNNC_DTYPE_FLOAT64 ||
      labelType == CNNC_DTYPE_BOOL)
    throw std::runtime_error(labels.string() + ": expected integer labels (class indices), "
                                               "found floating-point or bool values");
  return fromArrays(x, imageType == CNNC_DTYPE_UINT8, y, images.string(), labels.string(), limit);
}

bool isImageFile(const fs::path &p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".gif";
}

/// The sorted names of the subdirectories of `dir`.
std::vector<std::string> subdirectories(const fs::path &dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const fs::directory_entry &e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec))
      names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// Decodes one image file to `shape` (channels converted by stb_image,
/// then resized), values in [0, 1].
void decodeImage(const fs::path &path, const ItemShape &shape, float *out) {
  int w = 0, h = 0, stored = 0;
  int channels = int(shape.channels);
  if (channels != 1 && channels != 3 && channels != 4)
    throw std::runtime_error("image folders need a model input of 1, 3 or 4 channels, the "
                             "model's has " +
                             std::to_string(shape.channels));
  unsigned char *pixels = stbi_load(path.c_str(), &w, &h, &stored, channels);
  if (!pixels)
    throw std::runtime_error("cannot decode image '" + path.string() +
                             "': " + stbi_failure_reason());
  std::vector<float> planar(size_t(channels) * size_t(w) * size_t(h));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < channels; ++k)
        planar[(size_t(k) * size_t(h) + size_t(y)) * size_t(w) + size_t(x)] =
            float(pixels[(size_t(y) * size_t(w) + size_t(x)) * size_t(channels) + size_t(k)]) /
            255.0f;
  stbi_image_free(pixels);
  if (h == shape.height && w == shape.width)
    std::copy(planar.begin(), planar.end(), out);
  else
    resizeBilinear(planar.data(), channels, h, w, out, shape.height, shape.width);
}

/// The images of a folder split: ROOT/<class>/*; classes numbered in the
/// order of `classNames` (taken from ROOT when empty).
Dataset readFolders(const fs::path &root, const ItemShape &shape,
                    std::vector<std::string> &classNames, int64_t limit) {
  if (shape.height < 1 || shape.width < 1)
    throw std::runtime_error("image folders need a model whose input is an image (C x H x W); "
                             "store the data as .npy arrays instead");
  std::vector<std::string> found = subdirectories(root);
  if (classNames.empty())
    classNames = found;
  Dataset d;
  d.shape = shape;
  d.origin = root.string();
  std::vector<std::pair<fs::path, int64_t>> files;
  for (const std::string &name : found) {
    auto it = std::find(classNames.begin(), classNames.end(), name);
    if (it == classNames.end())
      throw std::runtime_error("'" + (root / name).string() +
                               "' is a class the training folders do not have");
    std::vector<fs::path> images;
    std::error_code ec;
    for (const fs::directory_entry &e : fs::directory_iterator(root / name, ec))
      if (e.is_regular_file(ec) && isImageFile(e.path()))
        images.push_back(e.path());
    std::sort(images.begin(), images.end());
    for (const fs::path &p : images)
      files.push_back({p, it - classNames.begin()});
  }
  if (files.empty())
    throw std::runtime_error("'" + root.string() +
                             "' has no images (.png, .jpg, .jpeg, .bmp, .gif) in class folders");
  if (limit > 0 && int64_t(files.size()) > limit) {
    // The first `limit` of a fixed shuffle, so that every class is represented.
    std::vector<int64_t> order = epochOrder(int64_t(files.size()), 0, 0);
    std::vector<std::pair<fs::path, int64_t>> kept;
    for (int64_t i = 0; i < limit; ++i)
      kept.push_back(files[size_t(order[size_t(i)])]);
    files = kept;
  }
  d.items.resize(files.size() * size_t(shape.count()));
  for (size_t i = 0; i < files.size(); ++i) {
    decodeImage(files[i].first, shape, d.items.data() + i * size_t(shape.count()));
    d.labels.push_back(float(files[i].second));
  }
  return d;
}

/// Whether `dir` holds class folders with images (looks at the first few).
bool hasClassFolders(const fs::path &dir) {
  for (const std::string &name : subdirectories(dir)) {
    std::error_code ec;
    for (const fs::directory_entry &e : fs::directory_iterator(dir / name, ec))
      if (e.is_regular_file(ec) && isImageFile(e.path()))
        return true;
  }
  return false;
}

} // namespace

void resizeBilinear(const float *in, int64_t c, int64_t h, int64_t w, float *out, int64_t H,
                    int64_t W) {
  auto source = [](int64_t o, int64_t inSize, int64_t outSize, int64_t &i0, int64_t &i1, float &t) {
    float s = std::max(0.0f, (float(o) + 0.5f) * float(inSize) / float(outSize) - 0.5f);
    i0 = std::min(int64_t(s), inSize - 1);
    i1 = std::min(i0 + 1, inSize - 1);
    t = s - float(i0);
  };
  for (int64_t y = 0; y < H; ++y) {
    int64_t y0, y1;
    float ty;
    source(y, h, H, y0, y1, ty);
    for (int64_t x = 0; x < W; ++x) {
      int64_t x0, x1;
      float tx;
      source(x, w, W, x0, x1, tx);
      for (int64_t k = 0; k < c; ++k) {
        const float *p = in + k * h * w;
        float top = p[y0 * w + x0] * (1 - tx) + p[y0 * w + x1] * tx;
        float bottom = p[y1 * w + x0] * (1 - tx) + p[y1 * w + x1] * tx;
        out[(k * H + y) * W + x] = top * (1 - ty) + bottom * ty;
      }
    }
  }
}

DataSplits loadData(const std::string &dirName, const ItemShape &model, Splits splits,
                    int64_t limit, int64_t testLimit) {
  fs::path dir(dirName);
  if (!isDirectory(dir))
    throw std::runtime_error("--data '" + dirName + "' is not a directory" + kSeeHelp);
  bool all = splits == Splits::All;
  DataSplits out;
  auto need = [&](std::optional<Dataset> d, const std::string &what) {
    if (!d)
      throw std::runtime_error("'" + dirName + "' has no " + what + kSeeHelp);
    return std::move(*d);
  };
  if (!idxFile(dir, "train-images-idx3-ubyte").empty() ||
      !idxFile(dir, "t10k-images-idx3-ubyte").empty()) {
    out.layout = "IDX";
    if (all)
      out.train = need(readIdx(dir, "train", limit), "train-images-idx3-ubyte[.gz]");
    out.test = readIdx(dir, "t10k", testLimit);
  } else if (isFile(dir / "train_images.npy") || isFile(dir / "test_images.npy")) {
    out.layout = ".npy";
    if (all) {
      out.train = need(readNpy(dir, "train", limit), "train_images.npy");
      out.val = readNpy(dir, "val", limit);
    }
    out.test = readNpy(dir, "test", testLimit);
  } else if (isDirectory(dir / "train") && hasClassFolders(dir / "train")) {
    out.layout = "image folders";
    out.classNames = subdirectories(dir / "train");
    if (all)
      out.train = readFolders(dir / "train", model, out.classNames, limit);
    if (all && isDirectory(dir / "val"))
      out.val = readFolders(dir / "val", model, out.classNames, limit);
    if (isDirectory(dir / "test"))
      out.test = readFolders(dir / "test", model, out.classNames, testLimit);
  } else if (hasClassFolders(dir)) {
    out.layout = "image folders";
    if (all)
      out.train = readFolders(dir, model, out.classNames, limit);
  } else {
    throw std::runtime_error("'" + dirName + "' holds no dataset cnnrun can read" + kSeeHelp);
  }
  if (!all && !out.test)
    throw std::runtime_error("'" + dirName + "' has no test set to evaluate (" + out.layout +
                             " layout: " +
                             (out.layout == "IDX"    ? "t10k-images-idx3-ubyte[.gz]"
                              : out.layout == ".npy" ? "test_images.npy, test_labels.npy"
                                                     : "DIR/test/<class>/...") +
                             ")");
  return out;
}

} // namespace cnnrun
