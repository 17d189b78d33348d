"""Tests for aenumpy.datasets: embedded digits, IDX reader/writer, MNIST loader."""
import gzip
import hashlib
import io
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from aenumpy import datasets as ds

FOUR = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]

# The shared data folder sits next to the repository root: <root>/../shared/data
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "mnist").is_dir(),
                                  reason=f"shared data folder {SHARED} not present")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No test reads $AENUMPY_DATA or the user's cache unless it says so."""
    monkeypatch.delenv("AENUMPY_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def _fake_set(folder, n_train=7, n_test=3, gz=False, seed=0):
    """Write a tiny valid MNIST-like set; return the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = [rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, n_train, dtype=np.uint8),
              rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, n_test, dtype=np.uint8)]
    for base, a in zip(FOUR, arrays):
        ds.write_idx(folder / (base + (".gz" if gz else "")), a)
    return arrays


# --------------------------------------------------------------------------- digits

def test_digits_shapes_range_dtype_labels():
    Xtr, ytr, Xte, yte = ds.load_digits()
    assert Xtr.shape == (1437, 64) and Xte.shape == (360, 64)
    assert ytr.shape == (1437,) and yte.shape == (360,)
    assert Xtr.dtype == np.float32 and Xte.dtype == np.float32
    assert ytr.dtype == np.int64 and yte.dtype == np.int64
    for X in (Xtr, Xte):
        assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(ytr)) == set(range(10)) and set(np.unique(yte)) == set(range(10))
    # values are k/16
    np.testing.assert_array_equal(Xtr * 16, np.round(Xtr * 16))


def test_digits_float64_and_bad_dtype():
    X64 = ds.load_digits(dtype="float64")[0]
    assert X64.dtype == np.float64
    np.testing.assert_array_equal(X64.astype(np.float32), ds.load_digits()[0])
    with pytest.raises(ValueError):
        ds.load_digits(dtype="int32")


def test_digits_deterministic_and_independent():
    a = ds.load_digits()
    b = ds.load_digits()
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    a[0][:] = -1.0           # the caller owns its arrays
    assert ds.load_digits()[0].min() == 0.0


# --------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
    labels = np.array([3, 0, 9, 255, 1], dtype=np.int64)
    ds.write_idx(tmp_path / ("img" + suffix), images)
    ds.write_idx(tmp_path / ("lab" + suffix), labels)
    raw = (tmp_path / ("img" + suffix)).read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == (suffix == ".gz")
    img, lab = ds.read_idx(tmp_path / ("img" + suffix)), ds.read_idx(tmp_path / ("lab" + suffix))
    assert img.dtype == np.uint8 and img.shape == (5, 4, 3)
    np.testing.assert_array_equal(img, images)
    assert lab.dtype == np.uint8 and lab.shape == (5,)
    np.testing.assert_array_equal(lab, labels)


def test_idx_header_is_big_endian(tmp_path):
    ds.write_idx(tmp_path / "img", np.zeros((2, 3, 4), np.uint8))
    assert struct.unpack(">IIII", (tmp_path / "img").read_bytes()[:16]) == (2051, 2, 3, 4)


def test_write_idx_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        ds.write_idx(tmp_path / "x", np.zeros((2, 3), np.uint8))
    with pytest.raises(ValueError, match="0..255"):
        ds.write_idx(tmp_path / "x", np.array([1, 300]))


def test_read_idx_bad_magic(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(struct.pack(">IIII", 2052, 1, 2, 2) + bytes(4))
    with pytest.raises(ValueError, match=r"bad magic number 2052.*2051.*2049"):
        ds.read_idx(p)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_truncated(tmp_path, suffix):
    payload = struct.pack(">IIII", 2051, 10, 28, 28) + bytes(100)
    p = tmp_path / ("trunc" + suffix)
    p.write_bytes(gzip.compress(payload) if suffix else payload)
    with pytest.raises(ValueError, match=r"truncated.*7840 bytes.*100"):
        ds.read_idx(p)


def test_read_idx_truncated_header_and_gzip(tmp_path):
    p = tmp_path / "tiny"
    p.write_bytes(struct.pack(">I", 2049))
    with pytest.raises(ValueError, match="truncated"):
        ds.read_idx(p)
    q = tmp_path / "cut.gz"
    q.write_bytes(gzip.compress(struct.pack(">II", 2049, 1000) + bytes(1000))[:-20])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        ds.read_idx(q)


# --------------------------------------------------------------------------- load_mnist (fake files)

def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"'mnist'.*'fashion'"):
        ds.load_mnist("kmnist")


def test_load_plain_files_from_path(tmp_path):
    arrays = _fake_set(tmp_path / "d")
    Xtr, ytr, Xte, yte = ds.load_mnist("mnist", path=tmp_path / "d", download=False)
    assert Xtr.shape == (7, 784) and Xte.shape == (3, 784)
    assert Xtr.dtype == np.float32 and ytr.dtype == np.int64
    np.testing.assert_allclose(Xtr, arrays[0].reshape(7, -1) / 255, rtol=1e-6)
    np.testing.assert_array_equal(ytr, arrays[1])
    np.testing.assert_array_equal(yte, arrays[3])
    # path/<subdir> works too
    _fake_set(tmp_path / "e" / "fashion-mnist", seed=2)
    assert ds.load_mnist("fashion", path=tmp_path / "e", download=False)[0].shape == (7, 784)


def test_search_env_then_cache(tmp_path, monkeypatch):
    _fake_set(tmp_path / "env" / "mnist", n_train=4)
    _fake_set(tmp_path / "xdg-cache" / "aenumpy" / "mnist", n_train=5)
    assert ds.load_mnist(download=False)[0].shape[0] == 5          # cache
    monkeypatch.setenv("AENUMPY_DATA", str(tmp_path / "env"))
    assert ds.load_mnist(download=False)[0].shape[0] == 4          # env/<subdir>
    _fake_set(tmp_path / "flat", n_train=6)
    monkeypatch.setenv("AENUMPY_DATA", str(tmp_path / "flat"))
    assert ds.load_mnist(download=False)[0].shape[0] == 6          # env directly
    _fake_set(tmp_path / "p", n_train=2)
    assert ds.load_mnist(path=tmp_path / "p", download=False)[0].shape[0] == 2   # path first


def test_cached_arrays_cannot_be_corrupted(tmp_path):
    _fake_set(tmp_path / "d")
    Xtr, ytr, _, _ = ds.load_mnist(path=tmp_path / "d", download=False)
    Xtr[:] = 7.0
    ytr[:] = 42
    Xtr2, ytr2, _, _ = ds.load_mnist(path=tmp_path / "d", download=False)
    assert Xtr2.max() <= 1.0 and ytr2.max() <= 9


def test_wrong_checksum_is_refused(tmp_path):
    # valid IDX content with the original names, but not the original bytes
    _fake_set(tmp_path / "d", gz=True)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz.*wrong SHA-256") as info:
        ds.load_mnist("mnist", path=tmp_path / "d", download=False)
    msg = str(info.value)
    assert ds.SHA256["mnist"]["train-images-idx3-ubyte.gz"] in msg
    got = hashlib.sha256((tmp_path / "d" / "train-images-idx3-ubyte.gz").read_bytes()).hexdigest()
    assert got in msg and "Delete" in msg


def test_right_checksum_is_accepted(tmp_path, monkeypatch):
    arrays = _fake_set(tmp_path / "d", gz=True)
    table = {f + ".gz": hashlib.sha256((tmp_path / "d" / (f + ".gz")).read_bytes()).hexdigest()
             for f in FOUR}
    monkeypatch.setitem(ds.SHA256, "mnist", table)
    Xtr, ytr, _, _ = ds.load_mnist("mnist", path=tmp_path / "d", download=False)
    np.testing.assert_array_equal(ytr, arrays[1])


def test_count_mismatch(tmp_path):
    _fake_set(tmp_path / "d")
    ds.write_idx(tmp_path / "d" / "t10k-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match=r"test set has 3 images but 4 labels"):
        ds.load_mnist(path=tmp_path / "d", download=False)


def test_labels_file_in_images_slot(tmp_path):
    _fake_set(tmp_path / "d")
    ds.write_idx(tmp_path / "d" / "train-images-idx3-ubyte", np.zeros(7, np.uint8))
    with pytest.raises(ValueError, match="images"):
        ds.load_mnist(path=tmp_path / "d", download=False)


def _assert_helpful(msg, *folders):
    for f in folders:
        assert str(f) in msg
    for name in FOUR:
        assert name + ".gz" in msg
    assert "AENUMPY_DATA" in msg


def test_missing_files_no_download(tmp_path):
    (tmp_path / "d").mkdir()
    ds.write_idx(tmp_path / "d" / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(ds.DataNotFoundError) as info:
        ds.load_mnist("mnist", path=tmp_path / "d", download=False)
    assert isinstance(info.value, FileNotFoundError)
    msg = str(info.value)
    _assert_helpful(msg, tmp_path / "d", tmp_path / "d" / "mnist",
                    tmp_path / "xdg-cache" / "aenumpy" / "mnist")
    assert "download=False" in msg


def test_missing_files_no_network(tmp_path, monkeypatch):
    calls = []

    def offline(url, timeout=None):
        calls.append(url)
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(ds, "_urlopen", offline)
    monkeypatch.setenv("AENUMPY_DATA", str(tmp_path / "env"))
    with pytest.raises(ds.DataNotFoundError) as info:
        ds.load_mnist("fashion")
    msg = str(info.value)
    _assert_helpful(msg, tmp_path / "env" / "fashion-mnist",
                    tmp_path / "xdg-cache" / "aenumpy" / "fashion-mnist")
    assert "no network" in msg
    assert calls and all(u.startswith(ds.MIRRORS["fashion-mnist"][0]) for u in calls)
    cache = tmp_path / "xdg-cache" / "aenumpy" / "fashion-mnist"
    assert not any(cache.iterdir())          # no partial files left behind


def test_download_verifies_and_falls_back_to_next_mirror(tmp_path, monkeypatch):
    src = tmp_path / "src"
    arrays = _fake_set(src, gz=True)
    table = {f + ".gz": hashlib.sha256((src / (f + ".gz")).read_bytes()).hexdigest() for f in FOUR}
    monkeypatch.setitem(ds.SHA256, "mnist", table)
    first, second = ds.MIRRORS["mnist"]

    class Resp(io.BytesIO):
        headers = {}

    def fake(url, timeout=None):
        fname = url.rsplit("/", 1)[1]
        if url.startswith(first):          # first mirror serves corrupt bytes
            return Resp(b"\x1f\x8bgarbage")
        return Resp((src / fname).read_bytes())

    monkeypatch.setattr(ds, "_urlopen", fake)
    Xtr, ytr, _, _ = ds.load_mnist("mnist")
    np.testing.assert_array_equal(ytr, arrays[1])
    cache = tmp_path / "xdg-cache" / "aenumpy" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f + ".gz" for f in FOUR)


def test_bad_arguments():
    with pytest.raises(ValueError):
        ds.load_mnist("mnist", dtype="int8")
    with pytest.raises(TypeError):
        ds.load_mnist("mnist", download="yes")


# --------------------------------------------------------------------------- real data

@needs_shared
def test_real_mnist(monkeypatch):
    monkeypatch.setenv("AENUMPY_DATA", str(SHARED))
    Xtr, ytr, Xte, yte = ds.load_mnist("mnist", download=False)
    assert Xtr.shape == (60000, 784) and Xte.shape == (10000, 784)
    assert ytr.shape == (60000,) and yte.shape == (10000,)
    assert Xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert 0.0 <= Xtr.min() and Xtr.max() <= 1.0
    assert Xtr.mean(dtype=np.float64) == pytest.approx(0.1307, abs=1e-3)
    assert ytr[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert yte[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    # second call comes from the in-process cache and gives equal, fresh arrays
    Xtr[0] = 5.0
    Xtr2, ytr2, _, _ = ds.load_mnist("mnist", download=False)
    assert Xtr2.max() <= 1.0
    np.testing.assert_array_equal(ytr2, ytr)


@needs_shared
def test_real_fashion(monkeypatch):
    monkeypatch.setenv("AENUMPY_DATA", str(SHARED))
    Xtr, ytr, Xte, yte = ds.load_mnist("fashion", download=False)
    assert Xtr.shape == (60000, 784) and Xte.shape == (10000, 784)
    assert Xtr.mean(dtype=np.float64) == pytest.approx(0.2860, abs=1e-3)
    assert ytr[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert np.bincount(ytr).tolist() == [6000] * 10
