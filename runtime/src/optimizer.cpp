//===- optimizer.cpp - The optimizer settings of the next train step ------===//
//
// cnnc_model_get_optimizer / set_optimizer and what a train step does with
// the settings. The update kernels read every setting from a hyper buffer
// (docs/runtime-abi.md, "Training"), so the optimizer can change between
// steps; what the model.so fixes is the state it keeps per parameter: none
// (plain SGD), a momentum buffer, or Adam's two moments, which also hold
// SGD's momentum buffer. Settings are validated as torch.optim validates
// them, and against that state. The state follows PyTorch: changing settings
// within a family keeps it (as editing a torch optimizer's param_groups);
// the first step of the SGD family after the Adam family, or the other way
// round, starts from zeroed state, as a new torch.optim optimizer would
// (nothing is reset when the settings are set, only when a step runs). A
// fresh momentum buffer takes the first gradient without dampening, and
// Adam's bias correction counts the steps since its moments were zeroed.
// Checkpoints record all of it (optimizerRecord).
//
//===----------------------------------------------------------------------===//
#include "error.h"
#include "json.h"
#include "model.h"

#include "cnnc/model_schema.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

using namespace cnnc::rt;
namespace opt = cnnc::schema::optimizer;

namespace {

/// A setting's value in messages: "%g".
std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

/// The optimizer's name with static storage (for cnnc_optimizer_settings).
const char *staticName(const std::string &name) {
  for (std::string_view known : opt::kAll)
    if (name == known)
      return known.data(); // the literal of model_schema.h, NUL-terminated
  return "";
}

bool isSgd(const OptimizerSettings &s) { return s.name == opt::kSgd; }

/// The family of `s`, as the state use it leaves.
StateUse familyOf(const OptimizerSettings &s) { return isSgd(s) ? StateUse::Sgd : StateUse::Adam; }

/// Whether a step of `s` writes the optimizer state of `model`.
bool writesState(const cnnc_model &model, const OptimizerSettings &s) {
  return model.train.stateForm != StateForm::None && (!isSgd(s) || s.momentum != 0);
}

constexpr std::pair<StateUse, std::string_view> kStateUseNames[] = {
    {StateUse::Fresh, "fresh"}, {StateUse::Sgd, "sgd"}, {StateUse::Adam, "adam"}};

// The members of a checkpoint's optimizer record.
constexpr std::string_view kStateKey = "state", kStateStepsKey = "state_steps";

} // namespace

namespace cnnc::rt {

std::string optimizerProblem(const cnnc_model &model, const OptimizerSettings &s) {
  if (std::find(opt::kAll.begin(), opt::kAll.end(), s.name) == opt::kAll.end())
    return "unknown optimizer \"" + s.name + "\" (expected \"sgd\", \"adam\" or \"adamw\")";
  const std::pair<std::string_view, double> nonNegative[] = {{opt::kMomentum, s.momentum},
                                                             {opt::kWeightDecay, s.weightDecay}};
  for (auto [name, value] : nonNegative)
    if (!(value >= 0) || !std::isfinite(value))
      return std::string(name) + " must be a finite number >= 0, got " + number(value);
  if (!(s.dampening >= 0 && s.dampening <= 1))
    return "dampening must be in [0, 1], got " + number(s.dampening);
  for (auto [name, value] : {std::pair{opt::kBeta1, s.beta1}, std::pair{opt::kBeta2, s.beta2}})
    if (!(value >= 0 && value < 1))
      return std::string(name) + " must be in [0, 1), got " + number(value);
  if (!(s.epsilon > 0) || !std::isfinite(s.epsilon))
    return "epsilon must be a finite number > 0, got " + number(s.epsilon);
  if (isSgd(s) && s.nesterov && (s.momentum <= 0 || s.dampening != 0))
    return "Nesterov momentum needs a momentum > 0 and zero dampening (as torch.optim.SGD), "
           "got momentum " +
           number(s.momentum) + " and dampening " + number(s.dampening);
  const std::string compiled = "model '" + model.path + "' was compiled ";
  const std::string plain = compiled + "for plain sgd, without optimizer state, so it runs sgd "
                                       "without momentum only, not ";
  const std::string adamHint = "with --optimizer adam (or adamw) to switch between sgd, adam and "
                               "adamw at run time";
  switch (model.train.stateForm) {
  case StateForm::None:
    if (!isSgd(s))
      return plain + s.name + " (two moments per parameter); compile it " + adamHint;
    if (s.momentum != 0)
      return plain + "momentum " + number(s.momentum) +
             " (a momentum buffer per parameter); compile it with a momentum (e.g. --optimizer "
             "sgd --momentum 0.9) for any momentum, or " +
             adamHint;
    break;
  case StateForm::MomentumBuffer:
    if (!isSgd(s))
      return compiled +
             "for sgd with momentum: its state is one momentum buffer per parameter, "
             "so it runs sgd only (any momentum >= 0, Nesterov or not), not " +
             s.name + " (two moments per parameter); compile it " + adamHint;
    break;
  case StateForm::AdamMoments:
    break;
  }
  return "";
}

void prepareOptimizerStep(cnnc_model &model) {
  const OptimizerSettings &s = model.optimizer;
  const TrainDesc &t = model.train;
  StateUse family = familyOf(s);
  if (model.stateUse != StateUse::Fresh && model.stateUse != family) {
    for (const TensorDesc &state : t.state) {
      std::memset(model.storage[state.buffer].get(), 0, size_t(state.itemCount) * sizeof(float));
      markHostWritten(model, state.buffer);
    }
    model.stateUse = StateUse::Fresh;
    model.stateSteps = 0;
  }
  float code = isSgd(s) ? opt::kSgdCode : s.name == opt::kAdam ? opt::kAdamCode : opt::kAdamWCode;
  // PyTorch takes a new momentum buffer to be the first gradient itself:
  // no dampening on the buffer's first step.
  bool freshBuffer = isSgd(s) && model.stateSteps == 0;
  setHyper(model, t.optimizerBuffer, code);
  setHyper(model, t.weightDecayBuffer, float(s.weightDecay));
  setHyper(model, t.momentumBuffer, float(s.momentum));
  setHyper(model, t.dampeningBuffer, freshBuffer ? 0.0f : float(s.dampening));
  setHyper(model, t.nesterovBuffer, s.nesterov ? 1.0f : 0.0f);
  setHyper(model, t.beta1Buffer, float(s.beta1));
  setHyper(model, t.beta2Buffer, float(s.beta2));
  setHyper(model, t.epsilonBuffer, float(s.epsilon));
  // Adam's 1-based t: exact in float32 up to 2^24 steps.
  setHyper(model, t.stepBuffer, float(model.stateSteps + 1));
}

void noteOptimizerStep(cnnc_model &model) {
  if (!writesState(model, model.optimizer))
    return;
  model.stateUse = familyOf(model.optimizer);
  ++model.stateSteps;
}

std::string optimizerRecord(const cnnc_model &model) {
  const OptimizerSettings &s = model.optimizer;
  Json j = Json::object();
  j[std::string(opt::kName)] = s.name;
  j[std::string(opt::kMomentum)] = s.momentum;
  j[std::string(opt::kDampening)] = s.dampening;
  j[std::string(opt::kWeightDecay)] = s.weightDecay;
  j[std::string(opt::kNesterov)] = s.nesterov;
  j[std::string(opt::kBeta1)] = s.beta1;
  j[std::string(opt::kBeta2)] = s.beta2;
  j[std::string(opt::kEpsilon)] = s.epsilon;
  for (const auto &[use, name] : kStateUseNames)
    if (use == model.stateUse)
      j[std::string(kStateKey)] = name;
  j[std::string(kStateStepsKey)] = model.stateSteps;
  return dumpJson(j, "the optimizer settings");
}

void parseOptimizerRecord(const cnnc_model &model, const std::string &path, const std::string &text,
                          OptimizerSettings &settings, StateUse &use, uint64_t &stateSteps) {
  const std::string what = "optimizer settings (cnnc_optimizer) of checkpoint '" + path + "'";
  Json j = parseJson(text, what);
  auto bad = [&](const std::string &msg) { fail(CNNC_ERROR_FORMAT, what + ": " + msg); };
  if (!j.is_object())
    bad("expected a JSON object");
  auto member = [&](std::string_view key) -> const Json & {
    const Json *v = findMember(j, key);
    if (!v)
      bad("missing \"" + std::string(key) + "\"");
    return *v;
  };
  OptimizerSettings s;
  if (!member(opt::kName).is_string())
    bad("\"name\" is not a string");
  s.name = member(opt::kName).get<std::string>();
  const std::pair<std::string_view, double OptimizerSettings::*> numbers[] = {
      {opt::kMomentum, &OptimizerSettings::momentum},
      {opt::kDampening, &OptimizerSettings::dampening},
      {opt::kWeightDecay, &OptimizerSettings::weightDecay},
      {opt::kBeta1, &OptimizerSettings::beta1},
      {opt::kBeta2, &OptimizerSettings::beta2},
      {opt::kEpsilon, &OptimizerSettings::epsilon}};
  for (auto [key, field] : numbers) {
    const Json &v = member(key);
    if (!v.is_number())
      bad("\"" + std::string(key) + "\" is not a number");
    s.*field = v.get<double>();
  }
  if (!member(opt::kNesterov).is_boolean())
    bad("\"nesterov\" is not true or false");
  s.nesterov = member(opt::kNesterov).get<bool>();
  if (std::string problem = optimizerProblem(model, s); !problem.empty())
    bad(problem);
  const Json &stateName = member(kStateKey);
  bool known = false;
  for (const auto &[u, name] : kStateUseNames)
    if (stateName.is_string() && stateName.get<std::string>() == name) {
      use = u;
      known = true;
    }
  if (!known)
    bad("\"state\" must be \"fresh\", \"sgd\" or \"adam\"");
  if ((use == StateUse::Adam && model.train.stateForm != StateForm::AdamMoments) ||
      (use == StateUse::Sgd && model.train.stateForm == StateForm::None))
    bad("its optimizer state holds " +
        std::string(use == StateUse::Adam ? "Adam's moments" : "a momentum buffer") +
        ", which model '" + model.path + "' does not keep");
  std::optional<int64_t> steps = jsonInteger(member(kStateStepsKey));
  if (!steps || *steps < 0)
    bad("\"state_steps\" is not a non-negative integer");
  settings = s;
  stateSteps = uint64_t(*steps);
}

} // namespace cnnc::rt

extern "C" cnnc_status cnnc_model_get_optimizer(const cnnc_model *model,
                                                cnnc_optimizer_settings *out_settings) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_get_optimizer");
    requireTraining(model, "cnnc_model_get_optimizer");
    if (!out_settings)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_get_optimizer: out_settings is null");
    const OptimizerSettings &s = model->optimizer;
    out_settings->name = staticName(s.name);
    out_settings->momentum = s.momentum;
    out_settings->dampening = s.dampening;
    out_settings->weight_decay = s.weightDecay;
    out_settings->nesterov = s.nesterov ? 1 : 0;
    out_settings->beta1 = s.beta1;
    out_settings->beta2 = s.beta2;
    out_settings->epsilon = s.epsilon;
  });
}

extern "C" cnnc_status cnnc_model_set_optimizer(cnnc_model *model,
                                                const cnnc_optimizer_settings *settings) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_set_optimizer");
    requireTraining(model, "cnnc_model_set_optimizer");
    if (!settings || !settings->name)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_set_optimizer: settings or its name is null");
    OptimizerSettings s;
    s.name = settings->name;
    s.momentum = settings->momentum;
    s.dampening = settings->dampening;
    s.weightDecay = settings->weight_decay;
    s.nesterov = settings->nesterov != 0;
    s.beta1 = settings->beta1;
    s.beta2 = settings->beta2;
    s.epsilon = settings->epsilon;
    if (std::string problem = optimizerProblem(*model, s); !problem.empty())
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_set_optimizer: " + problem);
    model->optimizer = s;
  });
}
