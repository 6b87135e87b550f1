# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The package installs with pip, offline, with Debian's setuptools; it
type-checks under mypy --strict; its queue example prints what the
standard library's queue prints."""

import os
import shutil
import subprocess
import sys

import mpsc

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"


def test_pip_install(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns(
        "__pycache__", ".mypy_cache", "build", "*.egg-info"))
    subprocess.run([PYTHON, "-m", "pip", "install", "--no-build-isolation",
                    "--no-index", "--no-deps", "--no-compile", "--target",
                    str(tmp_path / "site"), str(src)],
                   check=True, capture_output=True)
    out = subprocess.run(
        [PYTHON, "-c", "import mpsc, importlib.metadata as m; "
         "print(mpsc.__file__); print(m.version('mpsc'))"],
        env=dict(os.environ, PYTHONPATH=str(tmp_path / "site")),
        cwd=str(tmp_path), check=True, capture_output=True,
        text=True).stdout.split()
    assert out[0].startswith(str(tmp_path / "site"))
    assert out[1] == mpsc.__version__
    assert (tmp_path / "site" / "mpsc" / "py.typed").exists()


def test_mypy_strict():
    r = subprocess.run(["/usr/bin/mypy", "--strict", "--cache-dir=/dev/null",
                        "mpsc", "tests/typing_example.py"],
                       cwd=PKG, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def run_example(path, tmp_path, swap=None):
    text = open(path).read()
    if swap:
        assert swap[0] in text
        text = text.replace(swap[0], swap[1])
    script = tmp_path / os.path.basename(path)
    script.write_text(text)
    return subprocess.run([sys.executable, str(script)], check=True,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=PKG)).stdout


def test_queue_example_matches_the_standard_queue(tmp_path):
    path = os.path.join(PKG, "examples", "queue_workers.py")
    ours = run_example(path, tmp_path)
    std = run_example(path, tmp_path,
                      ("from mpsc import queue  # was: import queue",
                       "import queue"))
    assert ours == std
    assert ours.endswith("All work completed\n")
