"""The kernels' thread count (aenumpy/fast/threads.py): the process's CPU budget
(AENUMPY_THREADS, the affinity set, a cgroup quota, the command line's --threads), the
governor that takes threads away while they wait for a CPU and gives them back, and
that the numbers of a training step do not depend on how many threads ran it."""
import os
import subprocess
import sys

import numpy as np
import pytest

import aenumpy as ae
from aenumpy import cli
from aenumpy.fast import _jit, openblas, threads


# ---------------------------------------------------------------- the budget
@pytest.mark.parametrize("raw, n", [(None, None), ("", None), ("1", 1), (" 3 ", 3)])
def test_aenumpy_threads_is_read(raw, n):
    env = {} if raw is None else {"AENUMPY_THREADS": raw}
    assert threads.requested(env) == n


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_a_bad_aenumpy_threads_says_what_it_wants(raw):
    with pytest.raises(ValueError, match="AENUMPY_THREADS must be a whole number.*at least 1"):
        threads.requested({"AENUMPY_THREADS": raw})


def test_the_budget_is_the_affinity_set_without_quota_or_variable(tmp_path):
    cg = tmp_path / "cgroup"
    cg.write_text("0::/\n")
    assert threads.budget({}, root=str(tmp_path), cgroup_file=str(cg)) == len(threads.affinity())
    assert threads.affinity() == sorted(os.sched_getaffinity(0))


def _v2(tmp_path, limits):
    """A cgroup v2 tree under tmp_path: the process in /a/b, ``limits`` {dir: cpu.max}."""
    for d, text in limits.items():
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
        (tmp_path / d / "cpu.max").write_text(text + "\n")
    cg = tmp_path / "proc-cgroup"
    cg.write_text("0::/a/b\n")
    return str(tmp_path), str(cg)


def test_a_cgroup_v2_quota_is_the_smallest_along_the_path(tmp_path):
    root, cg = _v2(tmp_path, {"a/b": "max 100000", "a": "150000 100000", ".": "400000 100000"})
    assert threads.quota(root, cg) == 1.5
    root, cg = _v2(tmp_path / "none", {"a/b": "max 100000"})
    assert threads.quota(root, cg) is None


def test_a_cgroup_v1_quota_is_read(tmp_path):
    d = tmp_path / "cpu,cpuacct" / "docker" / "x"
    d.mkdir(parents=True)
    (d / "cpu.cfs_quota_us").write_text("50000\n")
    (d / "cpu.cfs_period_us").write_text("100000\n")
    cg = tmp_path / "proc-cgroup"
    cg.write_text("5:memory:/docker/x\n4:cpu,cpuacct:/docker/x\n")
    assert threads.quota(str(tmp_path), str(cg)) == 0.5
    (d / "cpu.cfs_quota_us").write_text("-1\n")  # no quota
    assert threads.quota(str(tmp_path), str(cg)) is None


@pytest.mark.parametrize("cpu_max, want", [("120000 100000", 1), ("150000 100000", 2),
                                           ("30000 100000", 1), ("6400000 100000", None)])
def test_the_quota_rounds_to_whole_cpus_and_the_variable_overrides_it(tmp_path, cpu_max, want):
    root, cg = _v2(tmp_path, {"a/b": cpu_max})
    cpus = len(threads.affinity())
    want = cpus if want is None else min(want, cpus)
    assert threads.budget({}, root=root, cgroup_file=cg) == want
    assert threads.budget({"AENUMPY_THREADS": "5"}, root=root, cgroup_file=cg) == 5


# ---------------------------------------------------------------- what the system reports
def test_idle_seconds_sum_the_cpus_of_the_affinity_set(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  9 9 9 9 9 9 9 9 0 0\n"
                    "cpu0 10 0 5 100 7 0 0 0 0 0\n"
                    "cpu1 10 0 5 200 3 0 0 0 0 0\n")
    tick = os.sysconf("SC_CLK_TCK")
    assert threads.idle_seconds([0, 1], str(stat)) == pytest.approx(310 / tick)
    assert threads.idle_seconds([1], str(stat)) == pytest.approx(203 / tick)
    assert threads.idle_seconds([2], str(stat)) is None  # a CPU the file does not list
    assert threads.idle_seconds([0], str(tmp_path / "absent")) is None


def test_waiting_seconds_sum_the_threads_run_delay(tmp_path):
    for tid, text in (("11", "500 2000000000 7"), ("12", "9 500000000 1")):
        (tmp_path / tid).mkdir()
        (tmp_path / tid / "schedstat").write_text(text + "\n")
    assert threads.waiting_seconds(str(tmp_path)) == pytest.approx(2.5)
    assert threads.waiting_seconds(str(tmp_path / "absent")) is None


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="Linux's /proc reports it")
def test_this_process_reports_its_waiting():
    assert threads.waiting_seconds() >= 0.0
    assert threads.idle_seconds(threads.affinity()) >= 0.0


# ---------------------------------------------------------------- the governor
class Machine:
    """Feeds a Governor one look at a time: how many threads waited for a CPU and how
    many CPUs stood idle, on average, since the last look, and, while it is timing a
    trial, what the kernels took: ``per_call[count]`` seconds a call on ``count``
    threads (None: no kernel ran)."""

    def __init__(self, most, per_call=None):
        self.gov = threads.Governor(most)
        self.per_call = per_call
        self.t, self.idle, self.wait = 100.0, 0.0, 0.0
        self.gov.update(self.t, self.idle, self.wait)

    def look(self, waited, idled, dt=threads.INTERVAL):
        self.t += dt
        self.idle += idled * dt
        self.wait += waited * dt
        times = None
        if self.gov.timing and self.per_call is not None:
            times = {"kernel": (10, 10 * self.per_call[self.gov.count])}
        self.gov.update(self.t, self.idle, self.wait, times)
        return self.gov.count

    def settle(self, waited, idled):
        """Looks until the governor is steady again; the count then."""
        self.look(waited, idled)
        while self.gov.timing:
            self.look(waited, idled, dt=threads.TRIAL)
        return self.gov.count


def test_a_quiet_machine_keeps_the_budget_and_times_nothing():
    m = Machine(2, per_call={1: 1.0, 2: 0.6})
    for _ in range(100):
        assert m.look(waited=0.1, idled=0.0) == 2 and not m.gov.timing


def test_threads_that_wait_and_run_faster_fewer_lose_one_down_to_one():
    m = Machine(4, per_call={1: 0.1, 2: 1.0, 3: 2.0, 4: 3.0})
    assert [m.settle(waited=1.0, idled=0.0) for _ in range(4)] == [3, 2, 1, 1]


def test_waiting_beside_work_that_gives_way_keeps_the_threads():
    """Threads that wait but still run faster than fewer would (the other work has a lower
    priority) stay; the trials of fewer come again after 2, 4, 8, 16, 16 s."""
    m = Machine(2, per_call={1: 1.0, 2: 0.6})
    trials = []
    for _ in range(int(80 / threads.INTERVAL)):
        m.look(waited=1.0, idled=0.0)
        if m.gov.timing:
            trials.append(m.t)
            while m.gov.timing:
                assert m.look(waited=1.0, idled=0.0, dt=threads.TRIAL) in (1, 2)
            assert m.gov.count == 2
    np.testing.assert_allclose(np.diff(trials)[:5], [2, 4, 8, 16, 16], atol=3 * threads.INTERVAL)


def test_without_kernel_times_waiting_alone_decides():
    """NumPy's BLAS alone (no kernel ran): threads that wait lose one; one more is kept
    when the threads then do not wait."""
    m = Machine(2)
    assert m.settle(waited=1.0, idled=0.0) == 1
    assert m.settle(waited=0.1, idled=0.9) == 2


def test_an_idle_cpu_gives_the_thread_back_when_it_runs_faster():
    m = Machine(2, per_call={1: 0.1, 2: 1.0})
    assert m.settle(waited=1.0, idled=0.0) == 1
    m.per_call = {1: 1.0, 2: 0.6}  # the other work ended
    assert m.settle(waited=0.0, idled=0.9) == 2


def test_a_busy_machine_is_tried_again_later_and_later():
    """Beside a competitor of the same priority every trial of one more thread fails: the
    trials come 1 s after the drop, then again after 2, 4, 8, 16, 16 s."""
    m = Machine(2, per_call={1: 0.1, 2: 1.0})
    assert m.settle(waited=1.0, idled=0.0) == 1
    drop, trials = m.t, []
    for _ in range(int(80 / threads.INTERVAL)):
        m.look(waited=0.0, idled=0.0)
        if m.gov.timing:
            trials.append(m.t)
            while m.gov.timing:
                m.look(waited=1.0, idled=0.0, dt=threads.TRIAL)
            assert m.gov.count == 1
    assert trials[0] - drop == pytest.approx(threads.BACKOFF, abs=3 * threads.INTERVAL)
    np.testing.assert_allclose(np.diff(trials)[:5], [2, 4, 8, 16, 16], atol=3 * threads.INTERVAL)


def test_faster_compares_the_same_calls():
    base = {"a": (4, 4.0), "b": (2, 0.2)}
    assert threads.faster({"a": (2, 1.0)}, base)             # 0.5 s a call against 1
    assert not threads.faster({"a": (1, 1.0), "b": (1, 0.5)}, base)
    assert threads.faster({"c": (5, 0.1)}, base) is None     # nothing in common


# ---------------------------------------------------------------- in the process
def test_kernels_split_by_the_budget_and_run_on_the_current_count():
    with threads.limited(1):
        assert threads.current() == threads.most() == 1
        assert _jit.kernel_threads() == 1 and _jit.running_threads() == 1
    parts = _jit.kernel_threads()
    with threads.holding(1):
        assert _jit.running_threads() == 1 and _jit.kernel_threads() == parts


@pytest.mark.skipif(openblas.find_openblas() is None, reason="NumPy's BLAS is not OpenBLAS")
def test_a_budget_for_a_block_gives_numpys_openblas_back_after():
    import ctypes

    get = getattr(ctypes.CDLL(openblas.find_openblas()), openblas.GET_THREADS)
    threads.reset()  # nothing read yet: afterwards, the process's budget
    with threads.limited(1):
        assert get() == 1
    assert get() == min(threads.budget(), openblas._blas["most"])
    count = threads.current()  # read already: afterwards, the count it had
    with threads.limited(1):
        assert get() == 1
    assert get() == min(count, openblas._blas["most"])


def test_limited_refuses_a_bad_count():
    for n in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="at least 1"):
            with threads.limited(n):
                pass


@pytest.mark.skipif(openblas.find_openblas() is None, reason="NumPy's BLAS is not OpenBLAS")
def test_numpys_openblas_follows_the_count():
    import ctypes

    lib = ctypes.CDLL(openblas.find_openblas())
    get = getattr(lib, openblas.GET_THREADS)
    before = get()
    with threads.holding(1):
        assert get() == 1
    assert get() == before


def _steps(model, X, n=3):
    opt = ae.optim.Adam(lr=1e-3)
    rng = np.random.default_rng(5)
    losses = []
    for _ in range(n):
        loss, grads = model.loss_and_grads(X, rng=rng, checked=True)
        opt.step(model.params, grads)
        losses.append(loss)
    return losses, {k: v.copy() for k, v in model.params.items()}


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_the_numbers_do_not_depend_on_how_many_threads_ran(kind):
    """The work is cut by the budget whatever the count running it, so a busy machine
    (fewer threads) gives the same bits as a quiet one (MNIST-size work: the kernels
    run on every thread)."""
    X = np.random.default_rng(0).random((128, 784), dtype=np.float32)
    out = []
    for n in (1, _jit.kernel_threads()):
        with threads.holding(n):
            if kind == "dense":
                m = ae.Autoencoder(784, [256], regularizers=[ae.regularizers.GaussianNoise(0.2)],
                                   seed=3, dtype="float32")
            else:
                m = ae.ConvAutoencoder(*ae.models.conv_layers([16, 8], "pool", "upsample"),
                                       input_shape=(1, 28, 28), loss="bce", seed=3,
                                       dtype="float32")
            out.append(_steps(m, X.reshape(-1, 1, 28, 28) if kind == "conv" else X))
    (l1, p1), (l2, p2) = out
    assert l1 == l2
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k], err_msg=k)


# ---------------------------------------------------------------- the command line
def test_the_command_line_sets_the_budget(monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "cmd_train",
                        lambda args: seen.append((threads.most(), _jit.running_threads())) or 0)
    assert cli.main(["train", "--threads", "1"]) == 0
    assert seen == [(1, 1)]
    assert threads.most() == threads.budget()  # the budget is the process's again after


def test_a_bad_thread_count_on_the_command_line_is_one_line():
    out = subprocess.run([sys.executable, "-m", "aenumpy", "train", "--threads", "0"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "aenumpy train: error: argument --threads: must be a whole number of threads, at "
        "least 1; got '0' (see 'aenumpy train --help')"]
