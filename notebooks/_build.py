"""Build the course notebooks from their sources, execute them, and write the ``.ipynb``.

Each notebook has a source ``notebooks/src/NN_name.py`` written in the "percent"
format: a line ``# %%`` starts a code cell, a line ``# %% [markdown]`` starts a
text cell whose lines are comments (``# `` is stripped). The source is itself a
runnable Python script. This file turns it into ``notebooks/NN_name.ipynb`` with
nbformat and executes it with ``_execute.run`` (nbclient in a child process, kernel
``python3``, working directory ``notebooks/``, a wall-clock budget per notebook), so the
committed notebook carries its outputs.

Two editions come from one source, with nbgrader's markers:

* the teacher edition, ``notebooks/NN_name.ipynb``: the source as it is, solved and executed.
  A code cell holding ``### BEGIN SOLUTION`` / ``### END SOLUTION`` carries nbgrader's
  metadata of a solution cell; one holding ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN
  TESTS`` (the exercise's check, asserting ``.ok``) that of a graded, locked test cell worth
  one point, so ``nbgrader generate_assignment`` takes the notebook as it is;
* the student edition, ``notebooks/ejercicios/NN_name.ipynb`` (:func:`student`): each solution
  replaced by ``# TU CÓDIGO AQUÍ`` and ``raise NotImplementedError()`` at the solution's
  indentation, each hidden test removed, no outputs. It is written, not executed (a student
  runs it); the tests execute it.

Usage, from the repository root::

    AENUMPY_DATA=/path/to/data .venv/bin/python notebooks/_build.py          # all
    AENUMPY_DATA=/path/to/data .venv/bin/python notebooks/_build.py 01 02    # some
    .venv/bin/python notebooks/_build.py --no-execute     # parse and validate, write nothing
    .venv/bin/python notebooks/_build.py --student 01     # only the student edition (no kernel)
"""
from __future__ import annotations

import os
import re
import resource
import sys
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent


sys.path.insert(0, str(HERE))   # _execute.py lies beside this file (also when the tests load it)
import _execute  # noqa: E402
SRC = HERE / "src"
STUDENT = HERE / "ejercicios"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_TESTS, END_TESTS = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB = ("# TU CÓDIGO AQUÍ", "raise NotImplementedError()")
KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def parse(path) -> list[tuple[str, str]]:
    """The cells of a percent-format source: a list of ``(kind, text)``,
    ``kind`` being ``"code"`` or ``"markdown"``. Text before the first marker is ignored."""
    cells, kind, lines = [], None, []

    def flush():
        if kind is None:
            return
        text = "\n".join(lines).strip("\n")
        if text.strip():
            cells.append((kind, text))

    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^# %%(.*)$", line)
        if m:
            flush()
            kind, lines = ("markdown" if "[markdown]" in m.group(1) else "code"), []
            continue
        if kind == "markdown":
            if line.startswith("# "):
                line = line[2:]
            elif line.strip() == "#":
                line = ""
        lines.append(line)
    flush()
    return cells


def _regions(text, begin, end):
    """``(start, stop)`` line indices of each ``begin`` … ``end`` region (markers included);
    a marker out of order is a ValueError naming the line."""
    out, start = [], None
    for i, line in enumerate(text.splitlines()):
        if line.strip() == begin:
            if start is not None:
                raise ValueError(f"{begin!r} twice without {end!r}: line {i + 1} of\n{text}")
            start = i
        elif line.strip() == end:
            if start is None:
                raise ValueError(f"{end!r} without {begin!r}: line {i + 1} of\n{text}")
            out.append((start, i))
            start = None
    if start is not None:
        raise ValueError(f"{begin!r} without {end!r} in\n{text}")
    return out


def _nbgrader(cell, grade_id):
    """nbgrader's metadata for a solution cell or a hidden-tests cell (None for the others)."""
    if _regions(cell.source, BEGIN, END):
        return {"grade": False, "solution": True, "locked": False, "task": False,
                "grade_id": f"{grade_id}-solucion", "schema_version": 3}
    if _regions(cell.source, BEGIN_TESTS, END_TESTS):
        return {"grade": True, "solution": False, "locked": True, "task": False, "points": 1,
                "grade_id": f"{grade_id}-comprobacion", "schema_version": 3}
    return None


def build(path) -> nbformat.NotebookNode:
    """A notebook (no outputs) from a source file: the teacher edition, with nbgrader's
    metadata on the cells holding a solution or hidden tests."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, text) in enumerate(parse(path)):
        cell = (nbformat.v4.new_markdown_cell(text) if kind == "markdown"
                else nbformat.v4.new_code_cell(text))
        cell["id"] = f"cell-{i:02d}"  # stable ids: rebuilding gives the same file
        meta = _nbgrader(cell, cell["id"]) if kind == "code" else None
        if meta:
            cell.metadata["nbgrader"] = meta
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def strip_solutions(text) -> str:
    """A code cell's text as the student sees it: every solution region replaced by the stub at
    the indentation of its ``### BEGIN SOLUTION`` line, every hidden-tests region removed."""
    lines = text.splitlines()
    cut = {s: ("stub", e) for s, e in _regions(text, BEGIN, END)}
    cut.update({s: ("drop", e) for s, e in _regions(text, BEGIN_TESTS, END_TESTS)})
    out, i = [], 0
    while i < len(lines):
        if i in cut:
            what, stop = cut[i]
            if what == "stub":
                indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
                out += [indent + line for line in STUB]
            i = stop + 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out).rstrip("\n")


def student(path) -> nbformat.NotebookNode:
    """The student edition of a source: :func:`build` with every solution replaced by the stub
    and every hidden test removed; no outputs, no nbgrader metadata."""
    nb = build(path)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
    nbformat.validate(nb)
    return nb


def execute(nb, name="notebook", budget=None, idle=None):
    """Run every cell in a fresh ``python3`` kernel with ``notebooks/`` as working directory,
    stopped if it stalls or passes its wall-clock budget (see ``_execute.run``); returns the
    executed notebook."""
    return _execute.run(nb, name=name, budget=budget, idle=idle)


def _children_cpu():
    """User + system CPU seconds of finished child processes (the kernels)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def sources(selected=()):
    files = sorted(SRC.glob("[0-9][0-9]_*.py"))
    if selected:
        files = [f for f in files if any(f.name.startswith(s) for s in selected)]
    return files


def main(argv):
    run = "--no-execute" not in argv
    only_student = "--student" in argv
    selected = [a for a in argv if not a.startswith("--")]
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend, so figures are kept
    for src in sources(selected):
        ed = student(src)
        if run:
            STUDENT.mkdir(exist_ok=True)
            nbformat.write(ed, STUDENT / (src.stem + ".ipynb"))
        print(f"ejercicios/{src.stem}.ipynb: {len(ed.cells)} cells, "
              f"{sum(c.source.count(STUB[1]) for c in ed.cells if c.cell_type == 'code')} blanks")
        if only_student:
            continue
        nb = build(src)
        t0 = time.perf_counter()
        cpu0 = _children_cpu()
        out = HERE / (src.stem + ".ipynb")
        if run:                 # --no-execute only parses and validates: it never overwrites
            nb = execute(nb, name=src.stem)     # an executed notebook with an empty one
            nbformat.write(nb, out)
        print(f"{out.name}: {len(nb.cells)} cells"
              + (f", executed in {time.perf_counter() - t0:.1f} s wall, "
                 f"{_children_cpu() - cpu0:.1f} s CPU in the kernel" if run else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
