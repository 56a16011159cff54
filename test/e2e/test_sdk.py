#!/usr/bin/python3
"""The installable SDK, as a user of it would see it.

Installs the build into a temporary prefix (`cmake --install BUILD --prefix P`), then:
 - the out-of-tree application examples/sdk (find_package(cnnc), cnnc_add_model) configures,
   builds (compiling its model file with the installed cnnc) and runs: it trains one epoch
   on 1024 Fashion-MNIST images and must reach 40% test accuracy (chance: 10%);
 - a C program compiles and links with `pkg-config --cflags --libs cnnc` and runs;
 - the Python package from P finds P/bin/cnnc and runs the application's model.so;
 - every installed file is under P, and the installed tools answer --help.
Assumes: cmake, ninja, a C/C++ compiler, pkg-config, Debian's dataset-fashion-mnist.
Run: /usr/bin/python3 test/e2e/test_sdk.py --build-dir build
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"

C_PROGRAM = r"""
#include <cnnc/runtime.h>
#include <stdio.h>
int main(void) {
  cnnc_model *m = 0;
  cnnc_status s = cnnc_model_load("/nonexistent/model.so", &m);
  printf("%s: %s\n", cnnc_status_string(s), cnnc_last_error());
  return s == CNNC_ERROR_IO ? 0 : 1;
}
"""


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.path.join(SOURCE_DIR, "build"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    # The installed cnnc keeps its compile cache in the build tree, as the other tests' do.
    os.environ.setdefault("CNNC_CACHE_DIR", os.path.join(os.path.abspath(args.build_dir),
                                                         "test-cache"))
    results = []

    def record(name, ok, detail=""):
        results.append(ok)
        print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""),
              flush=True)
        return ok

    tmp = tempfile.mkdtemp(prefix="cnnc-sdk-")
    prefix, app = os.path.join(tmp, "prefix"), os.path.join(tmp, "app")
    try:
        p = run(["cmake", "--install", args.build_dir, "--prefix", prefix])
        if not record("install", p.returncode == 0, p.stdout + p.stderr):
            return 1
        outside = [line for line in p.stdout.splitlines()
                   if line.startswith("-- Installing: ") and not line[15:].startswith(prefix)]
        record("install.all_under_prefix", not outside, "\n".join(outside))
        for tool in ("cnnc", "cnnc-opt", "cnnrun"):
            q = run([os.path.join(prefix, "bin", tool), "--help"])
            record(f"install.{tool}_runs", q.returncode == 0 and "USAGE" in q.stdout.upper(),
                   q.stdout[-400:] + q.stderr[-400:])

        p = run(["cmake", "-S", os.path.join(SOURCE_DIR, "examples", "sdk"), "-B", app, "-G",
                 "Ninja", f"-DCMAKE_PREFIX_PATH={prefix}"])
        record("app.configure", p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:])
        p = run(["cmake", "--build", app])
        record("app.build", p.returncode == 0 and "Compiling model fashion_net.so" in p.stdout,
               p.stdout[-3000:] + p.stderr[-2000:])
        p = run([os.path.join(app, "fashion_app"), FASHION_MNIST, "--images", "1024"])
        m = re.search(r"test accuracy ([0-9.]+)%", p.stdout)
        record("app.trains", p.returncode == 0 and m is not None and float(m.group(1)) > 40,
               p.stdout + p.stderr)
        p = run(["ldd", os.path.join(app, "fashion_app")])
        record("app.links_installed_runtime",
               os.path.join(prefix, "lib", "libcnnc_runtime.so") in p.stdout, p.stdout)

        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
        flags = run(["pkg-config", "--cflags", "--libs", "cnnc"], env=env)
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(C_PROGRAM)
        exe = os.path.join(tmp, "probe")
        p = run(["cc", src, "-o", exe] + flags.stdout.split())
        q = run([exe]) if p.returncode == 0 else p
        record("pkg_config.c_program", flags.returncode == 0 and p.returncode == 0 and
               q.returncode == 0 and "I/O error: cannot open model" in q.stdout,
               flags.stderr + p.stderr + q.stdout + q.stderr)

        site = glob.glob(os.path.join(prefix, "lib", "python3*", "dist-packages"))
        code = ("import cnnc, numpy as np, sys\n"
                "print(cnnc.find_cnnc())\n"
                f"m = cnnc.load({os.path.join(app, 'fashion_net.so')!r})\n"
                "m.init_parameters(0)\n"
                "print(m(np.zeros((2, 1, 28, 28), np.float32)).shape)\n")
        env = dict(os.environ, PYTHONPATH=site[0] if site else "")
        env.pop("CNNC_COMPILER", None)
        p = run([sys.executable, "-c", code], env=env, cwd=tmp)
        record("python.from_prefix", p.returncode == 0 and p.stdout.split("\n")[:2] ==
               [os.path.join(prefix, "bin", "cnnc"), "(2, 10)"], p.stdout + p.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
