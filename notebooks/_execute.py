"""Execute a notebook headless, within a hard wall-clock budget.

Three rules keep an executed notebook from ever hanging the build or the tests:

* **No widget front end is mimicked.** nbclient answers an ``ipywidgets.Output`` widget
  (``interact`` draws into one) by sending ``comm_msg`` state updates on the kernel's
  *shell* socket from the task that reads IOPub, while another task waits on that same
  socket for the cell's ``execute_reply``. ZeroMQ signals readiness on an edge-triggered
  file descriptor, so that send can swallow the wake-up of the waiting read: the reply
  sits unread until the read's timeout (the whole cell timeout, 600 s) ends the wait,
  and then the cell "succeeds" late (jupyter/nbclient#312). With 8 ``interact`` cells,
  5 runs in 10 stalled this way. :class:`HeadlessClient` opens no widget mimic, so
  nothing but nbclient's own requests is ever sent on the shell socket.
* **No wait on an edge alone.** Whatever swallows a wake-up, the channels wait in steps
  of :data:`STEP` seconds, each step reading the socket's actual state
  (:func:`level_checked`): a lost wake-up costs a second. With the widget mimic kept and
  12 ``interact`` cells, 2 runs in 3 stalled without the steps, 0 in 6 with them.
* **A budget for the whole notebook, outside the event loop.** :func:`run` executes
  the notebook in a child process and watches it from outside. It kills the kernel's
  process group and the child, and :class:`NotebookTimeout` names the notebook and the
  cell that was running, when the kernel has computed nothing (under :data:`IDLE_SHARE`
  of a CPU) for :data:`IDLE` seconds while a cell runs (a stall: nothing computes,
  nothing will), or when the whole notebook
  passes its wall-clock :data:`BUDGET` (a machine so loaded, or a cell so slow, that
  waiting longer helps nobody). A stall is a failure in minutes, never a hang, whatever
  its cause; a slow machine is not a stall. The message says how long each cell took, the
  kernel's CPU time, the CPU time the hypervisor took from the machine meanwhile, and
  every thread's stack (``py-spy dump --native``, from the dev extras, else gdb): enough to
  tell a cell that spins from a machine that is slow.

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
from queue import Empty

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
#: seconds a notebook may take, all cells together (the slowest takes about 35 s on 2 quiet
#: cores, and 10 times that on a machine running three other jobs)
BUDGET = 900.0
#: seconds the kernel (with anything it started) may go without computing during a cell
IDLE = 120.0
#: the share of one CPU below which a kernel is not computing (an idle kernel's own threads
#: use about 0.02 %: one 10 ms clock tick a minute or so)
IDLE_SHARE = 0.01
#: seconds a channel's wait lasts before the socket is looked at again (:func:`level_checked`)
STEP = 1.0
POLL = 2.0


class NotebookTimeout(RuntimeError):
    """A notebook did not finish within its wall-clock budget."""


class NotebookFailed(RuntimeError):
    """A notebook raised in a cell, or its kernel died."""


def level_checked(get_msg, every=None):
    """``get_msg`` of a kernel client's channel, waiting at most ``every`` seconds at a time.

    A channel's ``get_msg`` waits on its socket's ZeroMQ file descriptor, which signals
    readiness on an edge: if the edge is consumed elsewhere (a send on the same socket does
    that), a message already queued wakes nobody, and ``get_msg(timeout=None)`` waits for
    ever beside it. Each new wait first reads the socket's actual state (``EVENTS``), so
    waiting in steps of ``every`` seconds finds such a message within a step: a lost
    wake-up costs one step, never a stall. The whole ``timeout``, when one is given, is kept.
    """
    every = STEP if every is None else every

    async def get(timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            step = every if end is None else min(every, max(0.0, end - time.monotonic()))
            try:
                return await get_msg(timeout=step)
            except Empty:
                if end is not None and time.monotonic() >= end:
                    raise

    return get


class LevelCheckedClient(NotebookClient):
    """nbclient whose shell and IOPub channels wait in steps (:func:`level_checked`)."""

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            channel.get_msg = level_checked(channel.get_msg)
        return kc


class HeadlessClient(LevelCheckedClient):
    """nbclient without a widget front end: widget comms open nothing on this side, and the
    channels wait in steps (:class:`LevelCheckedClient`).

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
            f.write(json.dumps({"cell": cell_index, "kernel_pid": pid, "t": time.monotonic()})
                    + "\n")

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


def _progress(progress):
    """The child's log: one entry per cell started (then an error, if one was raised). A
    line the child is still writing is left out."""
    lines = Path(progress).read_text(encoding="utf-8").splitlines() if Path(progress).exists() else []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def _last_progress(progress):
    entries = _progress(progress)
    return entries[-1] if entries else {}


def _steal_seconds():
    """Seconds the hypervisor ran something else while this machine's CPUs had work
    (``steal`` in ``/proc/stat``), or None where that is not reported."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _stacks(pid, limit=6000):
    """What every thread of process ``pid`` was doing: ``py-spy dump --native`` (Python and
    C frames) where py-spy is installed, else gdb's backtraces, else nothing. Taken before
    the kernel is killed, so that a notebook stopped for its budget says where it spun."""
    beside = Path(sys.executable).parent / "py-spy"       # the venv's, when not on PATH
    spy = str(beside) if beside.exists() else "py-spy"
    for cmd in ([spy, "dump", "--native", "--pid", str(pid)],
                ["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 30"]):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                                 stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = (out.stdout or "") + (out.stderr or "")
        if out.returncode == 0 and text.strip():
            text = text if len(text) <= limit else text[:limit] + "\n[…]"
            return f"{Path(cmd[0]).name} of the kernel (pid {pid}) before it was killed:\n{text}"
    return ""


def _report(nb, name, why, watch, progress):
    """The message of a stopped notebook: why, the cell, how long each cell took, the
    kernel's CPU, the time stolen from the machine, and the kernel's stacks."""
    entries = [e for e in _progress(progress) if "cell" in e]
    where = entries[-1] if entries else {}
    cell = where.get("cell")
    source = nb.cells[cell].source if cell is not None else ""
    now = time.monotonic()
    took = [(b["t"] - a["t"], a["cell"]) for a, b in zip(entries, entries[1:] + [{"t": now}])
            if "t" in a and "t" in b]
    slow = ", ".join(f"cell {c} {t:.0f} s" for t, c in sorted(took, reverse=True)[:3])
    lines = [f"{name}: {why}; the kernel was killed while cell {cell} was running:",
             source[:400], f"slowest cells: {slow or 'unknown'}"]
    cpu = _session_cpu(where["kernel_pid"]) if where.get("kernel_pid") else None
    if cpu is not None:
        lines.append(f"kernel CPU: {cpu:.0f} s in {now - watch.start:.0f} s")
    steal = _steal_seconds()
    if steal is not None and watch.steal is not None:
        lines.append(f"CPU time stolen by the hypervisor meanwhile: {steal - watch.steal:.0f} s")
    if where.get("kernel_pid"):
        lines.append(_stacks(where["kernel_pid"]))
    return "\n".join(line for line in lines if line)


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


def _gone(pid):
    """Has process ``pid`` ended (no longer in ``/proc``, or a zombie awaiting its parent)?"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status or "\nState:\tX" in status


def _kill(pid, wait=30.0):
    """SIGKILL a process group (the kernel leads its own session) or a process, then wait
    until it has ended: SIGKILL is delivered at once, but a process that was running takes a
    moment to release its memory and go."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
            break
        except (ProcessLookupError, PermissionError, OSError):
            continue
    end = time.monotonic() + wait
    while not _gone(pid) and time.monotonic() < end:
        time.sleep(0.05)


class _Watch:
    """What the parent sees of the child: the cell running, the kernel, its CPU."""

    def __init__(self, progress, budget, idle):
        self.progress, self.budget, self.idle = progress, budget, idle
        self.start = time.monotonic()
        self.samples = []          # (time, kernel CPU seconds) of the last `idle` seconds
        self.pid = None
        self.steal = _steal_seconds()

    def verdict(self):
        """Why the notebook must be stopped now, or None: past the budget, or the kernel
        used less than :data:`IDLE_SHARE` of a CPU over the last ``idle`` seconds (not
        "no CPU at all": an idle kernel's own threads still tick now and then)."""
        now = time.monotonic()
        if now - self.start > self.budget:
            return f"not finished after its budget of {self.budget:.0f} s"
        pid = _last_progress(self.progress).get("kernel_pid")
        cpu = _session_cpu(pid) if pid else None
        if cpu is None or pid != self.pid:    # no kernel yet, or a new one
            self.samples, self.pid = [], pid
            return None
        self.samples.append((now, cpu))
        while len(self.samples) > 1 and now - self.samples[1][0] >= self.idle:
            self.samples.pop(0)
        t0, cpu0 = self.samples[0]
        if now - t0 >= self.idle and cpu - cpu0 < IDLE_SHARE * (now - t0):
            return (f"stalled: its kernel computed nothing for {now - t0:.0f} s "
                    f"({cpu - cpu0:.2f} s of CPU)")
        return None


def run(nb, name="notebook", budget=None, idle=None):
    """Execute ``nb`` (cells run in order, ``notebooks/`` as working directory) in a child
    process and return it with its outputs.

    Raises :class:`NotebookTimeout`, naming the cell that was running, when the kernel
    computes nothing for ``idle`` seconds during a cell (default ``$AENUMPY_NOTEBOOK_IDLE`` or
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
                message = _report(nb, name, why, watch, progress)
                where = _last_progress(progress)
                if where.get("kernel_pid"):
                    _kill(where["kernel_pid"])
                _kill(child.pid)
                child.wait()
                raise NotebookTimeout(message)
        if child.returncode != 0:
            why = _last_progress(progress).get("error") or Path(log).read_text()[-4000:]
            raise NotebookFailed(f"{name}: {why}")
        return nbformat.read(path_out, as_version=4)


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:4]))
