"""What the export tests share: a model of every kind, and the error bound that holds an
exported network's outputs against aenumpy's.

**The bound, from the arithmetic.** Each entry of a layer's pre-activation is a sum of k
products plus a bias, ``a = Σ_{i<k} w_i h_i + b``. In floating point (unit roundoff u = ε/2,
ε = 2⁻²³ for float32) each of the k additions and products rounds by at most u times a
partial sum, and every partial sum is at most ``S = Σ|w_i h_i| + |b|``. Two implementations
(aenumpy's, PyTorch's, ONNX's) add in different orders (BLAS blocks, FMA, direct loops), so
each carries its own rounding errors. Errors of random sign add like a random walk, about
``√k·u·S``; the worst case is ``k·u·S``. The bound takes

    δa_round = 2·√k·ε·S  = 4·√k·u·S,

four times the random-walk size and, for k ≤ 16, at least the worst case ``k·u·S``. The
error ``δh`` already in the layer's input comes from independent roundings of random sign
too, and passes through the weights the same way, in quadrature: ``√(Σ_i w_i² δh_i²)``. So
per layer

    δa = 2·√(k+1)·ε·S + √(W² δh²),          S = |W| |h| + |b|

(for a convolution, ``|W|`` and ``|h|`` convolved, ``W²`` and ``δh²`` too; k = c_in·kernel²,
the bias the (k+1)-th term). An activation with ``|f'| ≤ c`` (sigmoid ¼; tanh, ReLU,
identity 1) passes ``c·δa``, and its own evaluation (exp, tanh) rounds within a few ulps:
``δz = c·δa + 4ε|z|``. Max pooling passes each window's largest δ
(``|max a − max a'| ≤ max |a − a'|``); upsampling, flattening and reshaping move δ with the
values; a top-k mask multiplies δ by the mask, which holds when both sides keep the same
units: :func:`bound` checks that each row's k-th and (k+1)-th keys are further apart than
the keys' errors. Compounded layer by layer, δ bounds a float32 implementation's distance
from the exact (float64) output, entry by entry, so two of them differ by at most 2δ.
``test_export.py`` checks both halves: aenumpy's own float32 outputs lie within δ of the
exact ones (well within: the bound is not tuned to one machine's rounding), and δ stays
below 1e-4 of the output's scale, far below what a wrong weight, layout or operator gives.
"""
from __future__ import annotations

import numpy as np

import aenumpy as ae
from aenumpy import layers as L
from aenumpy.backend import teaching_class
from aenumpy.regularizers import TopK

R = ae.regularizers


# --------------------------------------------------------------------- the models
def _conv_mixed():
    """Convolution, top-k on a feature map, pooling, Flatten, Dense, and back through
    Reshape, upsampling by 3 and a transposed convolution: two-channel 9×9 images."""
    encoder = [L.Conv2D(2, 3, 3, padding=1, activation="tanh"), L.MaxPool2D(2), L.Flatten(),
               L.Dense(48, 10, "relu")]
    decoder = [L.Dense(10, 27, "relu"), L.Reshape((3, 3, 3)), L.Upsample2D(3),
               L.ConvTranspose2D(3, 2, 3, padding=1, activation="sigmoid")]
    return ae.ConvAutoencoder(encoder, decoder, input_shape=(2, 9, 9),
                              regularizers=[R.TopK(20, layer=0, by="value"), R.Dropout(0.2)])


#: one builder per case: every model kind, activation, tied and untied, masks, layer types
MODELS = {
    "dense": lambda: ae.Autoencoder(64, [32, 16], activation="tanh"),
    "dense_tied": lambda: ae.Autoencoder(64, [24], activation="relu", tied=True,
                                         output_activation="identity"),
    "dense_topk": lambda: ae.Autoencoder(
        64, [32, 16], activation="tanh", output_activation="identity",
        regularizers=[R.GaussianNoise(0.2), R.Dropout(0.3, layer=0), R.TopK(5, alpha=1.5)]),
    "vae": lambda: ae.VariationalAutoencoder(64, [24, 12], n_latent=4, activation="relu"),
    "vae_gaussian": lambda: ae.VariationalAutoencoder(64, [24], n_latent=4, activation="tanh",
                                                      decoder="gaussian"),
    "conv_pool": lambda: ae.ConvAutoencoder(*ae.models.conv_layers([4, 3]), input_shape=(1, 8, 8),
                                            loss="bce"),
    "conv_strided": lambda: ae.ConvAutoencoder(
        *ae.models.conv_layers([4, 3], "stride", "transposed"), input_shape=(1, 8, 8)),
    "conv_mixed": _conv_mixed,
    "conv_reshape": lambda: ae.ConvAutoencoder(      # Reshape of feature maps: Flatten, Unflatten
        [L.Conv2D(1, 2, 3, padding=1, activation="relu"), L.Reshape((8, 4, 4))],
        [L.Reshape((2, 8, 8)), L.Conv2D(2, 1, 3, padding=1, activation="sigmoid")],
        input_shape=(1, 8, 8)),
}


#: the U-Nets (exported as one part, the model, mapping images to logits)
UNETS = {
    "unet": lambda: ae.UNet(1, 3, channels=(3, 4), input_shape=(1, 8, 8)),
    "unet_noskip_bce": lambda: ae.UNet(2, 1, channels=(2, 3, 4), input_shape=(2, 8, 8),
                                       skips=False),
}


def make(name, seed=0, dtype="float32"):
    """Model ``name`` (of :data:`MODELS` or :data:`UNETS`) with every parameter drawn at
    random (biases too, which a freshly built dense layer holds at 0, so that a misplaced
    bias shows)."""
    model = {**MODELS, **UNETS}[name]()
    if dtype != "float32":
        model = model.astype(dtype)
    rng = np.random.default_rng(seed)
    for k, v in model.params.items():
        scale = 0.5 if k.endswith(".b") else np.sqrt(3.0 / max(1, v[0].size))
        low = 0.1 if model.family == "unet" and k.endswith(".b") else -scale
        v[...] = rng.uniform(low, scale, v.shape)     # a U-Net's ReLUs kept alive by its biases
    return model


def inputs(model, n=7, seed=1, dtype=None):
    """A batch of ``n`` random inputs in [0, 1) in the model's shape (images for a conv model)."""
    shape = tuple(model.input_shape) if model.family in ("conv", "unet") else (model.n_in,)
    return np.random.default_rng(seed).random((n, *shape)).astype(dtype or model.dtype)


def code_inputs(model, n=7, seed=2):
    """A batch of ``n`` random codes for the decoder."""
    shape = tuple(model.code_shape) if model.family == "conv" else (
        model.n_latent if model.family == "vae" else model.n_code,)
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype(model.dtype)


# ---------------------------------------------------------------------- the bound
SLOPE = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0, "identity": 1.0}


def _abs_affine(layer):
    """``(S, P, k)``: ``S(h) = |W| |h| + |b|``, ``P(δ) = √(W² δ²)`` and the sum's length k
    for an affine layer, in float64."""
    cls = teaching_class(type(layer))
    W = np.abs(np.asarray(layer.W if cls is L.Dense else layer.params["W"], np.float64))
    b = np.abs(np.asarray(layer.params["b"], np.float64))
    if cls is L.Dense:
        return (lambda h: np.abs(h) @ W.T + b), (lambda d: np.sqrt((d * d) @ (W * W).T)), layer.n_in
    args = dict(kernel_size=layer.kernel_size, stride=layer.stride, padding=layer.padding,
                activation="identity", dtype="float64")
    if cls is L.ConvTranspose2D:
        args["output_padding"] = layer.output_padding
    twin = cls(layer.c_in, layer.c_out, **args)
    k = layer.c_in * layer.kernel_size ** 2

    def through(h, W, b):
        twin.params = {"W": W, "b": b}
        return twin.forward(np.ascontiguousarray(h))
    return ((lambda h: through(np.abs(h), W, b)),
            (lambda d: np.sqrt(through(d * d, W * W, 0 * b))), k)


def _layer(layer, h, d, eps):
    """One layer on the float64 value ``h`` with input error bound ``d``: ``(h', d')``."""
    cls = teaching_class(type(layer))
    z = layer.forward(h)
    if cls in (L.Dense, L.Conv2D, L.ConvTranspose2D):
        S, P, k = _abs_affine(layer)
        da = 2.0 * np.sqrt(k + 1) * eps * S(h) + P(d)
        return z, SLOPE[layer.activation.name] * da + 4.0 * eps * np.abs(z)
    if cls is L.MaxPool2D:
        return z, L.MaxPool2D(layer.size).forward(d)
    return z, type(layer).forward(layer, d)   # upsample, flatten, reshape: δ moves with h


def _mask(r, h, d):
    """A top-k mask from the float64 values, checked to be the one both sides keep."""
    rows, drows = h.reshape(len(h), -1), d.reshape(len(d), -1)
    kept = r.units_kept(rows.shape[1], training=False)
    if kept >= rows.shape[1]:
        return h, d
    keys = np.sort(np.abs(rows) if r.by == "abs" else rows, axis=1)[:, ::-1]
    gap = keys[:, kept - 1] - keys[:, kept]
    assert np.all(gap > 4 * drows.max(axis=1)), "a top-k tie within rounding: pick other inputs"
    M = r.mask(rows, None, False).reshape(h.shape)
    return h * M, d * M


def _through(layers, h, d, eps, masks=None):
    for i, layer in enumerate(layers):
        h, d = _layer(layer, h, d, eps)
        if masks and i in masks:
            h, d = _mask(masks[i], h, d)
    return h, d


def bound(model, X, part="model"):
    """``[(exact, δ), …]``, one pair per output of ``model``'s ``part`` on ``X``: the exact
    (float64) output and the bound δ on a float32 implementation's distance from it, entry
    by entry (module docstring). ``part``: ``"model"`` → x̂, ``"encoder"`` → the code (a
    VAE's μ and log σ²), ``"decoder"`` → x̂ (a Gaussian VAE's x̂ and log σ²_x)."""
    with ae.backend.use_fast(False):
        m = model.astype("float64")                  # the teaching layers, in float64
    eps = float(np.finfo(model.dtype).eps)
    h = np.asarray(X, np.float64)
    d = np.zeros_like(h)
    masks = {r.layer_index(m): r for r in m.regularizers if type(r) is TopK}
    if m.family != "vae":
        if part != "decoder":
            h, d = _through(m.encoder, h, d, eps, masks)
        return [(h, d)] if part == "encoder" else [_through(m.decoder, h, d, eps)]
    if part != "decoder":
        h, d = _through(m.encoder, h, d, eps)
        mu = _layer(m.mu_head, h, d, eps)
        if part == "encoder":
            return [mu, _layer(m.logvar_head, h, d, eps)]
        h, d = mu
    h, d = _through(m.decoder, h, d, eps)
    out = [_layer(m.out, h, d, eps)]
    if part == "decoder" and m.out_logvar is not None:
        out.append(_layer(m.out_logvar, h, d, eps))
    return out


def unet_bound(model, X):
    """``[(exact, δ)]`` for a U-Net's logits on X: :func:`bound`'s rule through the U-Net's
    graph; at a concatenation the δ of the upsampled path and of the skip are concatenated
    as the values are."""
    with ae.backend.use_fast(False):
        m = model.astype("float64")
    eps = float(np.finfo(model.dtype).eps)
    h = np.asarray(X, np.float64)
    d, kept = np.zeros_like(h), []
    for (conv0, conv1), pool in zip(m.down, m.pools):
        h, d = _through([conv0, conv1], h, d, eps)
        kept.append((h, d))
        h, d = _layer(pool, h, d, eps)
    h, d = _through(list(m.bottom), h, d, eps)
    for i in reversed(range(len(m.up))):
        h, d = _layer(m.upsamples[i], h, d, eps)
        if m.skips:
            h, d = (np.concatenate([a, b], axis=1) for a, b in zip((h, d), kept[i]))
        h, d = _through(list(m.up[i]), h, d, eps)
    return [_layer(m.head, h, d, eps)]


def aenumpy_outputs(model, X, part="model"):
    """aenumpy's own outputs of ``part`` (as :func:`bound` lists them)."""
    if model.family == "unet":
        return [model.forward(X)]
    if part == "encoder":
        out = model.encode(X)
        return list(out) if model.family == "vae" else [out]
    if part == "decoder":
        if model.family == "vae" and model.out_logvar is not None:
            return [model.decode(X), model.decode_logvar(X)]
        return [model.decode(X)]
    return [model.reconstruct(X)]


def assert_within(got, ref, d, what=""):
    """``|got − ref| ≤ 2δ`` entry by entry: two float32 implementations, each within δ of the
    exact value (module docstring); the worst entry in the message."""
    got = np.asarray(got, np.float64).reshape(d.shape)
    ref = np.asarray(ref, np.float64).reshape(d.shape)
    err = np.abs(got - ref)
    i = np.unravel_index(np.argmax(err / (2 * d + 1e-300)), d.shape)
    assert np.all(err <= 2 * d), (f"{what}: entry {i} is {got[i]!r}, aenumpy's {ref[i]!r}, "
                                  f"bound ± {2 * d[i]:.3g} (off by {err[i]:.3g})")


def check_outputs(got, model, X, part="model", what=""):
    """Each of ``got`` (an exported network's outputs of ``part`` on X) within 2δ of aenumpy's."""
    refs = aenumpy_outputs(model, X, part)
    bounds = unet_bound(model, X) if model.family == "unet" else bound(model, X, part)
    assert len(got) == len(refs), f"{what}: {len(got)} outputs, expected {len(refs)}"
    for i, (g, r, (_, d)) in enumerate(zip(got, refs, bounds)):
        assert_within(g, r, d, f"{what} output {i}")
