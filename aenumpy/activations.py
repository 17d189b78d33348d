"""Activation functions σ and their derivatives, as the lecture writes them.

Every activation is given as a value ``f(a)`` and a derivative ``f'(a)``. Because
the derivative of each of the four is a function of the output ``z = f(a)``
alone (sigmoid: ``z(1 − z)``, tanh: ``1 − z²``, relu: ``1[z > 0]``, identity:
``1``), a layer only needs to keep ``z`` for its backward pass; ``a`` is passed
too so a student's own activation may use it. The second derivative ``f''`` is
needed by the contractive penalty (its gradient differentiates ``f'``).
"""
from __future__ import annotations

import numpy as np

from ._validate import check_name


def sigmoid(a):
    """Logistic function ``σ(a) = 1 / (1 + e^{−a})``, without overflow.

    Written as ``1/(1+e^{−|a|})`` for ``a ≥ 0`` and ``e^{−|a|}/(1+e^{−|a|})`` for
    ``a < 0`` so the exponential never sees a large positive argument.
    """
    a = np.asarray(a)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(a.dtype, copy=False)


def softplus(a):
    """``log(1 + e^a)`` computed stably as ``max(a, 0) + log1p(e^{−|a|})``."""
    a = np.asarray(a)
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


class Activation:
    """An elementwise activation: ``__call__(a) -> z``, ``grad(a, z) -> f'(a)``,
    ``grad2(a, z) -> f''(a)``. Subclass it to write your own."""

    name = "activation"

    def __call__(self, a):
        raise NotImplementedError

    def grad(self, a, z):
        raise NotImplementedError

    def grad2(self, a, z):
        raise NotImplementedError

    def __repr__(self):
        return self.name


class Sigmoid(Activation):
    """``σ(a) = 1/(1+e^{−a})``; ``σ' = z(1 − z)``; ``σ'' = z(1 − z)(1 − 2z)``."""

    name = "sigmoid"

    def __call__(self, a):
        return sigmoid(a)

    def grad(self, a, z):
        return z * (1 - z)

    def grad2(self, a, z):
        return z * (1 - z) * (1 - 2 * z)


class Tanh(Activation):
    """``tanh(a)``; ``tanh' = 1 − z²``; ``tanh'' = −2z(1 − z²)``."""

    name = "tanh"

    def __call__(self, a):
        return np.tanh(a)

    def grad(self, a, z):
        return 1 - z * z

    def grad2(self, a, z):
        return -2 * z * (1 - z * z)


class ReLU(Activation):
    """``max(0, a)``; derivative ``1[a > 0]`` (0 at the kink); second derivative 0."""

    name = "relu"

    def __call__(self, a):
        return np.maximum(a, 0)

    def grad(self, a, z):
        return (z > 0).astype(z.dtype)

    def grad2(self, a, z):
        return np.zeros_like(z)


class Identity(Activation):
    """``f(a) = a`` (a linear layer); ``f' = 1``; ``f'' = 0``."""

    name = "identity"

    def __call__(self, a):
        return np.array(a, copy=True)

    def grad(self, a, z):
        return np.ones_like(z)

    def grad2(self, a, z):
        return np.zeros_like(z)


class Softplus(Activation):
    """``softplus(a) = log(1 + e^a)``, a smooth ReLU; ``softplus' = σ(a)``;
    ``softplus'' = σ(a)(1 − σ(a))``. An activation written as a student writes one (its
    derivative needs ``a``, not only ``z``): it is not registered by name, so a model using it
    cannot be saved by name."""

    name = "softplus"

    def __call__(self, a):
        return softplus(a)

    def grad(self, a, z):
        return sigmoid(a)

    def grad2(self, a, z):
        s = sigmoid(a)
        return s * (1 - s)


ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "identity": Identity}
# "linear" is the name Keras uses for the identity.
ALIASES = {"linear": "identity"}


def get(name) -> Activation:
    """Activation by name ('sigmoid', 'tanh', 'relu', 'identity'/'linear') or instance."""
    if isinstance(name, Activation):
        return name
    check_name("activation", name, "'sigmoid', 'tanh', 'relu', 'identity' or an Activation")
    key = ALIASES.get(name, name)
    if key not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; expected one of {', '.join(map(repr, ACTIVATIONS))}")
    return ACTIVATIONS[key]()


def config_name(act):
    """What a model's configuration stores for an activation: the registered name of a
    built-in one (given as a name or as an object), or the object itself for a custom
    :class:`Activation` (which cannot be saved by name)."""
    a = get(act)
    return a.name if type(a) is ACTIVATIONS.get(a.name) else a
