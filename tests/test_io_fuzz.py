"""Fuzzed loading of model files: random bytes, mutated and truncated files, crafted
archives. Whatever comes, ``ae.load`` returns a model or raises ``ModelFileError``
(a ``ValueError``); nothing is ever unpickled, so no code in a file can run.
"""
import io as pyio
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

import aenumpy as ae
from aenumpy.io import ModelFileError

class _Evil:
    """Unpickling this would create a file (the stand-in for arbitrary code)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def _npy(arr, allow_pickle=False):
    buf = pyio.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=allow_pickle)
    return buf.getvalue()


def _npy_raw(header: dict, data: bytes = b"", version=(1, 0)):
    """A .npy member with a hand-written header (whatever it declares)."""
    buf = pyio.BytesIO()
    h = dict(header)
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buf, h)
    else:
        np.lib.format.write_array_header_2_0(buf, h)
    return buf.getvalue() + data


def _zip(members, compression=zipfile.ZIP_STORED):
    buf = pyio.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _valid_members():
    """The members of a valid checkpoint (model, Adam state, extra), as bytes."""
    m = ae.Autoencoder(6, [4, 3], seed=0)
    opt = ae.optim.Adam(lr=1e-2)
    X = np.random.default_rng(0).random((5, 6)).astype(np.float32)
    opt.step(m.params, m.loss_and_grads(X)[1])
    buf = pyio.BytesIO()
    arrays = {"__format__": np.array("aenumpy-model"), "__version__": np.array(1),
              "__config__": np.array(json.dumps({"kind": "autoencoder", "config": m.get_config()})),
              "__optim__": np.array(json.dumps(opt.get_config())),
              "__extra__": np.array(json.dumps({"epoch": 3}))}
    arrays.update({f"param/{k}": v for k, v in m.params.items()})
    arrays.update({f"opt/{k}": np.asarray(v) for k, v in opt.state_dict().items()})
    np.savez(buf, **arrays)
    with zipfile.ZipFile(pyio.BytesIO(buf.getvalue())) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("valid") / "m.npz"
    m = ae.Autoencoder(6, [4, 3], seed=0)
    ae.fit(m, np.random.default_rng(0).random((20, 6)).astype(np.float32), epochs=1,
           batch_size=10, progress=False, checkpoint=path)
    return path.read_bytes()


def _load_bytes(tmp_path, data, name="f.npz"):
    p = tmp_path / name
    p.write_bytes(data)
    return ae.io.load_checkpoint(p)


def _must_refuse_or_load(tmp_path, data):
    try:
        model, _, _ = _load_bytes(tmp_path, data)
    except ModelFileError:
        return "refused"
    assert all(np.isfinite(p).all() for p in model.params.values())
    return "loaded"


def test_valid_file_loads(tmp_path, valid_bytes):
    model, opt, extra = _load_bytes(tmp_path, valid_bytes)
    assert isinstance(model, ae.Autoencoder) and opt.t == 2 and extra["training"]["epoch"] == 1


def test_random_bytes(tmp_path):
    rng = np.random.default_rng(0)
    prefixes = [b"", b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY\x01\x00", b"\x80\x04\x95",
                b"\x1f\x8b"]
    for i in range(120):
        n = int(rng.integers(0, 3000))
        data = prefixes[i % len(prefixes)] + rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        with pytest.raises(ModelFileError):
            _load_bytes(tmp_path, data)


def test_mutated_files(tmp_path, valid_bytes):
    """Flipped bytes anywhere: refused, or (if the flip hit a timestamp) a sane model."""
    rng = np.random.default_rng(1)
    outcomes = []
    for _ in range(250):
        data = bytearray(valid_bytes)
        for _ in range(int(rng.integers(1, 6))):
            data[int(rng.integers(len(data)))] = int(rng.integers(256))
        outcomes.append(_must_refuse_or_load(tmp_path, bytes(data)))
    assert outcomes.count("refused") > 150


def test_truncated_and_extended_files(tmp_path, valid_bytes):
    rng = np.random.default_rng(2)
    for cut in sorted(set(rng.integers(0, len(valid_bytes), 120).tolist())):
        with pytest.raises(ModelFileError):
            _load_bytes(tmp_path, valid_bytes[:cut])
    for _ in range(30):  # bytes inserted in the middle
        at = int(rng.integers(len(valid_bytes)))
        junk = rng.integers(0, 256, int(rng.integers(1, 50)), dtype=np.uint8).tobytes()
        _must_refuse_or_load(tmp_path, valid_bytes[:at] + junk + valid_bytes[at:])


def test_mutated_members(tmp_path):
    """Mutate the content of one member and repack it (valid zip, so the CRC passes)."""
    rng = np.random.default_rng(3)
    members = _valid_members()
    names = sorted(members)
    for _ in range(150):
        m = dict(members)
        name = names[int(rng.integers(len(names)))]
        data = bytearray(m[name])
        op = int(rng.integers(3))
        if op == 0 and data:
            for _ in range(int(rng.integers(1, 4))):
                data[int(rng.integers(len(data)))] = int(rng.integers(256))
        elif op == 1:
            data = data[: int(rng.integers(len(data) + 1))]
        else:
            data += rng.integers(0, 256, int(rng.integers(1, 20)), dtype=np.uint8).tobytes()
        m[name] = bytes(data)
        _must_refuse_or_load(tmp_path, _zip(m))


# --------------------------------------------------------------- crafted archives
def _with(**changes):
    m = _valid_members()
    for k, v in changes.items():
        if v is None:
            m.pop(k, None)
        else:
            m[k] = v
    return m


def _cfg(**override):
    cfg = json.loads(str(np.lib.format.read_array(pyio.BytesIO(_valid_members()["__config__.npy"]))))
    cfg["config"].update(override)
    return _npy(np.array(json.dumps(cfg)))


CRAFTED = {
    "not a zip": b"hello",
    "empty zip": _zip({}),
    "non-npy member": _zip(_with(**{"readme.txt": b"hi"})),
    "directory member": _zip(_with(**{"dir/": b""})),
    "no format marker": _zip(_with(**{"__format__.npy": None})),
    "wrong format marker": _zip(_with(**{"__format__.npy": _npy(np.array("other"))})),
    "format marker of numbers": _zip(_with(**{"__format__.npy": _npy(np.arange(3))})),
    "other version": _zip(_with(**{"__version__.npy": _npy(np.array(2))})),
    "version as float": _zip(_with(**{"__version__.npy": _npy(np.array(1.0))})),
    "version as array": _zip(_with(**{"__version__.npy": _npy(np.array([1]))})),
    "no version": _zip(_with(**{"__version__.npy": None})),
    "config not json": _zip(_with(**{"__config__.npy": _npy(np.array("{not json"))})),
    "config a list": _zip(_with(**{"__config__.npy": _npy(np.array("[1, 2]"))})),
    "config kind a list": _zip(_with(**{"__config__.npy": _npy(np.array(
        json.dumps({"kind": [1], "config": {}})))})),
    "config deeply nested": _zip(_with(**{"__config__.npy": _npy(np.array("[" * 100000))})),
    "config unknown kind": _zip(_with(**{"__config__.npy": _npy(np.array(
        json.dumps({"kind": "gan", "config": {}})))})),
    "config huge hidden": _zip(_with(**{"__config__.npy": _cfg(hidden=[10 ** 9, 3])})),
    "config huge n_in": _zip(_with(**{"__config__.npy": _cfg(n_in=10 ** 12)})),
    "config negative size": _zip(_with(**{"__config__.npy": _cfg(hidden=[-4, 3])})),
    "config bad activation": _zip(_with(**{"__config__.npy": _cfg(activation={"a": 1})})),
    "config unknown argument": _zip(_with(**{"__config__.npy": _cfg(evil="rm -rf")})),
    "config unknown regularizer": _zip(_with(**{"__config__.npy": _cfg(
        regularizers=[{"name": "os.system"}])})),
    "config regularizers not a list": _zip(_with(**{"__config__.npy": _cfg(regularizers=5)})),
    "missing parameter": _zip(_with(**{"param/enc0.W.npy": None})),
    "extra parameter": _zip(_with(**{"param/evil.W.npy": _npy(np.zeros(3))})),
    "parameter wrong shape": _zip(_with(**{"param/enc0.W.npy": _npy(np.zeros((3, 3)))})),
    "parameter of ints": _zip(_with(**{"param/enc0.W.npy": _npy(np.zeros((4, 6), int))})),
    "parameter with NaN": _zip(_with(**{"param/enc0.b.npy": _npy(np.full(4, np.nan))})),
    "parameter of text": _zip(_with(**{"param/enc0.b.npy": _npy(np.array(["a"] * 4))})),
    "parameter structured": _zip(_with(**{"param/enc0.b.npy": _npy(
        np.zeros(4, dtype=[("a", "f4")]))})),
    "parameter complex": _zip(_with(**{"param/enc0.b.npy": _npy(np.zeros(4, complex))})),
    "header declares object dtype": _zip(_with(**{"param/enc0.b.npy": _npy_raw(
        {"descr": "|O", "fortran_order": False, "shape": (4,)}, b"\x80\x04N." * 8)})),
    "header declares huge shape": _zip(_with(**{"param/enc0.b.npy": _npy_raw(
        {"descr": "<f8", "fortran_order": False, "shape": (10 ** 12,)}, b"\0" * 32)})),
    "header declares negative shape": _zip(_with(**{"param/enc0.b.npy": _npy_raw(
        {"descr": "<f8", "fortran_order": False, "shape": (-4,)}, b"\0" * 32)})),
    "header with code in it": _zip(_with(**{"param/enc0.b.npy": b"\x93NUMPY\x01\x00\x40\x00"
                                            + b"__import__('os').system('touch /tmp/x')".ljust(63)
                                            + b"\n" + b"\0" * 32})),
    "header data too short": _zip(_with(**{"param/enc0.b.npy": _npy_raw(
        {"descr": "<f4", "fortran_order": False, "shape": (4,)}, b"\0" * 8)})),
    "header data too long": _zip(_with(**{"param/enc0.b.npy": _npy_raw(
        {"descr": "<f4", "fortran_order": False, "shape": (4,)}, b"\0" * 24)})),
    "npy version 3": _zip(_with(**{"param/enc0.b.npy": b"\x93NUMPY\x03\x00" + b"\0" * 40})),
    "npy bad magic": _zip(_with(**{"param/enc0.b.npy": b"\x93NUMPX\x01\x00" + b"\0" * 40})),
    "optimizer config bad": _zip(_with(**{"__optim__.npy": _npy(np.array('{"name": "Evil"}'))})),
    "optimizer config nan lr": _zip(_with(**{"__optim__.npy": _npy(np.array(
        '{"name": "Adam", "lr": NaN}'))})),
    "optimizer config a list": _zip(_with(**{"__optim__.npy": _npy(np.array("[1]"))})),
    "optimizer state wrong shape": _zip(_with(**{"opt/enc0.W/m.npy": _npy(np.zeros(3))})),
    "optimizer state unknown parameter": _zip(_with(**{"opt/evil/m.npy": _npy(np.zeros(3))})),
    "optimizer state no slot name": _zip(_with(**{"opt/enc0.W.npy": _npy(np.zeros((4, 6)))})),
    "optimizer state no t": _zip(_with(**{"opt/t.npy": None})),
    "optimizer state t negative": _zip(_with(**{"opt/t.npy": _npy(np.array(-3))})),
    "optimizer state t float": _zip(_with(**{"opt/t.npy": _npy(np.array(1.5))})),
    "optimizer state inf": _zip(_with(**{"opt/enc0.b/v.npy": _npy(np.full(4, np.inf,
                                                                        np.float32))})),
    "extra not json": _zip(_with(**{"__extra__.npy": _npy(np.array("{"))})),
    "duplicate member": None,  # built below
    "deflate bomb": None,
    "encrypted flag": None,
}


def _duplicate():
    buf = pyio.BytesIO()
    m = _valid_members()
    with pytest.warns(UserWarning):
        with zipfile.ZipFile(buf, "w") as zf:
            for k, v in m.items():
                zf.writestr(k, v)
            zf.writestr("param/enc0.b.npy", _npy(np.ones(4, np.float32)))
    return buf.getvalue()


def _bomb():
    """A deflated member whose central directory claims 3 GiB uncompressed."""
    buf = pyio.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for k, v in _valid_members().items():
            zf.writestr(k, v)
    data = bytearray(buf.getvalue())
    name = b"param/enc0.b.npy"
    pos = 0
    while True:  # patch the uncompressed-size field of the member's central directory entry
        pos = data.find(b"PK\x01\x02", pos)
        if pos < 0:
            break
        n = int.from_bytes(data[pos + 28:pos + 30], "little")
        if data[pos + 46:pos + 46 + n] == name:
            data[pos + 24:pos + 28] = (3 * 2 ** 30).to_bytes(4, "little")
        pos += 4
    return bytes(data)


def _encrypted():
    data = bytearray(_zip(_valid_members()))
    pos = 0
    while True:  # set the "encrypted" bit in every header
        pos = data.find(b"PK\x01\x02", pos)
        if pos < 0:
            break
        data[pos + 8] |= 1
        pos += 4
    return bytes(data)


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_archive_is_refused(tmp_path, case):
    data = {"duplicate member": _duplicate, "deflate bomb": _bomb,
            "encrypted flag": _encrypted}.get(case, lambda: CRAFTED[case])()
    with pytest.raises(ModelFileError):
        _load_bytes(tmp_path, data)


def test_pickled_payload_never_runs(tmp_path):
    """An object array whose unpickling would create a file: refused, and the file never appears."""
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Evil(str(marker))
    payload = _npy(evil, allow_pickle=True)
    assert b"touch" in payload  # the payload really holds the call
    for member in ("param/enc0.W.npy", "__config__.npy", "opt/t.npy", "zz.npy"):
        with pytest.raises(ModelFileError):
            _load_bytes(tmp_path, _zip(_with(**{member: payload})))
        assert not marker.exists()
    # a bare pickle and a bare .npy (not an archive) are refused too
    for data in (pickle.dumps(_Evil(str(marker))), payload):
        with pytest.raises(ModelFileError):
            _load_bytes(tmp_path, data)
        assert not marker.exists()
    # and np.load itself would have run it: the test's payload is real
    np.load(pyio.BytesIO(payload), allow_pickle=True)
    assert marker.exists()


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        ae.load(tmp_path / "nope.npz")


def test_fortran_ordered_arrays_load(tmp_path):
    m = _valid_members()
    W = np.lib.format.read_array(pyio.BytesIO(m["param/enc0.W.npy"]))
    m["param/enc0.W.npy"] = _npy(np.asfortranarray(W))
    model, _, _ = _load_bytes(tmp_path, _zip(m))
    np.testing.assert_array_equal(model.params["enc0.W"], W)


# --------------------------------------------------------------- atomic saving
def _old_file(tmp_path):
    old = ae.Autoencoder(6, [3], seed=1)
    path = ae.save(old, tmp_path / "m.npz")
    return old, path, Path(path).read_bytes()


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_crash_inside_savez_leaves_the_old_file_intact(tmp_path, monkeypatch, exc):
    old, path, before = _old_file(tmp_path)
    real_savez = np.savez

    def savez_then_crash(fh, **arrays):
        real_savez(fh, **dict(list(arrays.items())[:2]))  # half an archive is on disk...
        raise exc  # ...when the power goes

    monkeypatch.setattr(np, "savez", savez_then_crash)
    with pytest.raises(type(exc)):
        ae.save(ae.Autoencoder(6, [3], seed=2), path)
    assert Path(path).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temporary left
    monkeypatch.undo()
    np.testing.assert_array_equal(ae.load(path).params["enc0.W"], old.params["enc0.W"])


def test_crash_at_the_rename_leaves_the_old_file_intact(tmp_path, monkeypatch):
    _, path, before = _old_file(tmp_path)

    def no_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(ae.io.os, "replace", no_replace)
    with pytest.raises(OSError, match="rename failed"):
        ae.save(ae.Autoencoder(6, [3], seed=2), path)
    assert Path(path).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_crash_in_fsync_leaves_the_old_file_intact(tmp_path, monkeypatch):
    _, path, before = _old_file(tmp_path)

    def no_fsync(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(ae.io.os, "fsync", no_fsync)
    with pytest.raises(OSError):
        ae.save(ae.Autoencoder(6, [3], seed=2), path)
    assert Path(path).read_bytes() == before


def test_a_successful_save_replaces_the_file(tmp_path):
    _, path, before = _old_file(tmp_path)
    new = ae.Autoencoder(6, [3], seed=2)
    ae.save(new, path)
    assert Path(path).read_bytes() != before
    np.testing.assert_array_equal(ae.load(path).params["enc0.W"], new.params["enc0.W"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_a_truncated_save_is_refused_not_half_loaded(tmp_path):
    """What a non-atomic writer would leave behind (half an archive) is refused by load."""
    _, path, before = _old_file(tmp_path)
    for cut in (10, len(before) // 3, len(before) - 22):
        Path(path).write_bytes(before[:cut])
        with pytest.raises(ModelFileError):
            ae.load(path)
