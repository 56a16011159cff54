# lit configuration of cnnc's FileCheck tests: .mlir files run cnnc-opt,
# .yaml/.test files run cnnc; FileCheck, not and count come from LLVM 19.
import os
import lit.formats

config.name = "cnnc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".yaml", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.cnnc_obj_root)
config.environment["PATH"] = os.pathsep.join(
    [config.cnnc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
# cnnc's compile cache: the build tree's (test/CMakeLists.txt), never the user's ~/.cache.
config.environment["CNNC_CACHE_DIR"] = config.cnnc_cache_dir
config.substitutions.append(("%models", os.path.join(config.cnnc_src_root, "models")))
