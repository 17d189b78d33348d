"""How a student's answer is compared with the reference, and which mistake it shows.

Tolerance (the arithmetic, not one machine's result): an entry of a correct answer that sums k
terms of size about ``s`` differs from the reference by a few ulps per term in a different
order of summation, about ``√k · ε · s`` (ε = 2.2e-16). :func:`tolerance` allows
``HEADROOM = 64`` times that (an ``exp`` or ``log`` of each term is itself a few ulps off),
with ``s`` the largest entry of the reference, at least 1 (the lecture's quantities here are of
order one). A mistake (a factor 2, a transposed matrix, a wrong sign) is off by a relative
amount of order one: many orders of magnitude above.

:func:`diagnose` names the mistake where it can: no result, a wrong number of results, a wrong
shape (a transposed one, one axis reduced too many or too few), NaN or inf, a transposed square
result, and a result that is the reference times a constant: −1 (sign), B or 1/B (a sum instead
of a mean, or a mean too many), 2 or ½ (the ½ of ½Σ(…)² or a factor 2 of a derivative),
ln 2 or 1/ln 2 (nats against bits).
"""
from __future__ import annotations

import math

import numpy as np

EPS = float(np.finfo(np.float64).eps)
HEADROOM = 64.0


def tolerance(want, terms):
    """``HEADROOM · √terms · ε · max(1, max |want|)``: what summation order can change."""
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    return HEADROOM * math.sqrt(max(int(terms), 1)) * EPS * scale


def as_array(x):
    """A float64 array of ``x``, or None when ``x`` is not numbers."""
    if x is None or isinstance(x, (str, bytes, dict)):
        return None
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return a


def _shape(a):
    return "un número" if a.ndim == 0 else f"forma {a.shape}"


def _fits(got, want, factor, tol):
    """Whether got ≈ factor · want, entrywise within tol scaled by |factor|."""
    return bool(np.all(np.abs(got - factor * want) <= tol * max(1.0, abs(factor))))


def _factor_message(c, B):
    """The name of a constant factor between the answer and the reference (None if unnamed)."""
    named = [(-1.0, "tiene el signo cambiado (sale −1 × lo esperado)"),
             (2.0, "sale el doble de lo esperado: ¿te sobra un factor 2, o falta el ½?"),
             (0.5, "sale la mitad de lo esperado: ¿falta un factor 2?"),
             (-2.0, "sale −2 × lo esperado: signo cambiado y un factor 2 de más"),
             (-0.5, "sale −½ × lo esperado: signo cambiado y falta un factor 2"),
             (math.log(2.0), "sale ln 2 × lo esperado: ¿mezclas el logaritmo natural (nats) y "
                             "log2 (bits)?"),
             (1 / math.log(2.0), "sale lo esperado / ln 2: ¿mezclas el logaritmo natural (nats) "
                                 "y log2 (bits)?")]
    if B and B > 2:
        named = [(float(B), f"sale B = {B} veces lo esperado: ¿sumas sobre el lote en lugar de "
                            "promediar (falta dividir entre B)?"),
                 (1.0 / B, f"sale lo esperado / B (B = {B}): ¿divides entre B de más?"),
                 (-float(B), f"sale −B × lo esperado (B = {B}): signo cambiado y falta dividir "
                             "entre B")] + named
    for f, msg in named:
        if abs(c - f) <= 1e-9 * max(1.0, abs(f)):
            return msg
    return None


def diagnose(got, want, terms=1, B=None, what="el resultado"):
    """``None`` when ``got`` equals ``want`` within :func:`tolerance`, else a message in
    Spanish naming the mistake where it can (see the module docstring)."""
    want = np.asarray(want, dtype=np.float64)
    if got is None:
        return f"{what}: tu función no devuelve nada (¿falta el return?)"
    a = as_array(got)
    if a is None or a.dtype == object:
        return f"{what}: se esperaba {_shape(want)} de números, llegó {type(got).__name__}"
    if a.shape != want.shape:
        if want.ndim == 0 and a.size == 1:
            return f"{what}: se esperaba un número, llegó un array de forma {a.shape} (usa float(...))"
        if a.ndim == 2 and a.shape == want.shape[::-1]:
            return (f"{what}: forma {a.shape}, se esperaba {want.shape}: es la traspuesta "
                    "(recuerda: W tiene forma (d_salida, d_entrada) y las filas son muestras)")
        if a.size == want.size:
            return (f"{what}: forma {a.shape}, se esperaba {want.shape} (los mismos elementos "
                    "con otra forma: ¿un reshape o un eje cambiado?)")
        if a.ndim < want.ndim:
            return (f"{what}: {_shape(a)}, se esperaba {_shape(want)}: ¿has sumado o promediado "
                    "sobre un eje que debía quedarse?")
        if a.ndim > want.ndim:
            return (f"{what}: {_shape(a)}, se esperaba {_shape(want)}: falta sumar o promediar "
                    "sobre algún eje")
        return f"{what}: {_shape(a)}, se esperaba {_shape(want)}"
    finite = np.isfinite(want)
    if np.any(~np.isfinite(a) & finite):
        n = int(np.count_nonzero(~np.isfinite(a) & finite))
        return (f"{what}: {n} valor(es) NaN o inf donde lo esperado es finito "
                "(¿log(0), una división por cero o exp de un número grande?)")
    tol = tolerance(want[finite], terms) if finite.any() else 0.0
    diff = np.where(finite, np.abs(a - np.where(finite, want, 0.0)), 0.0)
    if np.all(diff <= tol) and np.array_equal(np.isfinite(a), finite):
        return None
    if a.ndim == 2 and a.shape[0] == a.shape[1] and a.shape[0] > 1 and \
            np.all(np.abs(a - want.T) <= tol):
        return f"{what}: es la traspuesta de lo esperado"
    ww = float(np.sum(want[finite] ** 2))
    if ww > 0 and np.array_equal(np.isfinite(a), finite):
        c = float(np.sum(a[finite] * want[finite])) / ww
        if _fits(a[finite], want[finite], c, tol):
            msg = _factor_message(c, B)
            if msg:
                return f"{what}: {msg}"
            if abs(c) > 1e-12:
                return f"{what}: es proporcional a lo esperado, pero {c:.4g} veces mayor"
    bad = diff > tol
    i = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    where = f" en la posición {tuple(int(k) for k in i)}" if diff.ndim else ""
    return (f"{what}: valores distintos ({int(np.count_nonzero(bad))} de {max(a.size, 1)})"
            f"{where}: esperado {float(want[i]):.6g}, obtenido {float(a[i]):.6g}")
