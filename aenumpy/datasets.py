"""Datasets: the embedded 8x8 digits, and MNIST / Fashion-MNIST from their IDX files.

Every loader returns ``(X_train, y_train, X_test, y_test)``: one image per row of
``X`` (rows are samples), pixels scaled to [0, 1] in float32 (or the dtype asked
for), labels as int64.

``load_digits()`` needs nothing: the data ships inside the package.

``make_segmentation(...)`` places those digits (or MNIST's) on a larger canvas and labels
every pixel (:mod:`aenumpy.segmentation_data`), the data of a segmentation model.

``load_mnist("mnist")`` / ``load_mnist("fashion")`` read the four original files ::

    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz

(gzipped, or the same names without ``.gz`` once unzipped). They look for them in
``path``, then in ``$AENUMPY_DATA``, then in the user cache folder
(``$XDG_CACHE_HOME/aenumpy`` or ``~/.cache/aenumpy``), and download them there if
they are nowhere. Every ``.gz`` file is checked against its published SHA-256.

The IDX format (LeCun et al.) is simple enough to read by hand, so we do:
a big-endian header, then the raw uint8 values.

=========  ==================================  ====================
kind       header (big-endian uint32 each)     data
=========  ==================================  ====================
images     magic 2051, n, rows, cols           n * rows * cols bytes
labels     magic 2049, n                       n bytes
=========  ==================================  ====================
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import os
import struct
import tempfile
import urllib.request
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

from ._validate import check_dtype, check_path

__all__ = ["load_digits", "load_mnist", "make_segmentation", "read_idx", "write_idx",
           "DataNotFoundError"]


class DataNotFoundError(FileNotFoundError):
    """The data files are not on disk and could not be downloaded.

    The message says which folders were searched and which files to put where.
    """


# --------------------------------------------------------------------------- #
# Embedded digits                                                             #
# --------------------------------------------------------------------------- #

def load_digits(dtype="float32"):
    """The 8x8 handwritten digits that ship with aenumpy (no download).

    1,797 grey-level images of 8x8 pixels (values 0..16), the UCI "Optical
    Recognition of Handwritten Digits" data as distributed by scikit-learn.
    The split into 1,437 training and 360 test images is fixed: every call
    returns the very same arrays, in the same order.

    Parameters
    ----------
    dtype : "float32" (default) or "float64"
        Floating type of the images.

    Returns
    -------
    X_train : ndarray, shape (1437, 64), pixels in [0, 1] (raw value / 16)
    y_train : ndarray of int64, shape (1437,), digits 0..9
    X_test : ndarray, shape (360, 64)
    y_test : ndarray of int64, shape (360,)

    Source and licence
    ------------------
    E. Alpaydin and C. Kaynak (1998), "Optical Recognition of Handwritten
    Digits", UCI Machine Learning Repository, https://doi.org/10.24432/C50P49,
    licensed under CC BY 4.0.
    """
    dt = check_dtype(dtype)
    res = resources.files(__package__).joinpath("data").joinpath("digits.npz")
    with res.open("rb") as fh, np.load(fh, allow_pickle=False) as z:
        arrays = {k: z[k] for k in ("X_train", "y_train", "X_test", "y_test")}
    X_train = arrays["X_train"].reshape(-1, 64).astype(dt)
    X_test = arrays["X_test"].reshape(-1, 64).astype(dt)
    X_train /= 16
    X_test /= 16
    return (X_train, arrays["y_train"].astype(np.int64),
            X_test, arrays["y_test"].astype(np.int64))


# --------------------------------------------------------------------------- #
# IDX files                                                                   #
# --------------------------------------------------------------------------- #

IMAGES_MAGIC = 2051   # 0x00000803: unsigned byte, 3 dimensions
LABELS_MAGIC = 2049   # 0x00000801: unsigned byte, 1 dimension
_NDIM = {IMAGES_MAGIC: 3, LABELS_MAGIC: 1}


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped if it is a gzip file (detected by its first bytes)."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise ValueError(
            f"{path}: the gzip data is truncated or corrupt ({exc}). "
            f"Delete the file and download it again.") from exc


def read_idx(path):
    """Read one IDX file of unsigned bytes (MNIST format), gzipped or not.

    Parameters
    ----------
    path : str or path-like
        An images file (magic 2051) or a labels file (magic 2049). Gzip
        compression is recognised from the content, whatever the name.

    Returns
    -------
    ndarray of uint8, shape (n, rows, cols) for images, (n,) for labels.

    Raises
    ------
    ValueError
        Unknown magic number, or the file is shorter (truncated) or longer
        than its header says.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 8:
        raise ValueError(f"{path}: truncated IDX file, only {len(data)} bytes "
                         f"(the header alone needs at least 8)")
    (magic,) = struct.unpack(">I", data[:4])
    if magic not in _NDIM:
        raise ValueError(
            f"{path}: bad magic number {magic} (0x{magic:08x}); expected "
            f"{IMAGES_MAGIC} for an images file or {LABELS_MAGIC} for a labels file. "
            f"Is this really an MNIST IDX file?")
    ndim = _NDIM[magic]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX file, the header needs {header} "
                         f"bytes but the file has {len(data)}")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape, dtype=np.int64))
    got = len(data) - header
    if got < expected:
        raise ValueError(
            f"{path}: truncated IDX file: the header announces shape {shape} = "
            f"{expected} bytes of data but only {got} are there. "
            f"Delete the file and download it again.")
    if got > expected:
        raise ValueError(
            f"{path}: the IDX header announces shape {shape} = {expected} bytes of "
            f"data but the file holds {got}; it is not a valid IDX file.")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def write_idx(path, array):
    """Write a uint8 array as an IDX file; gzipped if the name ends in ``.gz``.

    Parameters
    ----------
    path : str or path-like
    array : array-like of integers in 0..255
        Shape (n, rows, cols) writes an images file (magic 2051), shape (n,)
        a labels file (magic 2049).
    """
    a = np.asarray(array)
    if a.ndim not in (1, 3):
        raise ValueError(f"write_idx needs shape (n,) for labels or (n, rows, cols) "
                         f"for images, got shape {a.shape}")
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.integer) or (a.size and (a.min() < 0 or a.max() > 255)):
            raise ValueError(f"write_idx needs integers in 0..255 (uint8), got dtype "
                             f"{a.dtype}" + (f" with range [{a.min()}, {a.max()}]" if a.size else ""))
        a = a.astype(np.uint8)
    magic = IMAGES_MAGIC if a.ndim == 3 else LABELS_MAGIC
    payload = struct.pack(f">I{a.ndim}I", magic, *a.shape) + np.ascontiguousarray(a).tobytes()
    path = Path(path)
    if path.name.endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(payload)
    else:
        path.write_bytes(payload)


# --------------------------------------------------------------------------- #
# MNIST / Fashion-MNIST                                                       #
# --------------------------------------------------------------------------- #

# role -> file name (without .gz)
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# Published SHA-256 of the original gzipped files.
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}

MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}

# accepted name -> sub-folder (canonical name)
_NAMES = {"mnist": "mnist", "fashion": "fashion-mnist", "fashion-mnist": "fashion-mnist"}

_TIMEOUT = 15          # seconds, per connection attempt / read
_CHUNK = 1 << 16
_urlopen = urllib.request.urlopen   # module-level so tests can replace it


def _subdir(name) -> str:
    if not isinstance(name, str) or name.lower() not in _NAMES:
        raise ValueError(f"unknown dataset name {name!r}; valid names are "
                         + ", ".join(repr(n) for n in _NAMES))
    return _NAMES[name.lower()]


def _cache_dir(subdir: str) -> Path:
    """``$XDG_CACHE_HOME/aenumpy/<subdir>``, or ``~/.cache/aenumpy/<subdir>``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "aenumpy" / subdir


def _candidate_dirs(subdir: str, path) -> list[Path]:
    """The folders searched, in order (without duplicates)."""
    dirs = []
    if path is not None:
        p = Path(os.fspath(path)).expanduser()
        dirs += [p, p / subdir]
    env = os.environ.get("AENUMPY_DATA", "")
    if env:
        e = Path(env).expanduser()
        dirs += [e / subdir, e]
    dirs.append(_cache_dir(subdir))
    out = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def _find_files(folder: Path):
    """Map role -> file in ``folder`` (the .gz preferred), and the names missing."""
    found, missing = {}, []
    for role, base in FILES.items():
        for fname in (base + ".gz", base):
            if (folder / fname).is_file():
                found[role] = folder / fname
                break
        else:
            missing.append(base + ".gz")
    return found, missing


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_sha256(path: Path, subdir: str) -> None:
    """Refuse a .gz file whose SHA-256 is not the published one."""
    expected = SHA256[subdir].get(path.name)
    if expected is None:   # uncompressed file: only its IDX structure can be checked
        return
    got = _sha256(path)
    if got != expected:
        raise ValueError(
            f"{path}: wrong SHA-256 checksum.\n  expected {expected}\n  got      {got}\n"
            f"The file is damaged or is not the original {path.name}. "
            f"Delete it and call load_mnist again to download a fresh copy.")


def _download(url: str, dest: Path, expected: str) -> None:
    """Download ``url`` into ``dest`` atomically, checking its SHA-256 first."""
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, _urlopen(url, timeout=_TIMEOUT) as resp:
            total = resp.headers.get("Content-Length") if getattr(resp, "headers", None) else None
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                      unit_divisor=1024, desc=dest.name, leave=False) as bar:
                while True:
                    chunk = resp.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
        got = h.hexdigest()
        if got != expected:
            raise ValueError(f"downloaded {url} has SHA-256 {got}, expected {expected}")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _download_missing(subdir: str, folder: Path) -> list[str]:
    """Download the files missing from ``folder``; return the failure reasons (empty = ok)."""
    _, missing = _find_files(folder)
    for fname in missing:
        reasons = []
        for base in MIRRORS[subdir]:
            try:
                _download(base + fname, folder / fname, SHA256[subdir][fname])
                break
            except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError is an OSError
                reasons.append(f"{base}{fname}: {exc}")
        else:
            return reasons
    return []


def _not_found_message(subdir, tried, download_reasons, download):
    lines = [f"Could not find the {subdir} files. Folders searched, in order:"]
    for d in tried:
        if not d.is_dir():
            note = "does not exist"
        else:
            note = "missing " + ", ".join(_find_files(d)[1])
        lines.append(f"  {d}  ({note})")
    if "AENUMPY_DATA" not in os.environ:
        lines.append("  ($AENUMPY_DATA is not set)")
    if not download:
        lines.append("Nothing was downloaded because download=False.")
    else:
        lines.append("The download failed (no network?):")
        lines += [f"  {r}" for r in download_reasons]
    lines.append("Put these four files (as published, gzipped or unzipped):")
    lines += [f"  {base}.gz" for base in FILES.values()]
    lines.append(
        f"into {tried[-1]} , or into any folder <dir> and call "
        f"load_mnist(..., path='<dir>'), or set the environment variable "
        f"AENUMPY_DATA=<dir> with the files in <dir>/{subdir}/ .")
    return "\n".join(lines)


def _signature(files: dict) -> tuple:
    """Names, sizes and modification times: a changed file is read again."""
    out = []
    for role in FILES:
        st = files[role].stat()
        out.append((files[role].name, st.st_size, st.st_mtime_ns))
    return tuple(out)


@functools.lru_cache(maxsize=4)
def _load_arrays(folder: str, subdir: str, signature: tuple):
    """Parse and check the four files of ``folder``; arrays are read-only (cached)."""
    folder = Path(folder)
    arrays = {}
    for role, (fname, _, _) in zip(FILES, signature):
        path = folder / fname
        _check_sha256(path, subdir)
        a = read_idx(path)
        want = 3 if role.endswith("images") else 1
        if a.ndim != want:
            kind = "images (magic 2051)" if want == 3 else "labels (magic 2049)"
            raise ValueError(f"{path}: expected an IDX {kind} file, got an array "
                             f"of shape {a.shape}")
        a.flags.writeable = False
        arrays[role] = a
    for part in ("train", "test"):
        n_img, n_lab = len(arrays[f"{part}_images"]), len(arrays[f"{part}_labels"])
        if n_img != n_lab:
            raise ValueError(f"{folder}: the {part} set has {n_img} images but "
                             f"{n_lab} labels; the files do not belong together")
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise ValueError(f"{folder}: train images are {arrays['train_images'].shape[1:]} "
                         f"pixels but test images {arrays['test_images'].shape[1:]}")
    return arrays


def load_mnist(name="mnist", path=None, dtype="float32", download=True):
    """MNIST or Fashion-MNIST from the original IDX files.

    Parameters
    ----------
    name : "mnist", or "fashion" (also "fashion-mnist")
    path : str or path-like, optional
        A folder holding the four files, or holding a ``mnist/`` or
        ``fashion-mnist/`` sub-folder with them.
    dtype : "float32" (default) or "float64"
    download : bool
        If the files are nowhere, download them into the cache folder.

    The four files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``, or the same
    names unzipped) are searched in ``path`` and ``path/<sub>``, then in
    ``$AENUMPY_DATA/<sub>`` and ``$AENUMPY_DATA``, then in the cache folder
    ``$XDG_CACHE_HOME/aenumpy/<sub>`` (default ``~/.cache/aenumpy/<sub>``), where
    ``<sub>`` is ``mnist`` or ``fashion-mnist``. A ``.gz`` file must have the
    published SHA-256; an unzipped one is checked only for a valid IDX layout.
    Parsed files are kept in memory, so a second call is fast.

    Returns
    -------
    X_train : ndarray, shape (60000, 784), pixels in [0, 1] (raw value / 255)
    y_train : ndarray of int64, shape (60000,), classes 0..9
    X_test : ndarray, shape (10000, 784)
    y_test : ndarray of int64, shape (10000,)

    Every call returns new arrays that the caller may modify freely.

    Raises
    ------
    DataNotFoundError (a FileNotFoundError)
        The files are not there and could not be downloaded; the message
        says where to put them.
    ValueError
        Unknown name or dtype; a file with a wrong checksum, a bad magic
        number or truncated data; image and label counts that differ.

    Sources: MNIST by Y. LeCun, C. Cortes and C. J. C. Burges (CC BY-SA 3.0);
    Fashion-MNIST by H. Xiao, K. Rasul and R. Vollgraf, Zalando SE (MIT),
    arXiv:1708.07747.
    """
    subdir = _subdir(name)
    check_path("path", path, allow_none=True)
    dt = check_dtype(dtype)
    if not isinstance(download, (bool, np.bool_)):
        raise TypeError(f"download must be True or False, got {download!r}")

    tried = _candidate_dirs(subdir, path)
    folder = files = None
    for d in tried:
        found, missing = _find_files(d)
        if not missing:
            folder, files = d, found
            break

    if folder is None:
        reasons = []
        if download:
            cache = _cache_dir(subdir)
            try:
                reasons = _download_missing(subdir, cache)
            except OSError as exc:          # e.g. the cache folder cannot be created
                reasons = [f"{cache}: {exc}"]
            found, missing = _find_files(cache)
            if not reasons and not missing:
                folder, files = cache, found
        if folder is None:
            raise DataNotFoundError(_not_found_message(subdir, tried, reasons, download))

    arrays = _load_arrays(str(folder.resolve()), subdir, _signature(files))

    def scale(images):
        X = images.reshape(len(images), -1).astype(dt)   # a new array
        X /= 255
        return X

    return (scale(arrays["train_images"]), arrays["train_labels"].astype(np.int64),
            scale(arrays["test_images"]), arrays["test_labels"].astype(np.int64))


from .segmentation_data import make_segmentation  # noqa: E402  (it reads the loaders above)
