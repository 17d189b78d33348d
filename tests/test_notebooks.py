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
* the exercises: every one of ``ae.exercises`` is checked in its notebook, each notebook has at
  least two; the teacher edition's checks all pass; the student edition
  (``notebooks/ejercicios/``) matches its source, carries no output and no line of any solution,
  and runs top to bottom with every check saying "todavía sin escribir";
* notebook 2's layer exercise: the teacher's solution passes ``ae.check_layer`` and its
  exercise check, the student's class is a blank whose forward still runs.
"""
from __future__ import annotations

import importlib.util
import re
import shutil
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
STUDENT_DIR = NB_DIR / "ejercicios"
STUDENT = sorted(STUDENT_DIR.glob("[0-9][0-9]_*.ipynb"))
CHECK = re.compile(r'ae\.exercises\.check\("([0-9]{2}\.[a-z0-9_]+)"')


def _needs_mnist(nb) -> bool:
    return any(c.cell_type == "code" and "load_mnist(" in c.source for c in nb.cells)


def test_there_are_notebooks():
    assert len(SOURCES) >= 2
    assert [s.stem for s in SOURCES] == [n.stem for n in NOTEBOOKS], \
        "every source in notebooks/src needs its executed notebook (python notebooks/_build.py)"
    assert [s.stem for s in SOURCES] == [n.stem for n in STUDENT], \
        "every source needs its student edition (python notebooks/_build.py --student)"


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


@pytest.mark.slow
def test_a_lost_wake_up_costs_a_step_not_a_stall(monkeypatch):
    """With nbclient's widget mimic kept (its sends on the shell socket swallow wake-ups: 2
    runs in 3 of these 12 cells stalled without the steps), channels that wait in steps of
    a second still finish every cell, each lost wake-up costing at most a step."""
    import asyncio

    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = _notebook(*[INTERACT] * 12)
    client = build._execute.LevelCheckedClient(nb, timeout=None, kernel_name="python3")
    asyncio.run(asyncio.wait_for(client.async_execute(), timeout=90))
    for cell in nb.cells:          # the mimic keeps the figure in the widget's state
        assert cell.execution_count is not None
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                   for o in cell.outputs)


@pytest.mark.parametrize("cell, limits, message", [
    ("import time\ntime.sleep(600)  # never ends", {"budget": 300, "idle": 6},
     r"stalled: its kernel computed nothing for \d+ s.*cell 1 .*sleep.*slowest cells: cell 1 "),
    ("while True:\n    pass  # never ends", {"budget": 15, "idle": 300},
     r"not finished after its budget of 15 s.*cell 1 .*while True.*slowest cells: cell 1 "
     r".*kernel CPU: \d+ s in \d+ s"),
], ids=["idle kernel: a stall", "busy forever: the budget"])
def test_a_notebook_that_does_not_end_is_killed_and_named(tmp_path, cell, limits, message):
    """A kernel that computes nothing during a cell is stopped after ``idle`` s; one that
    computes forever, by the wall-clock ``budget``. Either way the kernel is gone after, and
    the message says which cell took the time and, where py-spy (the dev extras) or gdb is
    installed, what the kernel was doing."""
    pidfile = tmp_path / "kernel.pid"
    nb = _notebook(f"import os; open({str(pidfile)!r}, 'w').write(str(os.getpid()))", cell)
    with pytest.raises(build._execute.NotebookTimeout, match=r"(?s)^stuck: " + message) as e:
        build.execute(nb, name="stuck", **limits)
    spy = Path(sys.executable).parent / "py-spy"
    if spy.exists() or shutil.which("py-spy") or shutil.which("gdb"):
        assert re.search(r"(py-spy|gdb) of the kernel \(pid \d+\) before it was killed", str(e.value))
    status = Path(f"/proc/{int(pidfile.read_text())}/status")
    assert not status.exists() or "zombie" in status.read_text(), "the kernel still runs"


def test_a_stall_is_seen_through_an_idle_kernels_clock_ticks(monkeypatch):
    """An idle kernel's own threads still use a 10 ms clock tick every 50 s or so, so "no CPU
    at all for 120 s" never happens: the watch judges the CPU used over the window instead.
    Simulated: ticks every 50 s, then a kernel computing on one CPU, then idle again."""
    ex = build._execute
    clock = {"t": 0.0}
    monkeypatch.setattr(ex.time, "monotonic", lambda: clock["t"])
    monkeypatch.setattr(ex, "_last_progress", lambda progress: {"cell": 3, "kernel_pid": 42})

    def watch_until(cpu_at, seconds):
        w = ex._Watch("progress", budget=1e9, idle=120.0)
        monkeypatch.setattr(ex, "_session_cpu", lambda pid: cpu_at(clock["t"]))
        start = clock["t"]
        while clock["t"] - start < seconds:
            clock["t"] += ex.POLL
            why = w.verdict()
            if why:
                return clock["t"] - start, why
        return None, None

    ticking = lambda t: 0.6 + 0.01 * (t // 50)          # idle: a tick every 50 s
    after, why = watch_until(ticking, 600)
    assert why and why.startswith("stalled: its kernel computed nothing for 12"), why
    assert 120 <= after <= 130
    busy = lambda t: 0.6 + t                            # a cell computing on one CPU
    assert watch_until(busy, 600) == (None, None)
    slow = lambda t: 0.6 + 0.05 * t                     # 5 % of a CPU: a loaded machine
    assert watch_until(slow, 600) == (None, None)


def test_a_failing_cell_names_the_notebook():
    with pytest.raises(build._execute.NotebookFailed, match=r"(?s)broken: CellExecutionError.*1 / 0.*ZeroDivisionError"):
        build.execute(_notebook("1 / 0"), name="broken", budget=120)


def _check_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and CHECK.search(c.source)]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS + STUDENT,
                         ids=lambda p: ("ejercicios/" if p.parent.name == "ejercicios" else "") + p.stem)
def test_notebook_runs(path, request, monkeypatch):
    """Both editions run top to bottom; in the student edition every check says the exercise is
    not written yet, and nothing after it depends on the student's code."""
    nb = nbformat.read(path, as_version=4)
    if _needs_mnist(nb):
        data = request.getfixturevalue("shared_data")   # skips when MNIST is not on disk
        monkeypatch.setenv("AENUMPY_DATA", str(Path(data).resolve()))  # the kernel runs in notebooks/
    monkeypatch.delenv("MPLBACKEND", raising=False)      # the kernel's inline backend, as for users
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    student = path.parent == STUDENT_DIR
    nb = build.execute(nb, name=("ejercicios/" if student else "") + path.stem)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    for cell in _check_cells(nb):
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert ("todavía sin escribir" if student else "→ correcto") in text, text


# ---------------------------------------------------------------- the exercises in the notebooks
def test_every_exercise_is_checked_in_its_notebook():
    seen = {}
    for src in SOURCES:
        found = CHECK.findall(src.read_text(encoding="utf-8"))
        assert len(found) >= 2, f"{src.name} has fewer than two exercises"
        for name in found:
            assert name.startswith(src.stem[:2] + "."), f"{name} is checked in {src.name}"
            assert name not in seen, f"{name} is checked twice"
            seen[name] = src.name
    assert sorted(seen) == sorted(ae.exercises.names())


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_teacher_edition_is_solved_and_graded(src):
    """The committed teacher edition: every exercise's check passes, and nbgrader's metadata
    marks the solution cells and the graded (hidden-test) check cells."""
    nb = nbformat.read(NB_DIR / (src.stem + ".ipynb"), as_version=4)
    checks = _check_cells(nb)
    for cell in checks:
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert "→ correcto" in text, f"{src.stem}: {text}"
        assert cell.metadata["nbgrader"]["grade"] and cell.metadata["nbgrader"]["points"] == 1
    solutions = [c for c in nb.cells if build.BEGIN in c.source]
    assert solutions and all(c.metadata["nbgrader"]["solution"] for c in solutions)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)) == len(solutions) + len(checks)


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_student_edition_matches_its_source_without_outputs(src):
    path = STUDENT_DIR / (src.stem + ".ipynb")
    assert path.exists(), f"{path} is missing: run python notebooks/_build.py --student {src.stem[:2]}"
    nb = nbformat.read(path, as_version=4)
    built = build.student(src)
    assert [(c.cell_type, c.source) for c in nb.cells] == \
        [(c.cell_type, c.source) for c in built.cells], \
        f"ejercicios/{path.name} is out of date with {src.name}: run python notebooks/_build.py --student"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert sum(c.source.count("raise NotImplementedError()") for c in code) >= 2


def _solution_lines(text):
    lines = text.splitlines()
    out = []
    for start, stop in build._regions(text, build.BEGIN, build.END) + \
            build._regions(text, build.BEGIN_TESTS, build.END_TESTS):
        out += [ln.strip() for ln in lines[start + 1:stop]]
    return out


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_student_edition_carries_no_line_of_any_solution(src):
    """Every line inside a solution (or hidden-test) region is absent from the student edition,
    unless the same line also stands outside every region in the source (a ``return Z`` of a
    worked example)."""
    teacher = build.build(src)
    student = nbformat.read(STUDENT_DIR / (src.stem + ".ipynb"), as_version=4)
    hidden, public = set(), set()
    for cell in teacher.cells:
        if cell.cell_type != "code":
            continue
        inside = set(_solution_lines(cell.source))
        hidden |= inside
        public |= {ln.strip() for ln in build.strip_solutions(cell.source).splitlines()}
    secret = {ln for ln in hidden - public if ln and not ln.startswith("#")}
    assert secret, f"{src.name} has no solution to hide"
    text = "\n".join(c.source for c in student.cells)
    leaked = [ln for ln in secret if ln in {x.strip() for x in text.splitlines()}]
    assert not leaked, f"ejercicios/{src.stem}: solution lines left in: {leaked}"
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "<details>" not in text
    assert all("nbgrader" not in c.metadata for c in student.cells)


def test_strip_solutions_keeps_the_indentation_and_drops_hidden_tests():
    text = ("def f(x):\n    \"\"\"doc\"\"\"\n    ### BEGIN SOLUTION\n    y = 2 * x\n    return y\n"
            "    ### END SOLUTION\n\nr = check(f)\n### BEGIN HIDDEN TESTS\nassert r.ok\n"
            "### END HIDDEN TESTS")
    assert build.strip_solutions(text) == ('def f(x):\n    """doc"""\n    # TU CÓDIGO AQUÍ\n'
                                           '    raise NotImplementedError()\n\nr = check(f)')
    with pytest.raises(ValueError, match="without"):
        build.strip_solutions("### BEGIN SOLUTION\nx = 1")
    with pytest.raises(ValueError, match="without"):
        build.strip_solutions("x = 1\n### END SOLUTION")


def _cell_defining(nb, name):
    cells = [c.source for c in nb.cells if c.cell_type == "code" and f"class {name}" in c.source]
    assert len(cells) == 1
    return cells[0]


def test_softplus_layer_exercise():
    """Notebook 2's layer: the teacher's solution passes ``ae.check_layer`` and its exercise
    check; the student's class builds and runs forward, and its blank backward is reported as
    not written yet (``ae.check_layer`` on it would raise NotImplementedError)."""
    X = np.random.default_rng(0).standard_normal((5, 6))
    teacher = nbformat.read(NB_DIR / "02_escribe_tu_capa.ipynb", as_version=4)
    ns = {"np": np, "ae": ae}
    exec(_cell_defining(teacher, "SoftplusDense"), ns)
    assert_passes(ae.check_layer(ns["SoftplusDense"](6, 4, np.random.default_rng(3)), X))
    assert ae.exercises.check("02.softplus_layer", ns["SoftplusDense"]).ok
    student = nbformat.read(STUDENT_DIR / "02_escribe_tu_capa.ipynb", as_version=4)
    ns = {"np": np, "ae": ae}
    exec(_cell_defining(student, "SoftplusDense"), ns)
    layer = ns["SoftplusDense"](6, 4, np.random.default_rng(3))
    assert layer.forward(X).shape == (5, 4)
    with pytest.raises(NotImplementedError):
        layer.backward(np.ones((5, 4)))
    r = ae.exercises.check("02.softplus_layer", ns["SoftplusDense"])
    assert not r.ok and not r.written and "todavía sin escribir" in repr(r)


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_student_edition_is_what_nbgrader_makes(src):
    """nbgrader's own preprocessors (solution cells cleared with the Spanish stub, hidden tests
    removed, metadata enforced) turn the teacher edition into the student edition. Skipped where
    nbgrader is not installed (it is not a dependency)."""
    pre = pytest.importorskip("nbgrader.preprocessors")
    nb = build.build(src)
    stub = {"python": "\n".join(build.STUB)}
    nb, _ = pre.ClearSolutions(code_stub=stub, enforce_metadata=True).preprocess(nb, {"language": "python"})
    nb, _ = pre.ClearHiddenTests(enforce_metadata=True).preprocess(nb, {})
    assert [c.source.rstrip() for c in nb.cells] == [c.source for c in build.student(src).cells]
