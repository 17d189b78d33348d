"""The course notebooks.

* every notebook in ``notebooks/`` runs top to bottom in a fresh ``python3`` kernel
  (the interpreter running the tests), with ``notebooks/`` as working directory,
  within a wall-clock budget (``notebooks/_execute.py``); a cell that raises, or a
  notebook past its budget, fails the test. Notebooks that read MNIST are skipped when
  the data is not on disk (``$AENUMPY_DATA`` or ``../shared/data``);
* the harness itself: widget cells never stall it, and a stalled notebook is killed
  and reported with its cell;
* each committed ``.ipynb`` has the cells of its source in ``notebooks/src/`` and
  carries its outputs;
* the hidden solution of the exercise in notebook 2 passes the layer check.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import assert_passes

import aenumpy as ae

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"


def _load_build():
    spec = importlib.util.spec_from_file_location("_aenumpy_nb_build", NB_DIR / "_build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


build = _load_build()
SOURCES = build.sources()
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))


def _needs_mnist(nb) -> bool:
    return any(c.cell_type == "code" and "load_mnist(" in c.source for c in nb.cells)


def test_there_are_notebooks():
    assert len(SOURCES) >= 2
    assert [s.stem for s in SOURCES] == [n.stem for n in NOTEBOOKS], \
        "every source in notebooks/src needs its executed notebook (python notebooks/_build.py)"


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_committed_notebook_matches_its_source_and_has_outputs(src):
    built = build.build(src)
    path = NB_DIR / (src.stem + ".ipynb")
    assert path.exists(), f"{path.name} is missing: run python notebooks/_build.py {src.stem[:2]}"
    nb = nbformat.read(path, as_version=4)
    assert [(c.cell_type, c.source) for c in nb.cells] == \
        [(c.cell_type, c.source) for c in built.cells], \
        f"{path.name} is out of date with {src.name}: run python notebooks/_build.py {src.stem[:2]}"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), \
        f"{path.name} was committed without running every cell"
    assert not any(o.output_type == "error" for c in code for o in c.outputs)
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), \
        f"{path.name} has no figures"


def _notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def test_kernel_is_this_interpreter():
    """The ``python3`` kernel must run the interpreter (and so the aenumpy) under test."""
    nb = build.execute(_notebook("import sys; print(sys.executable)"), budget=120)
    out = nb.cells[0].outputs[0].text.strip()
    assert Path(out).resolve() == Path(sys.executable).resolve()


INTERACT = """
import ipywidgets as w, matplotlib.pyplot as plt
from IPython.display import display
def show(s):
    fig = plt.figure(figsize=(2, 2)); plt.plot([0, s]); display(fig); plt.close(fig)
w.interact(show, s=w.FloatSlider(value=0.3, min=0, max=1))
"""


@pytest.mark.slow
def test_widget_cells_do_not_stall_the_harness(monkeypatch):
    """``interact`` draws into an Output widget. nbclient's stand-in for that widget sent
    state on the shell socket while the cell's reply was awaited there, and the reply's
    wake-up could be lost (one stall per 10 cells or so). The headless client opens no such
    stand-in: 30 cells finish, each with its figure (the child has no cell timeout, so a
    lost wake-up would leave the kernel idle until the harness kills it as stalled)."""
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = build.execute(_notebook(*[INTERACT] * 30), name="interact x30", budget=240)
    for cell in nb.cells:
        assert any("image/png" in o.get("data", {}) for o in cell.outputs)


def _assert_dead(pidfile):
    pid = int(pidfile.read_text())
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "zombie" in status.read_text(), "the kernel still runs"


def test_a_stalled_notebook_is_killed_and_named(tmp_path):
    """A kernel that computes nothing during a cell is a stall: killed after ``idle`` s."""
    pidfile = tmp_path / "kernel.pid"
    nb = _notebook(f"import os; open({str(pidfile)!r}, 'w').write(str(os.getpid()))",
                   "import time\ntime.sleep(600)  # never ends")
    with pytest.raises(build._execute.NotebookTimeout,
                       match=r"(?s)stuck: stalled: its kernel used no CPU for 6 s.*cell 1 .*sleep"):
        build.execute(nb, name="stuck", budget=300, idle=6)
    _assert_dead(pidfile)


def test_a_notebook_past_its_budget_is_killed_and_named(tmp_path):
    """A cell that computes forever is stopped by the wall-clock budget."""
    pidfile = tmp_path / "kernel.pid"
    nb = _notebook(f"import os; open({str(pidfile)!r}, 'w').write(str(os.getpid()))",
                   "while True:\n    pass  # never ends")
    with pytest.raises(build._execute.NotebookTimeout,
                       match=r"(?s)busy: not finished after its budget of 15 s.*cell 1 .*while True"):
        build.execute(nb, name="busy", budget=15, idle=300)
    _assert_dead(pidfile)


def test_a_failing_cell_names_the_notebook():
    with pytest.raises(build._execute.NotebookFailed, match=r"(?s)broken: CellExecutionError.*1 / 0.*ZeroDivisionError"):
        build.execute(_notebook("1 / 0"), name="broken", budget=120)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, request, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    if _needs_mnist(nb):
        data = request.getfixturevalue("shared_data")   # skips when MNIST is not on disk
        monkeypatch.setenv("AENUMPY_DATA", str(Path(data).resolve()))  # the kernel runs in notebooks/
    monkeypatch.delenv("MPLBACKEND", raising=False)      # the kernel's inline backend, as for users
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb = build.execute(nb, name=path.stem)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)


def test_hidden_solution_of_the_exercise_passes():
    """Notebook 2 hides the solution in a ``<details>`` block; it must be right."""
    nb = nbformat.read(NB_DIR / "02_escribe_tu_capa.ipynb", as_version=4)
    blocks = [c.source for c in nb.cells if c.cell_type == "markdown" and "<details>" in c.source]
    assert len(blocks) == 1
    code = re.search(r"```python\n(.*?)```", blocks[0], re.S).group(1)
    code = "\n".join(line for line in code.splitlines() if not line.startswith("print("))
    ns = {"np": np, "ae": ae}
    exec(code, ns)
    layer = ns["SoftplusDense"](6, 4, np.random.default_rng(3))
    X = np.random.default_rng(0).standard_normal((5, 6))
    assert_passes(ae.check_layer(layer, X))
    # and the incomplete version shown in the exercise cell does fail
    ex = [c.source for c in nb.cells if c.cell_type == "code" and "TODO" in c.source]
    assert len(ex) == 1
    ns = {"np": np, "ae": ae, "X": X}
    exec(ex[0].replace("print(report)", ""), ns)
    assert not ns["report"].ok
