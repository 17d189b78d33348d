"""Execute a notebook headless, within a hard wall-clock budget.

Two rules keep an executed notebook from ever hanging the build or the tests:

* **No widget front end is mimicked.** nbclient answers an ``ipywidgets.Output`` widget
  (``interact`` draws into one) by sending ``comm_msg`` state updates on the kernel's
  *shell* socket from the task that reads IOPub, while another task waits on that same
  socket for the cell's ``execute_reply``. ZeroMQ signals readiness on an edge-triggered
  file descriptor, so that send can swallow the wake-up of the waiting read: the reply
  sits unread until the read's timeout (the whole cell timeout, 600 s) ends the wait,
  and then the cell "succeeds" late (jupyter/nbclient#312). With 8 ``interact`` cells,
  5 runs in 10 stalled this way. :class:`HeadlessClient` opens no widget mimic, so
  nothing but nbclient's own requests is ever sent on the shell socket.
* **A budget for the whole notebook, outside the event loop.** :func:`run` executes
  the notebook in a child process and watches it from outside. It kills the kernel's
  process group and the child, and :class:`NotebookTimeout` names the notebook and the
  cell that was running, when the kernel has used no CPU for :data:`IDLE` seconds while
  a cell runs (a stall: nothing computes, nothing will), or when the whole notebook
  passes its wall-clock :data:`BUDGET` (a machine so loaded, or a cell so slow, that
  waiting longer helps nobody). A stall is a failure in minutes, never a hang, whatever
  its cause; a slow machine is not a stall.

Usage (what ``notebooks/_build.py`` and ``tests/test_notebooks.py`` do)::

    nb = run(nb, name="09_dinamica_del_entrenamiento", budget=300)

The child is this file run as a script: ``python _execute.py IN OUT PROGRESS``.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
#: seconds a notebook may take, all cells together (the slowest takes about 35 s on 2 quiet
#: cores, and 10 times that on a machine running three other jobs)
BUDGET = 900.0
#: seconds the kernel (with anything it started) may go without using the CPU during a cell
IDLE = 120.0
POLL = 2.0


class NotebookTimeout(RuntimeError):
    """A notebook did not finish within its wall-clock budget."""


class NotebookFailed(RuntimeError):
    """A notebook raised in a cell, or its kernel died."""


class HeadlessClient(NotebookClient):
    """nbclient without a widget front end: widget comms open nothing on this side.

    The kernel still builds its widgets; their views are recorded as outputs, and what an
    ``Output`` widget captures is recorded as the cell's own output.
    """

    def on_comm_open_jupyter_widget(self, msg):
        return None


def _client(nb, timeout, on_cell_start=None):
    return HeadlessClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                          on_cell_start=on_cell_start,
                          resources={"metadata": {"path": str(HERE)}})


def _child(path_in, path_out, progress):
    """Run in the child process: execute, write the result, log each cell as it starts."""
    nb = nbformat.read(path_in, as_version=4)
    client = _client(nb, timeout=None)

    def started(cell, cell_index):
        prov = getattr(client.km, "provisioner", None)
        pid = getattr(getattr(prov, "process", None), "pid", None)
        with open(progress, "a", encoding="utf-8") as f:
            f.write(json.dumps({"cell": cell_index, "kernel_pid": pid}) + "\n")

    client.on_cell_start = started
    try:
        client.execute()
    except Exception as e:          # the parent reports it with the notebook's name
        with open(progress, "a", encoding="utf-8") as f:
            text = re.sub(r"\x1b\[[0-9;]*m", "", f"{type(e).__name__}: {e}")   # no colours
            f.write(json.dumps({"error": text}) + "\n")
        return 1
    nbformat.write(nb, path_out)
    return 0


def _last_progress(progress):
    lines = Path(progress).read_text(encoding="utf-8").splitlines() if Path(progress).exists() else []
    return json.loads(lines[-1]) if lines else {}


def _session_cpu(leader):
    """CPU seconds used so far by every process of the session ``leader`` leads (the kernel
    and whatever it started), read from ``/proc``; None where ``/proc`` does not tell."""
    total, found = 0, False
    try:
        pids = [d for d in os.listdir("/proc") if d.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) "
        if int(fields[3]) == leader:                   # field 6, the session id
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
            found = True
    return total / os.sysconf("SC_CLK_TCK") if found else None


def _kill(pid):
    """SIGKILL a process group (the kernel leads its own session) or a process."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
            return
        except (ProcessLookupError, PermissionError, OSError):
            continue


class _Watch:
    """What the parent sees of the child: the cell running, the kernel, its CPU."""

    def __init__(self, progress, budget, idle):
        self.progress, self.budget, self.idle = progress, budget, idle
        self.start = self.changed = time.monotonic()
        self.cpu = None

    def verdict(self):
        """Why the notebook must be stopped now, or None."""
        now = time.monotonic()
        if now - self.start > self.budget:
            return f"not finished after its budget of {self.budget:.0f} s"
        pid = _last_progress(self.progress).get("kernel_pid")
        cpu = _session_cpu(pid) if pid else None
        if cpu is None or cpu != self.cpu:
            self.cpu, self.changed = cpu, now
        elif now - self.changed > self.idle:
            return f"stalled: its kernel used no CPU for {self.idle:.0f} s"
        return None


def run(nb, name="notebook", budget=None, idle=None):
    """Execute ``nb`` (cells run in order, ``notebooks/`` as working directory) in a child
    process and return it with its outputs.

    Raises :class:`NotebookTimeout`, naming the cell that was running, when the kernel
    uses no CPU for ``idle`` seconds during a cell (default ``$AENUMPY_NOTEBOOK_IDLE`` or
    :data:`IDLE`) or the notebook passes ``budget`` seconds (``$AENUMPY_NOTEBOOK_BUDGET`` or
    :data:`BUDGET`); :class:`NotebookFailed` when a cell raises. The environment
    (``AENUMPY_DATA``, ``MPLBACKEND``) is passed on to the kernel.
    """
    budget = float(budget or os.environ.get("AENUMPY_NOTEBOOK_BUDGET") or BUDGET)
    idle = float(idle or os.environ.get("AENUMPY_NOTEBOOK_IDLE") or IDLE)
    with tempfile.TemporaryDirectory(prefix="aenumpy-nb-") as tmp:
        path_in, path_out, progress, log = (str(Path(tmp) / f) for f in (
            "in.ipynb", "out.ipynb", "progress.jsonl", "child.log"))
        nbformat.write(nb, path_in)
        with open(log, "w") as out:   # a file, not a pipe: nothing can block on a full pipe
            child = subprocess.Popen([sys.executable, __file__, path_in, path_out, progress],
                                     stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        watch = _Watch(progress, budget, idle)
        while True:
            try:
                child.wait(timeout=POLL)
                break
            except subprocess.TimeoutExpired:
                why = watch.verdict()
            if why is not None:
                where = _last_progress(progress)
                if where.get("kernel_pid"):
                    _kill(where["kernel_pid"])
                _kill(child.pid)
                child.wait()
                cell = where.get("cell")
                source = nb.cells[cell].source if cell is not None else ""
                raise NotebookTimeout(f"{name}: {why}; the kernel was killed while cell {cell} "
                                      f"was running:\n{source[:400]}")
        if child.returncode != 0:
            why = _last_progress(progress).get("error") or Path(log).read_text()[-4000:]
            raise NotebookFailed(f"{name}: {why}")
        return nbformat.read(path_out, as_version=4)


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:4]))
