"""An exercise, its cases, and how a student's function is checked against the reference.

Three forms of answer (``Exercise.answer``):

* ``"value"``: ``fn(*args)`` returns what the reference returns (one array or number, or a
  tuple of them, named by ``outputs``);
* ``"gradient"``: ``fn(*args)`` returns ``(value, ∂value/∂args[i], …)`` for the arguments
  listed in ``wrt``. Besides the reference, the student's gradient is held against finite
  differences of the student's *own* value (the fourth-order centred difference of
  :func:`aenumpy.numerical_gradient`), which tells a wrong forward from a wrong gradient;
* ``"layer"``: ``fn(n_in, n_out, rng)`` builds a layer (``params``, ``grads``, ``forward``,
  ``backward(dZ) -> dX``), compared with the library's layer carrying the same weights and
  checked by :func:`aenumpy.check_layer` against its own forward.

The check never raises for anything the student's function does: a blank (``raise
NotImplementedError``) gives "todavía sin escribir", an exception or a wrong result gives a
failing row with a message. Every argument is passed as a fresh copy, so a function that
writes into its inputs spoils nothing.
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..gradcheck import check_layer, noise_floor, numerical_gradient, relative_error
from .compare import as_array, diagnose
from .result import Result

#: entries of each differentiated argument checked by finite differences (a seeded sample)
FD_ENTRIES = 24
#: relative error below which a gradient agrees with finite differences (as ``ae.gradcheck``)
FD_TOL = 1e-7
FD_H = 1e-4


class _Blank(Exception):
    """The student's function raised NotImplementedError: not written yet."""


@dataclass
class Case:
    """One input of a check: a label (Spanish, shown in the table), the arguments, the batch
    size ``B`` (to name a sum-instead-of-mean), and the number of terms each output entry sums
    (for the tolerance; default: the size of the largest argument)."""

    label: str
    args: tuple
    B: int | None = None
    terms: int | None = None

    def copy_args(self):
        return copy.deepcopy(self.args)

    def n_terms(self):
        if self.terms is not None:
            return self.terms
        return max([np.size(a) for a in self.args if isinstance(a, np.ndarray)] or [1])


@dataclass
class Exercise:
    """A notebook's exercise: its name ``"NN.short"``, title, statement and signature (Spanish),
    the reference function, the cases, the form of its ``answer`` (see the module docstring),
    the names of its outputs, the differentiated arguments (``wrt``, gradient exercises), and
    ``hints``: pairs ``(wrong_fn, message)`` of known mistakes, named when the answer equals
    ``wrong_fn``'s."""

    name: str
    title: str
    statement: str
    signature: str
    reference: Callable
    cases: Callable
    answer: str = "value"
    outputs: tuple = ("el resultado",)
    wrt: tuple = ()
    hints: tuple = field(default_factory=tuple)

    def describe(self) -> str:
        return f"Ejercicio {self.name} · {self.title}\n\n{self.statement.strip()}\n\n" \
               f"Firma: {self.signature}"

    def make_cases(self):
        return self.cases(np.random.default_rng(0))

    # ------------------------------------------------------------------ checking
    def check(self, fn) -> Result:
        if not callable(fn):
            return Result(self.name, self.title, [], error=(
                f"se esperaba una función (o una clase), llegó {type(fn).__name__}"))
        run = {"value": self._check_value, "gradient": self._check_gradient,
               "layer": self._check_layer}[self.answer]
        rows = []
        try:
            for case in self.make_cases():
                ok, msg = run(fn, case)
                rows.append({"case": case.label, "ok": ok, "message": msg})
        except _Blank:
            return Result(self.name, self.title, [], written=False)
        return Result(self.name, self.title, rows)

    def _call(self, fn, args, what="tu función"):
        """``(result, None)``, or ``(None, message)`` when the student's code raised."""
        try:
            return fn(*args), None
        except NotImplementedError:
            raise _Blank from None
        except Exception as e:          # anything the student's code does is reported, not raised
            return None, f"{what} lanzó {type(e).__name__}: {e}"

    def _split(self, got, n, names):
        """The student's results as a list of n, or a message about their number."""
        if n == 1:
            return [got], None
        if not isinstance(got, (tuple, list)) or len(got) != n:
            k = len(got) if isinstance(got, (tuple, list)) else 1
            return None, (f"se esperaban {n} resultados ({', '.join(names)}) en una tupla, "
                          f"llegaron {k}")
        return list(got), None

    def _compare(self, got, want, case):
        msgs = [diagnose(g, w, case.n_terms(), case.B, what)
                for g, w, what in zip(got, want, self.outputs)]
        return [m for m in msgs if m]

    def _hint(self, got, case):
        """The message of a known mistake whose result the answer reproduces, if any."""
        for wrong, msg in self.hints:
            try:
                w = wrong(*case.copy_args())
            except Exception:
                continue
            w = list(w) if isinstance(w, tuple) else [w]
            if len(w) == len(got) and not self._compare(got, w, case):
                return msg
        return None

    def _check_value(self, fn, case):
        got, err = self._call(fn, case.copy_args())
        if err:
            return False, err
        want = self.reference(*case.copy_args())
        n = len(self.outputs)
        want = list(want) if n > 1 else [want]
        got, err = self._split(got, n, self.outputs)
        if err:
            return False, err
        msgs = self._compare(got, want, case)
        if not msgs:
            return True, ""
        return False, self._hint(got, case) or self._order(got, want, case) or "; ".join(msgs)

    def _order(self, got, want, case):
        """A message when the results are right but returned in another order."""
        for perm in itertools.permutations(range(len(got))):
            if list(perm) != sorted(perm) and not self._compare([got[i] for i in perm], want, case):
                return (f"los resultados están bien, pero en otro orden: devuelve "
                        f"({', '.join(self.outputs)})")
        return None

    def _check_gradient(self, fn, case):
        got, err = self._call(fn, case.copy_args())
        if err:
            return False, err
        n = 1 + len(self.wrt)
        got, err = self._split(got, n, self.outputs)
        if err:
            return False, err
        want = list(self.reference(*case.copy_args()))
        value_msg = diagnose(got[0], want[0], case.n_terms(), case.B, self.outputs[0])
        grad_msgs = [m for m in (diagnose(g, w, case.n_terms(), case.B, what) for g, w, what in
                                 zip(got[1:], want[1:], self.outputs[1:])) if m]
        if value_msg is None and not grad_msgs:
            return True, ""
        hint = self._hint(got, case)
        own = self._own_fd(fn, case, got)
        if value_msg is None:
            text = "tu forward está bien, tu gradiente no: " + (hint or "; ".join(grad_msgs))
            if own:
                text += f" (tampoco coincide con las diferencias finitas de tu forward: {own})"
            return False, text
        if not grad_msgs:
            return False, hint or value_msg
        if own is None:
            return False, (f"{hint or value_msg}; tu gradiente sí es la derivada de tu forward "
                           "(diferencias finitas): el fallo está en el forward")
        return False, hint or f"{value_msg}; {'; '.join(grad_msgs)}"

    def _own_fd(self, fn, case, got):
        """None when the student's gradients agree with finite differences of the student's
        own value, else a short message (with the largest relative error)."""
        args = list(case.copy_args())
        try:
            value = float(np.asarray(got[0], dtype=np.float64))
        except (TypeError, ValueError):
            return "el valor no es un número"
        worst = 0.0
        floor = noise_floor(value, FD_H, 4)
        pick = np.random.default_rng(1)
        for i, g in zip(self.wrt, got[1:]):
            x = np.array(args[i], dtype=np.float64)
            args[i] = x
            g = as_array(g)
            if g is None or g.shape != x.shape:
                return "forma distinta de la del argumento"
            idx = np.sort(pick.choice(x.size, size=min(FD_ENTRIES, x.size), replace=False))

            def f(_):
                v = fn(*args)[0]
                return float(np.asarray(v, dtype=np.float64))

            try:
                num = numerical_gradient(f, x, h=FD_H, order=4, indices=idx)
            except Exception as e:
                return f"tu función falla al perturbar sus argumentos ({type(e).__name__})"
            a, nn = g.reshape(-1)[idx], num.reshape(-1)[idx]
            rel = relative_error(a, nn)
            rel[np.abs(a - nn) < floor] = 0.0
            worst = max(worst, float(rel.max()))
        return None if worst < FD_TOL else f"error relativo {worst:.1e}"

    def _check_layer(self, fn, case):
        n_in, n_out, X, dZ = case.copy_args()
        ref = self.reference(n_in, n_out, np.random.default_rng(7))
        layer, err = self._call(fn, (n_in, n_out, np.random.default_rng(7)), "construir la capa")
        if err:
            return False, err
        params = getattr(layer, "params", None)
        if not isinstance(params, dict) or set(params) != set(ref.params):
            return False, (f"la capa debe tener params con las claves {sorted(ref.params)}, "
                           f"tiene {sorted(params) if isinstance(params, dict) else params!r}")
        for k, p in ref.params.items():
            msg = diagnose(params[k], p, 1, None, f"params['{k}']") \
                if np.shape(params[k]) != p.shape else None
            if msg:
                return False, msg
            params[k] = p.copy()          # the same weights as the reference
        Z, err = self._call(lambda: layer.forward(X.copy()), (), "forward")
        if err:
            return False, err
        fmsg = diagnose(Z, ref.forward(X.copy()), n_in, None, "forward")
        if fmsg:
            return False, fmsg
        dX, err = self._call(lambda: layer.backward(dZ.copy()), (), "tu forward está bien; backward")
        if err:
            return False, err
        want_dX = ref.backward(dZ.copy())
        grads = getattr(layer, "grads", {}) if isinstance(getattr(layer, "grads", None), dict) else {}
        msgs = [diagnose(dX, want_dX, n_out, case.B, "∂E/∂X (lo que devuelve backward)")]
        msgs += [diagnose(grads.get(k), ref.grads[k], X.shape[0], case.B, f"grads['{k}']")
                 for k in ref.grads]
        msgs = [m for m in msgs if m]
        if not msgs:
            return True, ""
        try:
            own_ok = check_layer(layer, X.copy()).ok
        except Exception:
            own_ok = False
        return False, ("tu forward está bien, tu backward no: " + "; ".join(msgs)
                       + ("" if own_ok else " (ae.check_layer, con tu propio forward, también falla)"))
