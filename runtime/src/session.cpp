//===- session.cpp - Sessions and the in-use flag of a model --------------===//
//
// A model runs one C API call at a time. ModelCall, taken by every entry
// point that runs a model or touches its run state, holds the model's
// in-use flag for the call: a second thread's call fails at once with
// CNNC_ERROR_BUSY instead of corrupting the buffers both would write.
//
// A session (cnnc_session_create) is one execution context of a loaded CPU
// model for one thread: its own buffers for the inputs, temporaries and
// outputs of the inference steps (a cnnc_model of its own, set up by
// initSessionBuffers), and the model's parameter and derived buffers, read
// only. Several threads each run their own session of one model at once,
// with one copy of the weights. While sessions are open, the calls that
// would change the parameters are refused (ModelAccess::ChangeParameters),
// so the parameters they read never change under them. A session holds a
// reference to its model: a model freed while sessions are open lives on
// until the last of them is freed.
//
//===----------------------------------------------------------------------===//
#include "error.h"
#include "model.h"

#include <memory>

using namespace cnnc::rt;

/// The opaque session handle of the C API.
struct cnnc_session {
  cnnc_model *model = nullptr;         ///< the model it shares (holding a reference)
  std::unique_ptr<cnnc_model> context; ///< its execution state
  std::atomic<bool> inUse{false};      ///< set while a call runs on it
};

namespace cnnc::rt {

namespace {

/// How messages name a model: its metadata name, else its path.
std::string modelName(const cnnc_model &model) {
  return "model '" + (model.name.empty() ? model.path : model.name) + "'";
}

/// Takes `flag` for a call of `fn` on `what`, or fails with
/// CNNC_ERROR_BUSY naming both and saying what to do (`advice`).
void takeInUseFlag(std::atomic<bool> &flag, const char *fn, const std::string &what,
                   const char *advice) {
  bool expected = false;
  if (!flag.compare_exchange_strong(expected, true, std::memory_order_acquire))
    fail(CNNC_ERROR_BUSY,
         std::string(fn) + ": " + what + " is in use by another thread: " + advice);
}

} // namespace

ModelCall::ModelCall(const cnnc_model *model, const char *fn, ModelAccess access) {
  if (!model)
    return;
  takeInUseFlag(model->inUse, fn, modelName(*model),
                "a model runs one call at a time; use one session per thread "
                "(cnnc_session_create)");
  if (access == ModelAccess::ChangeParameters) {
    int open = model->sessions.load();
    if (open > 0) {
      model->inUse.store(false, std::memory_order_release);
      fail(CNNC_ERROR_BUSY, std::string(fn) + ": " + modelName(*model) + " has " +
                                std::to_string(open) + " open session" + (open == 1 ? "" : "s") +
                                ", which read its parameters: free them (cnnc_session_free) "
                                "before changing the parameters");
    }
  }
  flag = &model->inUse;
}

ModelCall::~ModelCall() {
  if (flag)
    flag->store(false, std::memory_order_release);
}

void releaseModel(cnnc_model *model) {
  if (model && model->references.fetch_sub(1, std::memory_order_acq_rel) == 1)
    delete model;
}

} // namespace cnnc::rt

extern "C" cnnc_status cnnc_session_create(cnnc_model *model, cnnc_session **out_session) {
  return guard([&] {
    if (!out_session)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_session_create: out_session is null");
    *out_session = nullptr;
    ModelCall call(model, "cnnc_session_create");
    if (!model)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_session_create: model is null");
    if (model->onDevice())
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "cnnc_session_create: " + modelName(*model) + " runs on " + model->deviceApi +
               ": sessions share a CPU model's parameters only; use one model per thread");
    // The derived buffers are computed once, here; the parameters cannot
    // change while the session is open.
    if (!model->prepared)
      prepareModel(*model);

    auto session = std::make_unique<cnnc_session>();
    auto context = std::make_unique<cnnc_model>();
    context->desc = model->desc;
    context->path = model->path;
    context->name = model->name;
    context->target = model->target;
    context->halide = model->halide;
    context->buffers = model->buffers;
    context->inputs = model->inputs;
    context->outputs = model->outputs;
    context->parameters = model->parameters;
    context->steps = model->steps;
    initSessionBuffers(*context, *model);
    session->context = std::move(context);
    session->model = model;
    model->references.fetch_add(1, std::memory_order_relaxed);
    model->sessions.fetch_add(1);
    *out_session = session.release();
  });
}

extern "C" void cnnc_session_free(cnnc_session *session) {
  if (!session)
    return;
  cnnc_model *model = session->model;
  session->context.reset();
  delete session;
  model->sessions.fetch_sub(1);
  releaseModel(model);
}

extern "C" cnnc_status cnnc_session_run(cnnc_session *session, int64_t batch,
                                        const float *const *inputs, float *const *outputs) {
  return guard([&] {
    if (!session)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_session_run: session is null");
    takeInUseFlag(session->inUse, "cnnc_session_run", "a session of " + modelName(*session->model),
                  "a session runs one call at a time; create one session per thread");
    struct Release {
      std::atomic<bool> &flag;
      ~Release() { flag.store(false, std::memory_order_release); }
    } release{session->inUse};
    runModel(*session->context, "cnnc_session_run", batch, inputs, outputs, nullptr);
  });
}

extern "C" const cnnc_model *cnnc_session_model(const cnnc_session *session) {
  return session ? session->model : nullptr;
}
