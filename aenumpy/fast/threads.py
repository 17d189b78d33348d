"""How many threads the kernels run on: the process's CPU budget, fewer while other work
keeps them from running.

**The budget** is what the process may use: ``AENUMPY_THREADS`` when it is set (the
command line's ``--threads`` sets it), else the CPUs it may run on
(``os.sched_getaffinity``), fewer under its control group's CPU quota (cgroup v2
``cpu.max``, v1 ``cpu.cfs_quota_us ÷ cpu.cfs_period_us``; a quota of 1.5 CPUs rounds
to 2, of 1.2 to 1).

**Fewer while the machine is busy.** The kernels' threads split each parallel region
evenly and wait for one another at its end, spinning. On a quiet machine that keeps
the next region's start instant. But when another process holds a core, the thread
there runs only when the scheduler gives it a time slice, and every region waits for
it: a step that takes 2 ms takes 100. The scheduler says how long this process's
threads have waited, runnable, for a CPU (``run_delay`` in
``/proc/self/task/*/schedstat``). :func:`poll`, run before each parallel kernel and at
each training step's gather, looks at it every :data:`INTERVAL` seconds
(:class:`Governor`):

* threads that waited :data:`WAIT_LIMIT` of the time or more (summed over threads):
  one thread fewer, down to one;
* fewer threads than the budget and a CPU idle at least :data:`IDLE_LIMIT` of the
  time (``/proc/stat``, the CPUs of the affinity set): one more;
* fewer threads than the budget and no idle CPU (busy, but perhaps with work of lower
  priority that would give way): one more now and then, on trial for
  :data:`TRIAL` seconds; kept if the threads did not wait, else dropped again, and the
  next trial comes twice as late (from :data:`BACKOFF` up to :data:`BACKOFF_MAX` s).

NumPy's OpenBLAS follows the count (its threads spin too). ``AENUMPY_ADAPT_THREADS=0``
keeps the budget whatever the load (to measure what adapting saves). Where the system
does not report waiting (no ``schedstat``: macOS, Windows), the count is the budget.
"""
from __future__ import annotations

import contextlib
import math
import os
import time

from ..backend import env_on

#: the variable that sets the budget (a whole number, at least 1)
ENV = "AENUMPY_THREADS"
#: seconds between two looks at the threads' waiting
INTERVAL = 0.25
#: seconds a trial of one more thread lasts before it is judged
TRIAL = 0.05
#: threads waiting for a CPU, on average over a look's window, that cost a thread
WAIT_LIMIT = 0.5
#: CPUs standing idle, on average over a look's window, that add a thread
IDLE_LIMIT = 0.5
#: seconds before the first trial after a thread was dropped, and the longest wait
BACKOFF, BACKOFF_MAX = 1.0, 16.0
STAT = "/proc/stat"
TASKS = "/proc/self/task"
CGROUP_ROOT = "/sys/fs/cgroup"


def requested(environ=None):
    """The thread count ``AENUMPY_THREADS`` asks for, or None when it is not set.

    Raises ValueError when it is not a whole number of at least 1."""
    environ = os.environ if environ is None else environ
    raw = environ.get(ENV, "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV} must be a whole number of threads, at least 1; got {raw!r}")
    return n


def affinity():
    """The CPUs this process may run on (``os.sched_getaffinity``; every CPU where the
    system has no such call)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _up(root, path):
    """``root/path``, then each parent of it up to ``root`` itself."""
    parts = [p for p in path.strip("/").split("/") if p and p != ".."]
    for i in range(len(parts), -1, -1):
        yield os.path.join(root, *parts[:i])


def quota(root=CGROUP_ROOT, cgroup_file="/proc/self/cgroup"):
    """CPUs per period the process's control group may use (its CPU quota ÷ its period,
    the smallest along the group's path; cgroup v2 or v1), or None without a quota."""
    limits = []
    for line in (_read(cgroup_file) or "").splitlines():
        hid, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hid == "0" and controllers == "":  # cgroup v2
            for d in _up(root, path):
                fields = (_read(os.path.join(d, "cpu.max")) or "").split()
                if len(fields) == 2 and fields[0] != "max" and int(fields[1]) > 0:
                    limits.append(int(fields[0]) / int(fields[1]))
        elif "cpu" in controllers.split(","):  # cgroup v1
            for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
                for d in _up(os.path.join(root, mount), path):
                    q = _read(os.path.join(d, "cpu.cfs_quota_us"))
                    p = _read(os.path.join(d, "cpu.cfs_period_us"))
                    if q and p and int(q) > 0 and int(p) > 0:
                        limits.append(int(q) / int(p))
    return min(limits) if limits else None


def budget(environ=None, root=CGROUP_ROOT, cgroup_file="/proc/self/cgroup"):
    """The threads this process may use: ``AENUMPY_THREADS`` when set, else the CPUs of
    its affinity set, fewer under a cgroup CPU quota (rounded to the nearest whole CPU,
    at least 1)."""
    n = requested(environ)
    if n is not None:
        return n
    n = len(affinity())
    q = quota(root, cgroup_file)
    if q is not None:
        n = min(n, max(1, math.floor(q + 0.5)))
    return max(1, n)


def idle_seconds(cpus, path=STAT):
    """Seconds the CPUs ``cpus`` have stood idle since boot (``/proc/stat``: idle and
    iowait), or None where that cannot be read."""
    text = _read(path)
    if text is None:
        return None
    want = {f"cpu{c}" for c in cpus}
    total, seen = 0, 0
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in want and len(fields) > 5:
            total += int(fields[4]) + int(fields[5])
            seen += 1
    return total / os.sysconf("SC_CLK_TCK") if seen == len(want) else None


def waiting_seconds(tasks=TASKS):
    """Seconds this process's threads have spent runnable but waiting for a CPU, summed
    over the threads alive now (the scheduler's ``run_delay``), or None where the system
    does not report it."""
    try:
        names = os.listdir(tasks)
    except OSError:
        return None
    total, seen = 0, 0
    for name in names:
        fields = (_read(os.path.join(tasks, name, "schedstat")) or "").split()
        if len(fields) >= 2:
            total += int(fields[1])
            seen += 1
    return total / 1e9 if seen else None


class Governor:
    """The thread count, from what the scheduler reports (the rules in the module
    docstring). :meth:`update` takes one look: the time, the CPUs' idle seconds and the
    threads' waiting seconds, each a running total; it returns the seconds until the
    next look should be taken."""

    def __init__(self, most):
        self.most = most
        self.count = most
        self.last = None
        self.trial = False
        self.backoff = BACKOFF
        self.next_trial = 0.0

    def update(self, now, idle, waiting):
        last, self.last = self.last, (now, idle, waiting)
        if last is None:
            return TRIAL
        window = now - last[0]
        if window <= 0:
            return INTERVAL
        waited = max(0.0, waiting - last[2]) / window  # threads waiting, on average
        idled = max(0.0, idle - last[1]) / window      # CPUs idle, on average
        if self.trial:
            self.trial = False
            if waited >= WAIT_LIMIT:
                self.count -= 1
                self.backoff = min(2 * self.backoff, BACKOFF_MAX)
                self.next_trial = now + self.backoff
            else:
                self.backoff = BACKOFF
        elif waited >= WAIT_LIMIT and self.count > 1:
            self.count -= 1
            self.next_trial = now + self.backoff
        elif self.count < self.most and (idled >= IDLE_LIMIT or now >= self.next_trial):
            self.count += 1
            self.trial = True
        return TRIAL if self.trial else INTERVAL


_state: dict = {}


def _look():
    return time.monotonic(), idle_seconds(_state["cpus"]), waiting_seconds()


def _setup(most=None):
    _state["budget"] = budget() if most is None else most
    _state["cpus"] = affinity()
    _state["governor"] = None
    _state["next"] = math.inf
    if env_on("AENUMPY_ADAPT_THREADS"):
        now, idle, waiting = _look()
        if idle is not None and waiting is not None:
            _state["governor"] = Governor(_state["budget"])
            _state["next"] = now + _state["governor"].update(now, idle, waiting)
    _state["count"] = _state["budget"]
    _follow(_state["count"])


def _follow(n):
    """NumPy's OpenBLAS to ``n`` threads too (when it is NumPy's BLAS)."""
    from .openblas import set_blas_threads

    set_blas_threads(n)


def most():
    """The process's budget (:func:`budget`), read once: the most :func:`current` gives."""
    if not _state:
        _setup()
    return _state["budget"]


def current():
    """The thread count now: the budget, fewer while the machine is busy (:func:`poll`)."""
    if not _state:
        _setup()
    return _state["count"]


def poll():
    """Take a look (:class:`Governor`) when the time for one has come; the count."""
    if not _state:
        _setup()
    now = time.monotonic()
    if now < _state["next"]:
        return _state["count"]
    now, idle, waiting = _look()
    gov = _state["governor"]
    if idle is None or waiting is None:
        _state["next"] = now + INTERVAL
        return _state["count"]
    _state["next"] = now + gov.update(now, idle, waiting)
    if gov.count != _state["count"]:
        _state["count"] = gov.count
        _follow(gov.count)
    return gov.count


@contextlib.contextmanager
def limited(n: int):
    """Run the body with a budget of ``n`` threads instead of :func:`budget`'s (the
    command line's ``--threads``); fewer still while the machine is busy."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the thread count must be a whole number, at least 1; got {n!r}")
    old = dict(_state)
    _state.clear()
    _setup(n)
    try:
        yield
    finally:
        _state.clear()
        _state.update(old)
        if old:
            _follow(old["count"])


@contextlib.contextmanager
def holding(n: int):
    """Run the body on ``n`` threads whatever the load (tests use it to run a kernel on
    one thread and on several)."""
    if not _state:
        _setup()
    old = _state["count"], _state["next"]
    _state["count"], _state["next"] = n, math.inf
    _follow(n)
    try:
        yield
    finally:
        _state["count"], _state["next"] = old
        _follow(old[0])


def reset():
    """Forget the budget and the load (the next call reads them again)."""
    _state.clear()
