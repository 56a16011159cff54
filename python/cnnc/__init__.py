"""cnnc for Python: compile a CNN (model file, ONNX file or torch.nn.Module) into a model.so,
load it, run it on NumPy arrays, and train it.

    import cnnc
    cnnc.compile(module, "net.so", example_input=torch.zeros(1, 1, 28, 28),
                 train={"loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 1e-3}})
    m = cnnc.load("net.so")          # parameters: the module's, embedded in net.so
    history = m.fit((x_train, y_train), epochs=5, validation=(x_test, y_test))
    y = m(x_test[:8])                # NumPy in, NumPy out

A failed runtime call raises `cnnc.CnncError` (its `status` names the kind of failure); a
failed compilation raises `cnnc.CompileError` carrying cnnc's diagnostics.
"""

from ._cnnc import CnncError
from ._compile import CompileError, compile, find_cnnc
from ._model import History, Model, load

__all__ = ["CnncError", "CompileError", "History", "Model", "compile", "find_cnnc", "load"]
