"""Build the course notebooks from their sources, execute them, and write the ``.ipynb``.

Each notebook has a source ``notebooks/src/NN_name.py`` written in the "percent"
format: a line ``# %%`` starts a code cell, a line ``# %% [markdown]`` starts a
text cell whose lines are comments (``# `` is stripped). The source is itself a
runnable Python script. This file turns it into ``notebooks/NN_name.ipynb`` with
nbformat and executes it with ``_execute.run`` (nbclient in a child process, kernel
``python3``, working directory ``notebooks/``, a wall-clock budget per notebook), so the
committed notebook carries its outputs.

Usage, from the repository root::

    AENUMPY_DATA=/path/to/data .venv/bin/python notebooks/_build.py          # all
    AENUMPY_DATA=/path/to/data .venv/bin/python notebooks/_build.py 01 02    # some
    .venv/bin/python notebooks/_build.py --no-execute     # parse and validate, write nothing
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


def build(path) -> nbformat.NotebookNode:
    """A notebook (no outputs) from a source file."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, text) in enumerate(parse(path)):
        cell = (nbformat.v4.new_markdown_cell(text) if kind == "markdown"
                else nbformat.v4.new_code_cell(text))
        cell["id"] = f"cell-{i:02d}"  # stable ids: rebuilding gives the same file
        nb.cells.append(cell)
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
    selected = [a for a in argv if not a.startswith("--")]
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend, so figures are kept
    for src in sources(selected):
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
