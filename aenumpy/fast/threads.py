"""How many threads the kernels run on: the process's CPU budget, fewer while other work
keeps them from running.

**The budget** is what the process may use: ``AENUMPY_THREADS`` when it is set (the
command line's ``--threads`` sets it), else the CPUs it may run on
(``os.sched_getaffinity``), fewer under its control group's CPU quota (cgroup v2
``cpu.max``, v1 ``cpu.cfs_quota_us ÷ cpu.cfs_period_us``; a quota of 1.5 CPUs rounds
to 2, of 1.2 to 1).

**Fewer while the machine is busy.** The kernels' threads split each parallel region
evenly and wait for one another at its end, spinning. On a quiet machine that keeps the
next region's start instant. But when another process holds a core, the thread there
runs only when the scheduler gives it a time slice, and every region waits for it: a
step that takes 2 ms takes 100. :func:`poll`, run before each parallel kernel and at each
training step's gather, takes a look every :data:`INTERVAL` seconds (:class:`Governor`):

* the scheduler says how long this process's threads waited, runnable, for a CPU
  (``run_delay`` in ``/proc/self/task/*/schedstat``). Threads that waited
  :data:`WAIT_LIMIT` of the time or more (summed over threads) start a trial of one
  thread fewer; a CPU idle :data:`IDLE_LIMIT` of the time or more (``/proc/stat``, the
  CPUs of the affinity set) starts a trial of one more, and so does, now and then, a
  count below the budget;
* a trial times the kernels for :data:`TRIAL` seconds (at least :data:`MIN_CALLS` calls)
  on the count they run on, then as long on the other, and keeps the other count if
  the same calls ran faster on it ("a two-thread step slower than a one-thread step
  means one thread"). Waiting alone does not decide: threads beside work of a lower
  priority wait too, yet run faster than fewer would. A trial that fails is tried again
  twice as late, from :data:`BACKOFF` up to :data:`BACKOFF_MAX` seconds.

The kernels' work is cut by the budget, not by the count running it
(:func:`._jit.kernel_threads`), so the numbers do not depend on the load. NumPy's
OpenBLAS follows the count (its threads spin too); where no kernel runs (NumPy's BLAS
alone), waiting decides the trials. ``AENUMPY_ADAPT_THREADS=0`` keeps the budget whatever
the load (to measure what adapting saves). Where the system does not report waiting (no
``schedstat``: macOS, Windows), the count is the budget.
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
#: seconds each half of a trial (the count now, then the other) is timed for, at least
TRIAL = 0.05
#: threads waiting for a CPU, on average over a look's window, that start a trial of
#: one thread fewer
WAIT_LIMIT = 0.25
#: CPUs standing idle, on average over a look's window, that start a trial of one more
IDLE_LIMIT = 0.5
#: kernel calls a timed window needs (unless it reaches MAX_WINDOW seconds first)
MIN_CALLS, MAX_WINDOW = 8, 0.5
#: seconds between trials in one direction (after a change, before trying straight back;
#: after a failed trial, twice the last wait), and the longest wait
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


def _merge(into, times):
    for key, (calls, seconds) in (times or {}).items():
        c, t = into.get(key, (0, 0.0))
        into[key] = (c + calls, t + seconds)


def faster(trial, base):
    """Did the kernels run faster in the ``trial`` window than in the ``base`` one? Each
    is ``{key: (calls, seconds)}``, a key being a kernel and its arguments' shapes; the
    trial's calls are set against what the same calls took in the base window. None when
    the windows share no call."""
    took = would = 0.0
    for key, (calls, seconds) in trial.items():
        if key in base:
            took += seconds
            would += calls * base[key][1] / base[key][0]
    return None if would == 0.0 else took < would


def _calls(times, among=None):
    return sum(c for k, (c, _) in times.items() if among is None or k in among)


class Governor:
    """The thread count, from what the scheduler reports and what the kernels took (the
    rules in the module docstring). :meth:`update` takes one look: the time, the CPUs'
    idle seconds and the threads' waiting seconds (running totals), and the kernels'
    ``{key: (calls, seconds)}`` since the last look while :attr:`timing` asked for them;
    it returns the seconds until the next look."""

    def __init__(self, most):
        self.most = most
        self.count = most
        self.last = None         # (time, idle, waiting) at the last look
        self.phase = "steady"    # or "base": timing this count; "trial": timing the next
        self.other = most        # the count to try (in "base"), or to go back to ("trial")
        self.base, self.tried, self.since = {}, {}, 0.0
        self.backoff = {-1: BACKOFF, 1: BACKOFF}
        self.not_before = {-1: 0.0, 1: 0.0}  # no trial in that direction before then

    @property
    def timing(self):
        """Should the kernels' times be recorded now (a trial is being judged)?"""
        return self.phase != "steady"

    def update(self, now, idle, waiting, times=None):
        last, self.last = self.last, (now, idle, waiting)
        if last is None or now <= last[0]:
            return TRIAL
        window = now - last[0]
        waited = max(0.0, waiting - last[2]) / window  # threads waiting, on average
        idled = max(0.0, idle - last[1]) / window      # CPUs idle, on average
        if self.phase == "steady":
            step = 0
            if self.count > 1 and waited >= WAIT_LIMIT and now >= self.not_before[-1]:
                step = -1
            elif self.count < self.most and (idled >= IDLE_LIMIT or now >= self.not_before[1]):
                step = 1
            if not step:
                return INTERVAL
            self.phase, self.other, self.base, self.since = "base", self.count + step, {}, now
            return TRIAL
        if self.phase == "base":
            _merge(self.base, times)
            if _calls(self.base) < MIN_CALLS and now - self.since < MAX_WINDOW:
                return TRIAL
            self.phase, self.tried, self.since = "trial", {}, now
            self.count, self.other = self.other, self.count
            return TRIAL
        _merge(self.tried, times)
        if _calls(self.tried, self.base) < MIN_CALLS and now - self.since < MAX_WINDOW:
            return TRIAL
        step = self.count - self.other
        keep = faster(self.tried, self.base)
        if keep is None:  # no kernel ran (NumPy's BLAS alone): fewer threads when they
            keep = step < 0 or waited < WAIT_LIMIT  # waited; more when they then do not
        if keep:
            self.backoff[step] = BACKOFF
            self.not_before[-step] = now + self.backoff[-step]
        else:
            self.count = self.other
            self.backoff[step] = min(2 * self.backoff[step], BACKOFF_MAX)
            self.not_before[step] = now + self.backoff[step]
        self.phase = "steady"
        return INTERVAL


_state: dict = {}


def _look():
    return time.monotonic(), idle_seconds(_state["cpus"]), waiting_seconds()


def _setup(most=None):
    _state["budget"] = budget() if most is None else most
    _state["cpus"] = affinity()
    _state["governor"] = None
    _state["next"] = math.inf
    _state["times"], _state["timing"] = {}, False
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
    times, _state["times"] = _state["times"], {}
    _state["next"] = now + gov.update(now, idle, waiting, times)
    _state["timing"] = gov.timing
    if gov.count != _state["count"]:
        _state["count"] = gov.count
        _follow(gov.count)
    return gov.count


def timing():
    """Should :func:`record` be told what each kernel took (a trial is being judged)?"""
    return _state.get("timing", False)


def record(key, seconds):
    """One kernel call (``key``: the kernel and its arguments' shapes) took ``seconds``."""
    times = _state["times"]
    calls, total = times.get(key, (0, 0.0))
    times[key] = (calls + 1, total + seconds)


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
        _follow(old["count"] if old else budget())


@contextlib.contextmanager
def holding(n: int):
    """Run the body on ``n`` threads whatever the load (tests use it to run a kernel on
    one thread and on several)."""
    if not _state:
        _setup()
    old = _state["count"], _state["next"], _state["timing"]
    _state["count"], _state["next"], _state["timing"] = n, math.inf, False
    _follow(n)
    try:
        yield
    finally:
        _state["count"], _state["next"], _state["timing"] = old
        _follow(old[0])


def reset():
    """Forget the budget and the load (the next call reads them again)."""
    _state.clear()
