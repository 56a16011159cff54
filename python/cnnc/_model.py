"""cnnc.Model: a loaded model.so with a NumPy interface, PyTorch-style parameter access
(state_dict / load_state_dict) and a Keras-style training loop (fit / evaluate)."""

import math
import os
import sys
import time

import numpy as np

from . import _cnnc

__all__ = ["History", "Model", "load"]

# PyTorch's batch-norm step counter: a state_dict entry that no computation reads.
_IGNORED_SUFFIXES = ("num_batches_tracked",)


def _numpy(value):
    """A torch tensor (any device) or array-like as a NumPy array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _as_list(xs):
    return list(xs) if isinstance(xs, (list, tuple)) else [xs]


def _labels(labels, what):
    """Labels as a float32 array of shape [N] (one class index per item); `what` names the
    caller in the error for another shape (e.g. one-hot [N, 10])."""
    y = np.asarray(_numpy(labels), dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"{what} needs labels of shape [N] (one class index per item), got "
                         f"{list(y.shape)}")
    return y


class History(dict):
    """What fit() returns: one list per metric, one entry per epoch (`loss`, `accuracy`,
    `lr`, `seconds`, and `val_loss`, `val_accuracy` with validation data)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Model:
    """A model.so compiled by cnnc. Inputs are NumPy arrays (or anything np.asarray takes)
    shaped [batch, ...] as the model's inputs; float32 C-contiguous arrays are used in place.

    Metadata: `inputs`, `outputs`, `parameters`, `state` map each name to
    {"shape": [...] (-1 is the batch), "item_count": ..., "batched": ...}.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._m = _cnnc.Model(self.path)
        self.inputs = self._m.inputs
        self.outputs = self._m.outputs
        self.parameters = self._m.parameters
        self.state = self._m.state

    def close(self):
        """Unloads model.so now (otherwise when the Model is garbage-collected)."""
        self._m = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"cnnc.Model({self.path!r}: {self.name}, {len(self.parameters)} parameters, "
                f"{'training' if self.has_training else 'inference only'})")

    # ----------------------------------------------------------------- metadata
    name = property(lambda self: self._m.name)
    target = property(lambda self: self._m.target)
    device_api = property(lambda self: self._m.device_api, doc='"cuda", "opencl" or ""')
    has_training = property(lambda self: self._m.has_training)
    has_default_parameters = property(lambda self: self._m.has_default_parameters)
    step_count = property(lambda self: self._m.step_count, doc="train steps taken")
    seed = property(lambda self: self._m.seed, doc="seed of the last initialization")

    def train_info(self):
        """The compiled training settings: loss, optimizer, lr, batch, epochs, classes."""
        return self._m.train_info()

    @property
    def optimizer(self):
        """The optimizer of the next train steps, with torch.optim's names: {"name": "sgd",
        "adam" or "adamw", "momentum", "dampening", "weight_decay", "nesterov", "beta1",
        "beta2", "epsilon"}. A loaded model starts with its model file's settings."""
        self._check_training()
        return self._m.optimizer

    def set_optimizer(self, name=None, **settings):
        """Changes the optimizer of the following train steps, without recompiling: `name`
        ("sgd", "adam" or "adamw") and any of momentum, dampening, weight_decay, nesterov,
        beta1, beta2, epsilon; the others keep their values. A model compiled with adam or
        adamw runs all three; with sgd and a momentum, sgd with any momentum; with plain sgd,
        sgd without momentum. A bad value or an optimizer the model cannot run raises
        CnncError (saying how to compile one that can) and changes nothing."""
        self._check_training()
        new = self._m.optimizer
        for key, value in settings.items():
            if key not in new or key == "name":
                raise TypeError(f"set_optimizer() got an unexpected keyword argument {key!r} "
                                f"(expected name, {', '.join(k for k in new if k != 'name')})")
            new[key] = value
        if name is not None:
            new["name"] = name
        self._m.set_optimizer(new)

    # --------------------------------------------------------------- parameters
    def state_dict(self):
        """Every parameter (batch-norm running statistics included) as NumPy arrays."""
        return {k: self._m.get_parameter(k) for k in self.parameters}

    def load_state_dict(self, state_dict, strict=True):
        """Sets parameters from a dict of torch tensors or arrays (a PyTorch `state_dict`
        loads as it is). strict: every parameter must be given and every key known
        (PyTorch's `num_batches_tracked` counters are ignored)."""
        given = {k: v for k, v in state_dict.items() if not k.endswith(_IGNORED_SUFFIXES)}
        if strict:
            missing = [k for k in self.parameters if k not in given]
            unknown = [k for k in given if k not in self.parameters]
            if missing or unknown:
                raise KeyError(f"load_state_dict: missing {missing}, unknown {unknown}")
        for k, v in given.items():
            if k in self.parameters:
                self._m.set_parameter(k, _numpy(v))

    def get_parameter(self, name):
        return self._m.get_parameter(name)

    def set_parameter(self, name, value):
        self._m.set_parameter(name, _numpy(value))

    def get_state(self, name):
        """One optimizer state tensor (e.g. Adam's `conv1.weight.exp_avg`)."""
        return self._m.get_state(name)

    def load_parameters(self, path, strip_prefix=None):
        """Reads every parameter from a safetensors file. strip_prefix: read parameter NAME
        from the file's tensor strip_prefix + NAME (e.g. "module." for a state_dict saved
        from torch.nn.DataParallel); tensors without it are ignored."""
        self._m.load_parameters(os.fspath(path), strip_prefix or "")

    def save_parameters(self, path):
        self._m.save_parameters(os.fspath(path))

    def load_default_parameters(self):
        """Sets every parameter again to the values embedded in model.so."""
        self._m.load_default_parameters()

    def init_parameters(self, seed=0):
        """PyTorch's default initialization, seeded; zeroes optimizer state and step count."""
        self._m.init_parameters(seed)

    # ---------------------------------------------------------------- inference
    def run(self, xs):
        """Inference on a list of inputs (or one array); returns the list of outputs, or the
        output itself for a model with one."""
        outs = self._m.run([_numpy(x) for x in _as_list(xs)])
        return outs[0] if len(outs) == 1 else outs

    def __call__(self, *xs):
        return self.run(list(xs))

    def predict(self, x, batch_size=256):
        """Inference over a whole array in batches (one-input, one-output models)."""
        x = _numpy(x)
        return np.concatenate([self.run(x[i:i + batch_size])
                               for i in range(0, len(x), batch_size)])

    # ----------------------------------------------------------------- training
    def _check_training(self):
        if not self.has_training:
            error = _cnnc.CnncError(f"{self.path} was compiled without a train step "
                                    "(--inference-only)")
            error.status = "invalid argument"
            raise error

    @property
    def label_smoothing(self):
        """Cross-entropy label smoothing of the following train and eval steps, in [0, 1), as
        torch's cross_entropy(..., label_smoothing=eps); starts as the model file's
        `train: {label_smoothing: ...}` (0 if none). Settable; not kept in checkpoints."""
        self._check_training()
        return self._m.label_smoothing

    @label_smoothing.setter
    def label_smoothing(self, eps):
        self._check_training()
        self._m.label_smoothing = float(eps)

    has_clip_grad_norm = property(
        lambda self: self._m.has_clip_grad_norm,
        doc="whether the train step was compiled with gradient clipping (clip_grad_norm)")

    @property
    def clip_grad_norm(self):
        """max_norm of gradient clipping in the following train steps, as
        torch.nn.utils.clip_grad_norm_ before the optimizer step (0: off); starts as the model
        file's `train: {clip_grad_norm: ...}`. Settable; a non-zero value needs a model compiled
        with clipping (cnnc --clip-grad-norm). Not kept in checkpoints."""
        self._check_training()
        return self._m.clip_grad_norm

    @clip_grad_norm.setter
    def clip_grad_norm(self, max_norm):
        self._check_training()
        self._m.clip_grad_norm = float(max_norm)

    def train_step(self, xs, labels, lr=None):
        """One train step (forward, loss, backward, optimizer update) on one batch; returns
        (mean loss, number of correctly classified items). lr: default the compiled one."""
        self._check_training()
        if lr is None:
            lr = self.train_info()["lr"]
        y = np.asarray(_numpy(labels), dtype=np.float32)
        return self._m.train_step([_numpy(x) for x in _as_list(xs)], y, float(lr))

    def evaluate(self, data, batch_size=None):
        """Loss and accuracy over (inputs, labels) in inference mode; changes nothing.
        Returns {"loss": mean loss, "accuracy": share correct}."""
        self._check_training()
        xs, labels = data
        xs = [_numpy(x) for x in _as_list(xs)]
        labels = _labels(labels, "evaluate")
        n = len(labels)
        if any(len(x) != n for x in xs):
            raise ValueError(f"evaluate needs one label per item; got {[len(x) for x in xs]} "
                             f"items and {n} labels")
        batch_size = batch_size or self.train_info()["batch"] or 32
        total_loss = total_correct = 0.0
        for i in range(0, n, batch_size):
            j = min(n, i + batch_size)
            loss, correct = self._m.evaluate([x[i:j] for x in xs], labels[i:j])
            total_loss += loss * (j - i)
            total_correct += correct
        return {"loss": total_loss / max(n, 1), "accuracy": total_correct / max(n, 1)}

    def fit(self, train, epochs=None, batch_size=None, lr=None, schedule="constant",
            validation=None, seed=0, shuffle=True, verbose=True, checkpoint=None, log=None,
            optimizer=None, momentum=None, weight_decay=None):
        """Trains on train = (inputs, labels) for `epochs` epochs and returns a History.

        Defaults come from the compiled train settings (epochs, batch, lr). optimizer (a name
        or a dict of settings), momentum, weight_decay: set with set_optimizer before training
        (and kept after it); default the current settings. schedule:
        "constant", "step:E:G" (times G every E epochs) or "cosine". validation: (inputs,
        labels) evaluated after each epoch. Batches are shuffled with `seed` per epoch; the
        last partial batch is used. checkpoint: a path written after every epoch
        (load it with load_checkpoint to resume). log: a CSV file with one row per epoch, the
        format of `cnnrun train --log` (draw it with `python3 -m cnnc.plot`). verbose: a
        progress bar on a terminal, one line per epoch otherwise.
        """
        self._check_training()
        changes = {k: v for k, v in (("momentum", momentum), ("weight_decay", weight_decay))
                   if v is not None}
        if isinstance(optimizer, dict):
            changes = {**optimizer, **changes}
        elif optimizer is not None:
            changes["name"] = optimizer
        if changes:
            self.set_optimizer(**changes)
        info = self.train_info()
        epochs = epochs or info["epochs"] or 1
        batch_size = batch_size or info["batch"] or 32
        base_lr = info["lr"] if lr is None else lr
        xs, labels = train
        xs = [_numpy(x) for x in _as_list(xs)]
        labels = _labels(labels, "fit")
        n = len(labels)
        if n == 0 or any(len(x) != n for x in xs):
            raise ValueError(f"fit needs one label per item and at least one item; got "
                             f"{[len(x) for x in xs]} items and {n} labels")
        steps_per_epoch = math.ceil(n / batch_size)
        rng = np.random.default_rng(seed)
        history = History(loss=[], accuracy=[], lr=[], seconds=[])
        if validation is not None:
            history.update(val_loss=[], val_accuracy=[])
        bar = _Progress(verbose)
        for epoch in range(epochs):
            start = time.perf_counter()
            order = rng.permutation(n) if shuffle else np.arange(n)
            total_loss = total_correct = 0.0
            for b in range(steps_per_epoch):
                idx = order[b * batch_size:(b + 1) * batch_size]
                step_lr = _cnnc.lr_at(schedule, base_lr, epoch * steps_per_epoch + b,
                                      steps_per_epoch, epochs)
                loss, correct = self._m.train_step([np.ascontiguousarray(x[idx]) for x in xs],
                                                   labels[idx], step_lr)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"epoch {epoch + 1}, batch {b + 1}: the loss is "
                                             f"{loss}; lower the learning rate ({step_lr:g})")
                total_loss += loss * len(idx)
                total_correct += correct
                seen = min(n, (b + 1) * batch_size)
                bar.update(epoch, epochs, b + 1, steps_per_epoch, total_loss / seen)
            history["loss"].append(total_loss / n)
            history["accuracy"].append(total_correct / n)
            history["lr"].append(step_lr)
            if validation is not None:
                v = self.evaluate(validation, batch_size)
                history["val_loss"].append(v["loss"])
                history["val_accuracy"].append(v["accuracy"])
            history["seconds"].append(time.perf_counter() - start)
            if checkpoint:
                self.save_checkpoint(checkpoint)
            if log:
                _write_log(log, history)
            bar.epoch_done(epoch, epochs, {k: v[-1] for k, v in history.items()})
        return history

    def save_checkpoint(self, path):
        """Parameters, optimizer state and settings, step count and seed, in one safetensors
        file."""
        self._m.save_checkpoint(os.fspath(path))

    def load_checkpoint(self, path):
        self._m.load_checkpoint(os.fspath(path))


def _write_log(path, history):
    """Writes `history` as the CSV `cnnrun train --log` writes."""
    val = "val_loss" in history
    with open(path, "w") as f:
        f.write("epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds,val_loss,"
                "val_accuracy\n")
        for e in range(len(history["loss"])):
            v = (f"{history['val_loss'][e]:.9g}", f"{history['val_accuracy'][e]:.9g}") if val \
                else ("nan", "nan")
            f.write(f"{e + 1},{history['loss'][e]:.9g},{history['accuracy'][e]:.9g},nan,nan,"
                    f"{history['lr'][e]:.9g},{history['seconds'][e]:.3f},{v[0]},{v[1]}\n")


class _Progress:
    """fit()'s output: a bar redrawn in place on a terminal, one line per epoch elsewhere."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()

    def update(self, epoch, epochs, step, steps, loss):
        if self.tty:
            done = int(30 * step / steps)
            sys.stderr.write(f"\repoch {epoch + 1}/{epochs} [{'=' * done}{' ' * (30 - done)}] "
                             f"{step}/{steps} loss {loss:.4f}")
            sys.stderr.flush()

    def epoch_done(self, epoch, epochs, last):
        if not self.enabled:
            return
        metrics = "  ".join(f"{k} {v:.4g}" for k, v in last.items())
        sys.stderr.write(("\r" if self.tty else "") + f"epoch {epoch + 1}/{epochs}  {metrics}"
                         + " " * 10 + "\n")
        sys.stderr.flush()


def load(path):
    """Loads a model.so compiled by cnnc (cnnc.compile or the cnnc command)."""
    return Model(path)
