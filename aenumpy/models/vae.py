"""The variational autoencoder (Kingma & Welling 2014), every backward pass by hand.

The last section of the lecture. The encoder gives, for each input ``x``, the
mean ``μ`` and the log-variance ``log σ²`` of a Gaussian ``q(z|x) = N(μ, σ²)``;
a code is drawn with the reparameterisation ``z = μ + σ ⊙ ε``, ``ε ~ N(0, I)``,
``σ = exp(½ log σ²)``; the decoder turns ``z`` into a distribution ``p(x|z)``.
The loss is the negative evidence lower bound (ELBO), per sample::

    E = −log p(x|z) + β · KL(q(z|x) ‖ N(0, I)),
    KL = −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j)                      (closed form)

averaged over the batch. Two decoders:

* ``"bernoulli"`` (images in [0, 1]): ``x̂ = sigmoid(a)`` and
  ``−log p(x|z) = Σ_i softplus(a_i) − x_i a_i``, the binary cross-entropy
  written from the pre-activation ``a`` so it is finite for any ``a``;
* ``"gaussian"`` (continuous data): a mean ``μ_x`` (identity output) and a
  log-variance ``log σ²_x`` per feature (the linear head ``out_logvar``), and
  ``−log p(x|z) = Σ_i ½ log 2π + ½ log σ²_x,i + (x_i − μ_x,i)² / (2σ²_x,i)``.

Layers (all :class:`aenumpy.layers.Dense`): ``enc0 … enc{L-1}`` (input to the
last hidden layer ``h``), the heads ``mu`` and ``logvar`` (linear, ``h`` to
``n_latent``), ``dec0 … dec{L-1}`` (``n_latent`` to the hidden sizes reversed),
``out`` (to ``n_in``) and, for the Gaussian decoder, ``out_logvar``.

Backward (one step, ``B`` the batch size, ``w`` the current KL weight)::

    δ_out  = ∂E/∂a_out                       (σ(a) − x)/B, or the Gaussian terms
    ∂E/∂z  = decoder backward of δ_out
    ∂E/∂μ       = ∂E/∂z + w μ / B
    ∂E/∂log σ²  = ∂E/∂z ⊙ ε ⊙ ½σ + w ½(σ² − 1) / B
    ∂E/∂h  = ∂E/∂μ W_μ + ∂E/∂log σ² W_logvar,   then the encoder backward.

Nothing is clipped: ``log σ²`` only ever enters ``exp`` through ``σ = exp(½ log σ²)``
and ``σ² = exp(log σ²)`` (which are the true values), the loss is summed in
float64, ``log q(z|x)`` in the likelihood estimate uses ``ε`` instead of
dividing by ``σ``, and the Gaussian decoder's residual is standardised as
``(x − μ_x) · exp(−½ log σ²_x)``. At ``log σ² = ±50`` everything is finite
(tests check it); an overflow can only happen where the true value itself is
beyond the dtype (``σ² > 3.4e38``, i.e. ``log σ² > 88`` in float32).
"""
from __future__ import annotations

import math

import numpy as np

from .. import activations, losses
from ..backend import build_exactly
from .._validate import (check_choice, check_data, check_dtype, check_float, check_hidden,
                         check_int)
from ..activations import softplus
from ..layers import Dense
from .base import Model

LOG2PI = math.log(2.0 * math.pi)
DECODERS = ("bernoulli", "gaussian")


def gaussian_kl(mu, logvar):
    """The VAE's KL term per sample (lecture, closed form):
    ``KL(N(μ, σ²) ‖ N(0, I)) = −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j)``, one value per row, in
    float64."""
    mu = np.asarray(mu).astype(np.float64)
    lv = np.asarray(logvar).astype(np.float64)
    return -0.5 * np.sum(1.0 + lv - mu * mu - np.exp(lv), axis=1)


def gaussian_kl_grad(mu, logvar):
    """The derivatives of :func:`gaussian_kl` of each sample: ``∂KL/∂μ = μ`` and
    ``∂KL/∂log σ² = ½(σ² − 1)`` with ``σ² = exp(log σ²)``, in the dtype of μ."""
    return mu, 0.5 * (np.exp(logvar) - 1.0)


def logsumexp(a, axis):
    """``log Σ exp(a)`` along ``axis`` without overflow: ``m + log Σ exp(a − m)``, m the max."""
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))


class VariationalAutoencoder(Model):
    """A variational autoencoder with hand-written backprop (lecture: the VAE section).

    Parameters
    ----------
    n_in : input size (784 for MNIST, 64 for the embedded digits).
    hidden : hidden sizes from the input to the last encoder layer, e.g. ``[400]``;
        the decoder uses them reversed. An int means one layer.
    n_latent : size of the latent code ``z``.
    activation : activation of every hidden layer (encoder and decoder).
    decoder : ``"bernoulli"`` (sigmoid output, binary cross-entropy; data in [0, 1])
        or ``"gaussian"`` (mean and per-feature log-variance).
    seed : seeds the initialisation and, through :attr:`rng`, every ε drawn.
    dtype : ``"float32"`` (train) or ``"float64"`` (check).
    beta : weight of the KL term (β-VAE, Higgins et al. 2017); 1 is the plain ELBO.
    kl_warmup : number of epochs over which the KL weight rises linearly from
        0 to β (Bowman et al. 2016); 0 means no warm-up. :func:`aenumpy.fit`
        drives it through :meth:`on_epoch_begin`.
    """

    family = "vae"

    def __init__(self, n_in, hidden, n_latent, activation="relu", decoder="bernoulli", seed=0,
                 dtype="float32", beta=1.0, kl_warmup=0):
        self.n_in = check_int("n_in", n_in, 1)
        self.hidden = check_hidden(hidden, example="[400]")
        self.n_latent = check_int("n_latent", n_latent, 1)
        #: the decoder's distribution p(x|z), the ``decoder`` argument ("bernoulli" or
        #: "gaussian"; ``self.decoder`` is the decoder's list of layers)
        self.likelihood = check_choice("decoder", decoder, DECODERS)
        self.seed = check_int("seed", seed, 0)
        self.dtype = check_dtype(dtype)
        self.beta = check_float("beta", beta, 0.0)
        self.kl_warmup = check_int("kl_warmup", kl_warmup, 0)
        self.activation = activations.get(activation)
        self._activation_name = activations.config_name(activation)
        #: the KL weight used by loss / loss_and_grads (β, or less during warm-up)
        self.kl_weight = self.kl_weight_at(0)

        init_rng = np.random.default_rng(self.seed)
        L = len(self.hidden)
        sizes = [self.n_in] + self.hidden
        mk = lambda i, o, act, name: Dense(i, o, act, rng=init_rng, dtype=self.dtype,  # noqa: E731
                                           name=name)
        self.encoder = [mk(sizes[i], sizes[i + 1], self.activation, f"enc{i}") for i in range(L)]
        self.encoder[0].needs_dX = False       # its input is the data
        self.mu_head = mk(self.hidden[-1], self.n_latent, "identity", "mu")
        self.logvar_head = mk(self.hidden[-1], self.n_latent, "identity", "logvar")
        dsizes = [self.n_latent] + self.hidden[::-1]
        self.decoder = [mk(dsizes[i], dsizes[i + 1], self.activation, f"dec{i}") for i in range(L)]
        gaussian = self.likelihood == "gaussian"
        self.out = mk(self.hidden[0], self.n_in, "identity" if gaussian else "sigmoid", "out")
        self.out_logvar = mk(self.hidden[0], self.n_in, "identity", "out_logvar") if gaussian else None
        self._collect_params()
        #: the Generator every ε is drawn from when no ``rng``/``eps`` is passed (principle 4)
        self._seed_rng()
        self._bce = losses.BinaryCrossEntropy()
        #: fit() calls each regularizer's on_epoch_begin; a VAE has none
        self.regularizers = []
        #: what the last forward pass computed (μ, log σ², σ, ε, z, terms, and the backward's)
        self.cache = {}

    # ------------------------------------------------------------------ info
    @property
    def layers(self):
        """Every Dense layer, in the order of :attr:`params`."""
        heads = [self.out] + ([self.out_logvar] if self.out_logvar is not None else [])
        return self.encoder + [self.mu_head, self.logvar_head] + self.decoder + heads

    def kl_weight_at(self, epoch) -> float:
        """KL weight at the start of ``epoch``: ``β · min(1, epoch / kl_warmup)`` (β without warm-up)."""
        if self.kl_warmup == 0:
            return self.beta
        return self.beta * min(1.0, epoch / self.kl_warmup)

    def on_epoch_begin(self, epoch, n_epochs):
        """Called by :func:`aenumpy.fit` before each epoch: sets the warm-up KL weight."""
        self.kl_weight = self.kl_weight_at(epoch)

    def get_config(self) -> dict:
        """Constructor arguments (JSON-serialisable), plus the current ``kl_weight``."""
        if not isinstance(self._activation_name, str):
            raise ValueError("activation is a custom Activation object and cannot be saved by name")
        return {"n_in": self.n_in, "hidden": list(self.hidden), "n_latent": self.n_latent,
                "activation": self._activation_name, "decoder": self.likelihood,
                "seed": self.seed, "dtype": self.dtype.name, "beta": self.beta,
                "kl_warmup": self.kl_warmup, "kl_weight": self.kl_weight}

    @classmethod
    def from_config(cls, cfg: dict):
        """Rebuild a model from :meth:`get_config` (fresh weights; ``load`` fills them)."""
        cfg = dict(cfg)
        kl_weight = cfg.pop("kl_weight", None)
        model = cls(**cfg)
        if kl_weight is not None:
            model.kl_weight = check_float("kl_weight", kl_weight, 0.0)
        return model

    def astype(self, dtype):
        """A copy of the model in another dtype (gradcheck uses a float64 copy)."""
        # built from the objects, not the saved config, so a custom Activation survives
        clone = build_exactly(type(self), self.n_in, self.hidden, self.n_latent,
                              activation=self.activation, decoder=self.likelihood,
                              seed=self.seed, dtype=np.dtype(dtype).name, beta=self.beta,
                              kl_warmup=self.kl_warmup)
        clone.kl_weight = self.kl_weight  # so a copy has the same KL weight
        return self._with_weights(clone)

    def __repr__(self):
        sizes = " → ".join(str(s) for s in [self.n_in] + self.hidden)
        back = " → ".join(str(s) for s in self.hidden[::-1] + [self.n_in])
        extra = f", β={self.beta:g}" if self.beta != 1.0 else ""
        extra += f", kl_warmup={self.kl_warmup}" if self.kl_warmup else ""
        return (f"VariationalAutoencoder({sizes} → (μ, log σ²) {self.n_latent} → {back}, "
                f"{self.activation.name}, decoder={self.likelihood}{extra}, {self.dtype.name}, "
                f"{self.runs_on})")

    # ---------------------------------------------------------- validation
    def validate(self, X, name="X", targets=True):
        """X as a batch ``(B, n_in)`` in the model's dtype; as the targets of a Bernoulli
        decoder it must lie in [0, 1] (principle 6)."""
        bern = targets and self.likelihood == "bernoulli"
        return check_data(X, self.n_in, self.dtype, name, unit_range=bern,
                          why="(the targets of a Bernoulli decoder)" if bern else "")

    def _eps(self, eps, B, rng):
        """ε of shape ``(B, n_latent)``: the one given (checked), else drawn from ``rng``."""
        if eps is None:
            return self._rng(rng).standard_normal((B, self.n_latent), dtype=self.dtype)
        if isinstance(eps, (str, bytes)):
            raise TypeError(f"eps must be an array of shape ({B}, {self.n_latent}), got a string")
        e = np.asarray(eps)
        if e.dtype == object or not np.issubdtype(e.dtype, np.number):
            raise TypeError(f"eps must hold numbers, got dtype {e.dtype}")
        if e.shape != (B, self.n_latent):
            raise ValueError(f"eps must have shape (batch, n_latent) = ({B}, {self.n_latent}), "
                             f"one ε per sample and latent unit; got {e.shape}")
        e = np.ascontiguousarray(e, dtype=self.dtype)
        if not np.all(np.isfinite(e)):
            raise ValueError("eps contains NaN or inf")
        return e

    # ------------------------------------------------------------- forward
    def _encode(self, X):
        """Encoder forward ``h = f(W x + b)`` per layer, then the linear heads μ and log σ²."""
        h = X
        for layer in self.encoder:
            h = layer.forward(h)
        return self._heads_forward(h)

    def _heads_forward(self, h):
        """``μ = W_μ h + b_μ`` and ``log σ² = W_logvar h + b_logvar``, two linear layers on
        the same h."""
        return self.mu_head.forward(h), self.logvar_head.forward(h)

    def _heads_backward(self, dmu, dlv):
        """Backward of the heads: their gradients, and ``∂E/∂h = ∂E/∂μ W_μ + ∂E/∂log σ² W_logvar``,
        the sum of both heads' contributions."""
        return self.mu_head.backward_from_delta(dmu) + self.logvar_head.backward_from_delta(dlv)

    def _decode(self, Z):
        """Decoder forward; returns the output layer's value (x̂ or μ_x) and, if
        Gaussian, log σ²_x (else None). The pre-activation stays in ``out.cache``."""
        g = Z
        for layer in self.decoder:
            g = layer.forward(g)
        lvx = self.out_logvar.forward(g) if self.out_logvar is not None else None
        return self.out.forward(g), lvx

    @staticmethod
    def std(logvar):
        """``σ = exp(½ log σ²)``, the standard deviation (not σ²) from the log-variance."""
        return np.exp(0.5 * logvar)

    @staticmethod
    def reparameterize(mu, logvar, eps):
        """The reparameterisation ``z = μ + σ ⊙ ε``, ``σ = exp(½ log σ²)`` (:meth:`std`)."""
        return mu + VariationalAutoencoder.std(logvar) * eps

    def encode(self, X):
        """``(μ, log σ²)`` of ``q(z|x)`` for each row of X, each ``(B, n_latent)``."""
        return self._encode(self.validate(X, targets=False))

    def decode(self, Z):
        """The decoder's mean for codes Z ``(B, n_latent)``: the probabilities x̂
        (Bernoulli) or the mean μ_x (Gaussian)."""
        Z = check_data(Z, self.n_latent, self.dtype, "Z")
        return self._decode(Z)[0]

    def decode_logvar(self, Z):
        """Gaussian decoder only: ``log σ²_x`` for codes Z."""
        if self.out_logvar is None:
            raise ValueError("decode_logvar needs decoder='gaussian'")
        Z = check_data(Z, self.n_latent, self.dtype, "Z")
        return self._decode(Z)[1]

    def reconstruct(self, X):
        """``decode(μ)``: the decoder's mean at the posterior mean (no sampling)."""
        mu, _ = self._encode(self.validate(X, targets=False))
        return self._decode(mu)[0]

    def sample(self, n, rng=None):
        """``n`` new samples: ``z ~ N(0, I)`` (the prior) decoded to the decoder's mean."""
        n = check_int("n", n, 1)
        Z = self._rng(rng).standard_normal((n, self.n_latent), dtype=self.dtype)
        return self._decode(Z)[0]

    def sample_posterior(self, X, eps=None, rng=None):
        """Codes drawn from ``q(z|x)`` by the reparameterisation ``z = μ + σ ⊙ ε``."""
        X = self.validate(X, targets=False)
        eps = self._eps(eps, X.shape[0], rng)
        mu, lv = self._encode(X)
        return self.reparameterize(mu, lv, eps)

    # ---------------------------------------------------------------- loss
    def _nll(self, X, out, lvx, need_grad, per_sample=False):
        """Reconstruction −log p(x|z): summed over features, averaged over the batch
        (or per sample, float64); with ``need_grad`` also ``∂E/∂a_out`` (and
        ``∂E/∂a_logvar`` for the Gaussian decoder) for the batch mean."""
        B = X.shape[0]
        A = self.out.cache["A"]
        if self.likelihood == "bernoulli":
            if per_sample:
                a = A.astype(np.float64)
                return np.sum(softplus(a) - X * a, axis=1), None, None
            # the binary cross-entropy from the logits: Σ softplus(a) − x a, δ = (σ(a) − x)/B
            E, dA = self._bce.value_and_delta(X, A, out, self.out.activation, need_grad)
            return E, dA, None
        inv_s = np.exp(-0.5 * lvx)
        r = (X - out) * inv_s  # standardised residual (x − μ_x)/σ_x
        per = 0.5 * LOG2PI + 0.5 * lvx.astype(np.float64) + 0.5 * np.square(r, dtype=np.float64)
        if per_sample:
            return per.sum(axis=1), None, None
        E = float(per.sum()) / B
        if not need_grad:
            return E, None, None
        dA = -(r * inv_s) / B                # ∂/∂μ_x of (x − μ_x)²/(2σ²_x)
        dL = 0.5 * (1.0 - r * r) / B         # ∂/∂log σ²_x of ½ log σ²_x + ½ r²
        return E, dA.astype(self.dtype, copy=False), dL.astype(self.dtype, copy=False)

    def _objective(self, X, eps, weight, need_grad, target=None):
        """Forward pass with caches; returns E (float) and fills :attr:`cache`. The
        likelihood scores ``target`` (X by default)."""
        mu, lv = self._encode(X)
        z = self.reparameterize(mu, lv, eps)
        sigma = self.std(lv)                  # kept for the backward: ∂z/∂log σ² = ε ⊙ ½σ
        out, lvx = self._decode(z)
        rec, dA, dL = self._nll(X if target is None else target, out, lvx, need_grad)
        kl = float(np.mean(gaussian_kl(mu, lv)))
        E = rec + weight * kl
        self.cache = {"x": X, "mu": mu, "logvar": lv, "sigma": sigma, "eps": eps, "z": z,
                      "out": out, "out_logvar": lvx, "reconstruction": rec, "kl": kl,
                      "kl_weight": weight, "E": E, "dA_out": dA, "dA_out_logvar": dL}
        return E

    def _backward(self):
        """Backprop from the cached forward; returns the grads dict (keys of :attr:`params`)."""
        c = self.cache
        B = c["x"].shape[0]
        w = c["kl_weight"]
        d = self.out.backward_from_delta(c["dA_out"])
        if self.out_logvar is not None:
            d = d + self.out_logvar.backward_from_delta(c["dA_out_logvar"])
        for layer in reversed(self.decoder):
            d = layer.backward(d)
        dz = d
        mu, sigma, eps = c["mu"], c["sigma"], c["eps"]
        kl_mu, kl_lv = gaussian_kl_grad(mu, c["logvar"])    # ∂KL/∂μ, ∂KL/∂log σ² per sample
        dmu = dz + (w / B) * kl_mu
        dlv = dz * eps * (0.5 * sigma) + (w / B) * kl_lv
        c.update(dz=dz, dmu=dmu, dlogvar=dlv)
        dh = self._heads_backward(dmu, dlv)
        for layer in reversed(self.encoder):
            dh = layer.backward(dh)
        return self._collect_grads()

    def loss_and_grads(self, X, eps=None, rng=None, checked=False, Y=None):
        """Negative ELBO (with the KL weight) on batch X and its gradient for every parameter.

        ``eps`` ``(B, n_latent)`` fixes ε; otherwise it is drawn from ``rng`` or
        :attr:`rng`. Returns ``(loss, grads)``, ``grads`` keyed like :attr:`params`.
        ``Y``, one target per row of X, is what the decoder's likelihood scores instead of X
        (``−log p(y|z)``). ``checked=True`` skips the checks of X and Y.
        """
        X, T = self._inputs_and_targets(X, Y, checked)
        eps = self._eps(eps, X.shape[0], rng)
        E = self._objective(X, eps, self.kl_weight, need_grad=True, target=T)
        return E, self._backward()

    def loss(self, X, eps=None, rng=None, checked=False, training=True, Y=None) -> float:
        """The objective of :meth:`loss_and_grads`: mean over the batch of
        ``−log p(x|z) + w · KL``, ``w`` the current KL weight. A VAE has no dropout or
        top-k: its objective is the same in evaluation mode (``training=False``, as
        :func:`aenumpy.fit` reports the validation loss), ε drawn as in training."""
        X, T = self._inputs_and_targets(X, Y, checked)
        eps = self._eps(eps, X.shape[0], rng)
        return self._objective(X, eps, self.kl_weight, need_grad=False, target=T)

    def elbo(self, X, eps=None, rng=None) -> float:
        """Mean per-sample ELBO ``E_q[log p(x|z)] − KL`` (one z per sample, β = 1 always)."""
        X = self.validate(X)
        eps = self._eps(eps, X.shape[0], rng)
        return -self._objective(X, eps, 1.0, need_grad=False)

    def log_likelihood(self, X, k=100, rng=None, per_sample=False):
        """Importance-weighted estimate of ``log p(x)`` (Burda, Grosse & Salakhutdinov 2015).

        With ``z_j = μ + σ ⊙ ε_j`` (j = 1 … k) and the weights
        ``log w_j = log p(x|z_j) + log N(z_j; 0, I) − log N(z_j; μ, σ²)``,
        ``log p(x) ≈ log (1/k) Σ_j w_j``, computed with log-sum-exp. ``k = 1``
        is a one-sample ELBO; the estimate grows towards ``log p(x)`` with k.
        Returns the mean over the rows of X (or the per-sample values).
        """
        X = self.validate(X)
        k = check_int("k", k, 1)
        rng = self._rng(rng)
        mu, lv = self._encode(X)
        lv64 = lv.astype(np.float64)
        N = X.shape[0]
        logw = np.empty((N, k))
        for j in range(k):
            eps = rng.standard_normal((N, self.n_latent), dtype=self.dtype)
            z = self.reparameterize(mu, lv, eps)
            out, lvx = self._decode(z)
            nll = self._nll(X, out, lvx, need_grad=False, per_sample=True)[0]
            z64, e64 = z.astype(np.float64), eps.astype(np.float64)
            log_pz = -0.5 * np.sum(z64 * z64 + LOG2PI, axis=1)
            log_qz = -0.5 * np.sum(e64 * e64 + LOG2PI + lv64, axis=1)  # (z − μ)/σ = ε
            logw[:, j] = -nll + log_pz - log_qz
        ll = logsumexp(logw, axis=1) - math.log(k)
        return ll if per_sample else float(np.mean(ll))
