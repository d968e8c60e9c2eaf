"""The ionhop Python package: the C library compiled into one extension module, offline, with what
Debian ships (python3-dev, python3-setuptools, python3-numpy; libopenblas-dev, libsymspg-dev,
libcjson-dev, zlib1g-dev).

    pip install --no-build-isolation .          # into a virtual environment or the system Python
    python3 setup.py build                      # or just build (make python)
"""
import glob
import os
import shutil

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
LIB_DIRS = ["core", "io", "structure", "graph", "nn", "modelfile", "train", "predict"]
sources = ["python/ionhop/_core.c"] + sorted(
    os.path.relpath(p, HERE) for d in LIB_DIRS for p in glob.glob(os.path.join(HERE, "src", d, "*.c")))


class build_py_with_model(build_py):
    """Ships the bundled default model inside the package (ionhop/models/default.ionhop)."""

    def run(self):
        super().run()
        dst = os.path.join(self.build_lib, "ionhop", "models")
        os.makedirs(dst, exist_ok=True)
        shutil.copy2(os.path.join(HERE, "models", "default.ionhop"), dst)


setup(
    name="ionhop",
    version="0.1.0",
    description="Ionic migration barriers in crystals with an ALIGNN graph network (C library, Python API)",
    packages=["ionhop"],
    package_dir={"ionhop": "python/ionhop"},
    install_requires=["numpy"],
    cmdclass={"build_py": build_py_with_model},
    ext_modules=[Extension(
        "ionhop._core",
        sources=sources,
        include_dirs=["include", "src", "/usr/include/x86_64-linux-gnu/openblas-pthread"],
        libraries=["openblas", "symspg", "cjson", "z", "m"],
        extra_compile_args=["-std=c11", "-D_GNU_SOURCE", "-fopenmp", "-ffp-contract=off", "-O3",
                            "-march=x86-64-v2", "-Wall", "-Wextra", "-Wno-missing-field-initializers",
                            "-Wno-unused-parameter", "-Wno-cast-function-type"],
        extra_link_args=["-fopenmp"],
    )],
)
