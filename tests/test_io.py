import zipfile

import numpy as np
import pytest

import aenumpy as ae
from aenumpy.io import ModelFileError


def test_save_load_round_trip(tmp_path, U):
    m = ae.Autoencoder(6, [5, 3], tied=True, activation="tanh", loss="bce", seed=4)
    m.params["enc0.b"][:] = 0.25
    path = ae.save(m, tmp_path / "model")
    assert path.endswith(".npz")
    m2 = ae.load(path)
    assert m2.get_config() == m.get_config()
    for k in m.params:
        np.testing.assert_array_equal(m.params[k], m2.params[k])
    np.testing.assert_array_equal(m.reconstruct(U), m2.reconstruct(U))


def test_file_holds_no_pickle(tmp_path):
    path = ae.save(ae.Autoencoder(6, [3]), tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as z:
        for k in z.files:
            assert z[k].dtype != object
    with zipfile.ZipFile(path) as zf:
        assert all(n.endswith(".npy") for n in zf.namelist())


def test_refuses_non_model_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(ModelFileError):
        ae.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ModelFileError, match="not an aenumpy model"):
        ae.load(other)
    obj = tmp_path / "obj.npz"
    np.savez(obj, __format__=np.array("aenumpy-model"), x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ModelFileError):
        ae.load(obj)


def test_refuses_wrong_version_and_shapes(tmp_path):
    path = ae.save(ae.Autoencoder(6, [3]), tmp_path / "m.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["__version__"] = np.array(99)
    np.savez(tmp_path / "v.npz", **arrays)
    with pytest.raises(ModelFileError, match="version 99"):
        ae.load(tmp_path / "v.npz")
    arrays["__version__"] = np.array(1)
    arrays["param/enc0.W"] = np.zeros((2, 2))
    np.savez(tmp_path / "s.npz", **arrays)
    with pytest.raises(ModelFileError, match="enc0.W"):
        ae.load(tmp_path / "s.npz")


def test_truncated_file_is_refused(tmp_path):
    path = ae.save(ae.Autoencoder(6, [3]), tmp_path / "m.npz")
    data = open(path, "rb").read()
    (tmp_path / "t.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        ae.load(tmp_path / "t.npz")


def test_saved_file_has_the_usual_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        path = ae.save(ae.Autoencoder(6, [3]), tmp_path / "m.npz")
    finally:
        os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o644
