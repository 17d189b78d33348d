import re
import subprocess
import sys
from pathlib import Path

import aenumpy

PKG = Path(aenumpy.__file__).parent


#: the one file that may import torch: the exported network written as PyTorch modules,
#: imported only inside ``aenumpy.export.to_torch``
TORCH_EXPORT = PKG / "export" / "torch_modules.py"


def test_no_autodiff_library_is_imported_anywhere():
    pattern = re.compile(r"^\s*(import|from)\s+(torch|jax|tensorflow|autograd)\b", re.M)
    for f in PKG.rglob("*.py"):
        if f != TORCH_EXPORT:
            assert not pattern.search(f.read_text()), f
    others = re.compile(r"^\s*(import|from)\s+(jax|tensorflow|autograd)\b", re.M)
    assert not others.search(TORCH_EXPORT.read_text())


def test_the_torch_export_is_imported_only_inside_a_function():
    imports = re.compile(r"^(\s*)(from\s+\S*\s+import\s+.*\btorch_modules\b|"
                         r"import\s+\S*torch_modules\b)", re.M)
    found = [(f, m.group(1)) for f in PKG.rglob("*.py") for m in imports.finditer(f.read_text())]
    assert found and all(indent for _, indent in found), found


def test_no_pickle_loading_in_the_package():
    for f in PKG.rglob("*.py"):
        text = f.read_text()
        assert "allow_pickle=True" not in text and "pickle.load" not in text, f


def test_import_compiles_nothing_and_pulls_no_matplotlib():
    code = ("import sys, aenumpy; "
            "print('matplotlib' in sys.modules, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_reference_path_runs_with_jit_off(tmp_path):
    code = ("import sys, numpy as np, aenumpy as ae; "
            "assert not ae.backend.fast_enabled(); m = ae.Autoencoder(6, [3]); "
            "assert type(m) is ae.Autoencoder and 'numba' not in sys.modules; "
            "print(m.loss(np.random.default_rng(0).random((4, 6))))")
    import os

    env = {**os.environ, "AENUMPY_JIT": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert float(out.stdout) > 0
