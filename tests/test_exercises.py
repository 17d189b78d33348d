"""``ae.exercises``: for every exercise, the reference passes its own check, a blank gives
"todavía sin escribir" and no exception, and at least two typical mistakes (written here as
code) fail with a message that points at the mistake. Also: the check never raises for
anything the student's function does, it tells a wrong forward from a wrong gradient, and the
library functions added as references match their formulas and finite differences."""
from __future__ import annotations

import re

import numpy as np
import pytest

import aenumpy as ae
from aenumpy.activations import sigmoid
from aenumpy.exercises.compare import diagnose

EX = ae.exercises
NAMES = EX.names()


def sig(a):
    return 1.0 / (1.0 + np.exp(-a))


# ---------------------------------------------------------------- typical mistakes, as code
def fwd_no_output_sigmoid(X, W, b, W2, b2):
    Z = sig(X @ W.T + b)
    return Z, Z @ W2.T + b2


def fwd_swapped(X, W, b, W2, b2):
    Z = sig(X @ W.T + b)
    return sig(Z @ W2.T + b2), Z


def delta_no_derivative(X, A2):
    Xh = sig(A2)
    return 0.5 * np.sum((X - Xh) ** 2) / len(X), (Xh - X) / len(X)


def delta_sum(X, A2):
    Xh = sig(A2)
    return 0.5 * np.sum((X - Xh) ** 2), (Xh - X) * Xh * (1 - Xh)


def delta_sign(X, A2):
    Xh = sig(A2)
    return 0.5 * np.sum((X - Xh) ** 2) / len(X), (X - Xh) * Xh * (1 - Xh) / len(X)


def _bwd(X, W, b, W2, b2, enc_derivative=True, transpose=False):
    Z = sig(X @ W.T + b)
    Xh = sig(Z @ W2.T + b2)
    d2 = (Xh - X) * Xh * (1 - Xh) / len(X)
    d = (d2 @ W2) * (Z * (1 - Z) if enc_derivative else 1)
    dW = X.T @ d if transpose else d.T @ X
    return 0.5 * np.sum((X - Xh) ** 2) / len(X), dW, d2.T @ Z


def bwd_no_encoder_derivative(*a):
    return _bwd(*a, enc_derivative=False)


def bwd_transposed(*a):
    return _bwd(*a, transpose=True)


def _softplus_layer(backward):
    class SoftplusDense:
        def __init__(self, n_in, n_out, rng):
            self.params = {"W": rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)), "b": np.zeros(n_out)}
            self.grads, self.cache = {}, {}

        def forward(self, X):
            A = X @ self.params["W"].T + self.params["b"]
            self.cache = {"X": X, "A": A}
            return ae.activations.softplus(A)

    SoftplusDense.backward = backward
    return SoftplusDense


def _sp_missing_derivative(self, dZ):
    X, A = self.cache["X"], self.cache["A"]
    dA = dZ
    self.grads = {"W": dA.T @ X, "b": dA.sum(axis=0)}
    return dA @ self.params["W"]


def _sp_mean_bias(self, dZ):
    X, A = self.cache["X"], self.cache["A"]
    dA = dZ * sigmoid(A)
    self.grads = {"W": dA.T @ X, "b": dA.mean(axis=0)}
    return dA @ self.params["W"]


def _tanh_layer(derivative_of_A=False, transposed=False):
    class TanhDense:
        def __init__(self, n_in, n_out, rng):
            self.params = {"W": rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)), "b": np.zeros(n_out)}
            self.grads = {}

        def forward(self, X):
            A = X @ self.params["W"].T + self.params["b"]
            self.cache = (X, A, np.tanh(A))
            return self.cache[2]

        def backward(self, dZ):
            X, A, Z = self.cache
            dA = dZ * (1 - (A if derivative_of_A else Z) ** 2)
            self.grads = {"W": X.T @ dA if transposed else dA.T @ X, "b": dA.sum(axis=0)}
            return dA @ self.params["W"]

    return TanhDense


def mask_inverted(X, p, rng):
    return X * (rng.random(X.shape) < p)


def mask_rescaled(X, p, rng):
    return X * (rng.random(X.shape) >= p) / (1 - p)


def dn_against_noisy(X, Xt, Xh):
    return 0.5 * np.sum((Xt - Xh) ** 2) / len(X), (Xh - Xt) / len(X)


def dn_no_half(X, Xt, Xh):
    return np.sum((X - Xh) ** 2) / len(X), (Xh - X) / len(X)


def ent_nats(p):
    p = np.asarray(p)
    nz = p > 0
    return float(-np.sum(p[nz] * np.log(p[nz])))


def ent_no_zero_convention(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-np.sum(p * np.log2(p)))


def kl_wrong_sign(rho, rh):
    return float(np.sum(rho * np.log(rho / rh) + (1 - rho) * np.log((1 - rho) / (1 - rh)))), \
        rho / rh - (1 - rho) / (1 - rh)


def kl_half_gradient(rho, rh):
    return float(np.sum(rho * np.log(rho / rh) + (1 - rho) * np.log((1 - rho) / (1 - rh)))), -rho / rh


def topk_by_value(Z, k):
    idx = np.argsort(-Z, axis=1)[:, :k]
    b = np.zeros_like(Z)
    np.put_along_axis(b, idx, 1, axis=1)
    return Z * b


def topk_mask_only(Z, k):
    idx = np.argsort(-np.abs(Z), axis=1)[:, :k]
    b = np.zeros_like(Z)
    np.put_along_axis(b, idx, 1, axis=1)
    return b


def jn_no_square(X, W, b):
    h = sig(X @ W.T + b)
    return (h * (1 - h)) @ (W ** 2).sum(axis=1)


def jn_batch_mean(X, W, b):
    h = sig(X @ W.T + b)
    return float(np.mean(((h * (1 - h)) ** 2) @ (W ** 2).sum(axis=1)))


def _contractive(X, W, b, direct=True, through_a=True, two=2.0):
    B = len(X)
    h = sig(X @ W.T + b)
    g = h * (1 - h)
    S = (W ** 2).sum(axis=1)
    value = float(np.sum((g ** 2) @ S)) / B
    dW = np.zeros_like(W)
    if direct:
        dW += two / B * (g ** 2).sum(axis=0)[:, None] * W
    if through_a:
        dW += (two / B * g * g * (1 - 2 * h) * S).T @ X
    return value, dW


def cg_direct_only(X, W, b):
    return _contractive(X, W, b, through_a=False)


def cg_through_a_only(X, W, b):
    return _contractive(X, W, b, direct=False)


def cg_no_factor_two(X, W, b):
    return _contractive(X, W, b, two=1.0)


def rep_sigma_squared(mu, lv, eps):
    return mu + np.exp(lv) * eps


def rep_no_exp(mu, lv, eps):
    return mu + 0.5 * lv * eps


def kl_sigma(mu, lv):
    return -0.5 * np.sum(1 + lv - mu ** 2 - np.exp(0.5 * lv), axis=1)


def kl_sign(mu, lv):
    return 0.5 * np.sum(1 + lv - mu ** 2 - np.exp(lv), axis=1)


def kl_batch_mean(mu, lv):
    return float(np.mean(-0.5 * np.sum(1 + lv - mu ** 2 - np.exp(lv), axis=1)))


def klg_no_half(mu, lv):
    B = len(mu)
    return kl_batch_mean(mu, lv), mu / B, (np.exp(lv) - 1) / B


def klg_no_batch(mu, lv):
    return kl_batch_mean(mu, lv), mu, 0.5 * (np.exp(lv) - 1)


def thr_alpha(e, a):
    return float(np.quantile(e, a))


def thr_percentile_fraction(e, a):
    return float(np.percentile(e, 1 - a))


def _pairs(scores, labels, tie):
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float(np.mean(pos[:, None] > neg[None, :]) + tie * np.mean(pos[:, None] == neg[None, :]))


def auc_inverted(s, y):
    return 1 - _pairs(s, y, 0.5)


def auc_ties_zero(s, y):
    return _pairs(s, y, 0.0)


def _conv_loops(X, W, b, stride, padding, flip=False, bias=True):
    if flip:
        W = W[:, :, ::-1, ::-1]
    B, C, H, Wd = X.shape
    co, _, k, _ = W.shape
    Xp = np.pad(X, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho, Wo = (H + 2 * padding - k) // stride + 1, (Wd + 2 * padding - k) // stride + 1
    A = np.zeros((B, co, Ho, Wo))
    for n in range(B):
        for o in range(co):
            for y in range(Ho):
                for x in range(Wo):
                    A[n, o, y, x] = np.sum(W[o] * Xp[n, :, y * stride:y * stride + k,
                                                   x * stride:x * stride + k]) + (b[o] if bias else 0)
    return A


def conv_flipped(*a):
    return _conv_loops(*a, flip=True)


def conv_no_bias(*a):
    return _conv_loops(*a, bias=False)


def pool_all_ties(X, dZ):
    dX = np.zeros_like(X)
    for y in range(dZ.shape[2]):
        for x in range(dZ.shape[3]):
            w = X[:, :, 2 * y:2 * y + 2, 2 * x:2 * x + 2]
            m = w == w.max(axis=(2, 3), keepdims=True)
            dX[:, :, 2 * y:2 * y + 2, 2 * x:2 * x + 2] = m * dZ[:, :, y:y + 1, x:x + 1]
    return dX


def pool_spread(X, dZ):
    dX = np.zeros_like(X)
    h, w = dZ.shape[2] * 2, dZ.shape[3] * 2
    dX[:, :, :h, :w] = np.kron(dZ, np.ones((2, 2))) / 4
    return dX


def ratio_after(before, after):
    return float(np.linalg.norm(after - before) / np.linalg.norm(after))


def ratio_squared(before, after):
    return float(np.sum((after - before) ** 2) / np.sum(before ** 2))


def dead_entries(Z):
    return float(np.mean(Z == 0))


def dead_count(Z):
    top = Z.reshape(len(Z), -1).max(axis=0)
    return float(np.sum(top <= 0))


def _class_counts(Y, P, K):
    inter = np.array([np.sum((Y == c) & (P == c)) for c in range(K)], dtype=float)
    return inter, np.bincount(Y.ravel(), minlength=K)[:K], np.bincount(P.ravel(), minlength=K)[:K]


def iou_whole_union(Y, P, K):
    inter, t, p = _class_counts(Y, P, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (t + p)


def iou_absent_zero(Y, P, K):
    inter, t, p = _class_counts(Y, P, K)
    union = t + p - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def dice_no_two(Y, P, K):
    inter, t, p = _class_counts(Y, P, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (t + p)


def dice_is_iou(Y, P, K):
    inter, t, p = _class_counts(Y, P, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (t + p - inter)


MISTAKES = {
    "01.forward": [(fwd_no_output_sigmoid, r"falta la sigmoide del decodificador"),
                   (fwd_swapped, r"en otro orden: devuelve \(Z, X̂\)")],
    "01.delta": [(delta_no_derivative, r"falta la derivada de la sigmoide"),
                 (delta_sum, r"B = 5 veces .*promediar"),
                 (delta_sign, r"tu forward está bien, tu gradiente no: δ': tiene el signo cambiado")],
    "01.backward": [(bwd_no_encoder_derivative, r"∂E/∂W: falta la derivada de la sigmoide del codificador"),
                    (bwd_transposed, r"tu gradiente no: ∂E/∂W: .*traspuesta")],
    "02.softplus_layer": [(_softplus_layer(_sp_missing_derivative),
                           r"tu forward está bien, tu backward no: ∂E/∂X"),
                          (_softplus_layer(_sp_mean_bias), r"grads\['b'\]: sale lo esperado / B")],
    "02.tanh_layer": [(_tanh_layer(derivative_of_A=True), r"tu forward está bien, tu backward no"),
                      (_tanh_layer(transposed=True), r"grads\['W'\]: .*traspuesta")],
    "03.masking": [(mask_inverted, r"borras con probabilidad 1 − p"),
                   (mask_rescaled, r"proporcional a lo esperado, pero 1.429 veces")],
    "03.denoising_loss": [(dn_against_noisy, r"entrada ruidosa x̃"),
                          (dn_no_half, r"E: sale el doble .*½")],
    "04.entropy": [(ent_nats, r"logaritmo natural \(nats\).*bits"),
                   (ent_no_zero_convention, r"NaN o inf .*log\(0\)")],
    "04.kl_grad": [(kl_wrong_sign, r"tu gradiente no: ∂s/∂ρ̂ tiene el signo cambiado"),
                   (kl_half_gradient, r"tu forward está bien, tu gradiente no: ∂s/∂ρ̂.*diferencias finitas")],
    "04.topk": [(topk_by_value, r"mayores valores .* \|z_i\|"),
                (topk_mask_only, r"devuelves la máscara b")],
    "05.jacobian_norm": [(jn_no_square, r"falta elevar al cuadrado"),
                         (jn_batch_mean, r"se esperaba forma \(5,\): ¿has sumado o promediado")],
    "05.contractive_grad": [(cg_direct_only, r"sólo tiene la parte directa"),
                            (cg_through_a_only, r"falta la directa"),
                            (cg_no_factor_two, r"tu gradiente no: ∂Ω/∂W: sale la mitad")],
    "06.reparam": [(rep_sigma_squared, r"σ² = exp\(log σ²\).*desviación típica"),
                   (rep_no_exp, r"falta el exp")],
    "06.kl": [(kl_sigma, r"usas σ = exp\(½ log σ²\) donde va la varianza"),
              (kl_sign, r"signo cambiado"),
              (kl_batch_mean, r"se esperaba forma \(4,\)")],
    "06.kl_grad": [(klg_no_half, r"falta el ½ de ½\(σ² − 1\)"),
                   (klg_no_batch, r"tu gradiente no: ∂KL/∂μ: sale B = 4 veces")],
    "07.threshold": [(thr_alpha, r"cuantil α.*1 − α"), (thr_percentile_fraction, r"np.percentile")],
    "07.auc": [(auc_inverted, r"invertida"), (auc_ties_zero, r"empates .* ½")],
    "08.conv2d": [(conv_flipped, r"giras el kernel 180°"), (conv_no_bias, r"falta sumar el sesgo")],
    "08.maxpool_backward": [(pool_all_ties, r"empates .* sólo el primero"),
                            (pool_spread, r"repartes dZ")],
    "09.update_ratio": [(ratio_after, r"después del paso"), (ratio_squared, r"al cuadrado")],
    "09.dead_fraction": [(dead_entries, r"cuentas entradas nulas"),
                         (dead_count, r"proporcional a lo esperado, pero 10 veces")],
    "10.iou": [(iou_whole_union, r"resta \|T_c ∩ P_c\|"), (iou_absent_zero, r"va NaN, no 0")],
    "10.dice": [(dice_no_two, r"sale la mitad"), (dice_is_iou, r"eso es la IoU")],
}


def test_there_are_enough_exercises():
    assert len(NAMES) >= 20
    for nb in range(1, 11):
        assert len(EX.names(nb)) >= 2, f"notebook {nb:02d} has fewer than 2 exercises"


def test_every_exercise_has_two_mistakes_in_these_tests():
    assert set(MISTAKES) == set(NAMES)
    assert all(len(m) >= 2 for m in MISTAKES.values())


@pytest.mark.parametrize("name", NAMES)
def test_reference_passes_its_own_check(name):
    r = EX.check(name, EX.reference(name))
    assert r.ok, r
    assert r.written and len(r.rows) >= 3
    assert "correcto" in repr(r) and name in repr(r)


class _BlankLayer:
    """The student edition's layer: built, but its backward is still a blank."""

    def __init__(self, n_in, n_out, rng):
        self.params = {"W": np.zeros((n_out, n_in)), "b": np.zeros(n_out)}
        self.grads = {}

    def forward(self, X):
        return ae.activations.softplus(X @ self.params["W"].T + self.params["b"])

    def backward(self, dZ):
        raise NotImplementedError()


class _BlankForward(_BlankLayer):
    def forward(self, X):
        raise NotImplementedError()


@pytest.mark.parametrize("name", NAMES)
def test_a_blank_is_not_written_yet(name):
    def blank(*args):
        # TU CÓDIGO AQUÍ
        raise NotImplementedError()

    layers = (_BlankForward, _BlankLayer) if name == "02.softplus_layer" else (_BlankForward,)
    for fn in (blank, *layers) if EX.get(name).answer == "layer" else (blank,):
        r = EX.check(name, fn)
        assert not r.ok and not r.written
        assert "todavía sin escribir" in repr(r) and "Traceback" not in repr(r)
        assert r.message == "todavía sin escribir"


@pytest.mark.parametrize("name,i", [(n, i) for n in NAMES for i in range(len(MISTAKES.get(n, [])))])
def test_a_typical_mistake_is_named(name, i):
    fn, pattern = MISTAKES[name][i]
    r = EX.check(name, fn)
    assert not r.ok
    assert re.search(pattern, r.message), f"{name}: {r.message!r} does not match {pattern!r}"
    assert "✗" in repr(r)


def test_the_check_never_raises():
    def boom(*a):
        raise ZeroDivisionError("división")

    odd = [boom, lambda *a: None, lambda *a: "texto", lambda *a: {"a": 1}, lambda *a: (1, 2, 3, 4),
           lambda *a: np.full((2, 2), np.nan), lambda: 0, lambda *a: [[1, 2], [3]]]
    for name in NAMES:
        for fn in odd:
            r = EX.check(name, fn)
            assert not r.ok
            assert isinstance(repr(r), str) and r.message
    r = EX.check("04.entropy", boom)
    assert "ZeroDivisionError: división" in r.message
    assert not EX.check("04.entropy", 3.0).ok          # not even a function


def test_a_student_function_that_writes_into_its_inputs_spoils_nothing():
    def in_place(mu, lv, eps):
        eps *= np.exp(0.5 * lv)
        eps += mu
        mu[...] = 0.0
        return eps

    assert EX.check("06.reparam", in_place).ok


def test_a_wrong_forward_with_its_own_gradient_is_told_apart():
    """The student's gradient agrees with finite differences of the student's own (wrong)
    value: the message puts the fault in the forward."""
    def wrong_forward(X, Xt, Xh):          # ⅓ instead of ½, and its own consistent gradient
        return np.sum((X - Xh) ** 2) / 3 / len(X), 2 * (Xh - X) / 3 / len(X)

    r = EX.check("03.denoising_loss", wrong_forward)
    assert "tu gradiente sí es la derivada de tu forward" in r.message


def test_a_layer_that_breaks_its_own_gradient_check_says_so():
    r = EX.check("02.softplus_layer", _softplus_layer(_sp_missing_derivative))
    assert "ae.check_layer, con tu propio forward, también falla" in r.message


def test_api_errors_are_the_callers():
    with pytest.raises(ValueError, match="no exercise called 'nope'.*01.forward"):
        EX.check("nope", lambda: 0)
    with pytest.raises(TypeError):
        EX.describe(4)
    with pytest.raises(ValueError):
        EX.names("cuatro")
    assert EX.names(4) == EX.names("04") == ["04.entropy", "04.kl_grad", "04.topk"]


@pytest.mark.parametrize("name", NAMES)
def test_describe_is_spanish_with_a_signature(name):
    text = EX.describe(name)
    assert text.startswith(f"Ejercicio {name}") and "Firma: " in text


# ---------------------------------------------------------------- diagnosis
def test_diagnose_names_shapes_factors_and_transposes():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 5))
    assert diagnose(w + 1e-15, w) is None
    assert "traspuesta" in diagnose(w.T, w)
    sq = rng.standard_normal((4, 4))
    assert "traspuesta" in diagnose(sq.T, sq)
    assert "signo" in diagnose(-w, w)
    assert "B = 8 veces" in diagnose(8 * w, w, B=8)
    assert "/ B" in diagnose(w / 8, w, B=8)
    assert "el doble" in diagnose(2 * w, w)
    assert "la mitad" in diagnose(w / 2, w)
    assert "un número" in diagnose(np.array([1.0]), 1.0)
    assert "NaN" in diagnose(np.full(3, np.nan), np.ones(3))
    assert "no devuelve nada" in diagnose(None, w)
    assert "valores distintos (1 de 15)" in diagnose(w + np.eye(3, 5)[0:1].repeat(3, 0) * (np.arange(3) == 0)[:, None], w)


def test_tolerance_is_a_few_ulps_per_term_not_more():
    """A correct answer summed in another order passes; an error of 1e-9 relative fails."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(10_000)
    assert diagnose(float(np.sum(x[::-1])), float(np.sum(np.sort(x))), terms=x.size) is None
    v = float(np.sum(x))
    assert diagnose(v * (1 + 1e-9) + 1e-9, v, terms=x.size) is not None


# ---------------------------------------------------------------- the references added to the library
def test_bernoulli_kl_grad_is_the_derivative_of_bernoulli_kl():
    from aenumpy.regularizers.information import bernoulli_kl, bernoulli_kl_grad
    rh = np.array([0.01, 0.2, 0.5, 0.93])
    num = ae.numerical_gradient(lambda v: float(np.sum(bernoulli_kl(0.05, v))), rh.copy())
    np.testing.assert_allclose(bernoulli_kl_grad(0.05, rh), num, rtol=1e-7)


def test_gaussian_kl_grad_is_the_derivative_of_gaussian_kl():
    from aenumpy.models.vae import gaussian_kl, gaussian_kl_grad
    rng = np.random.default_rng(2)
    mu, lv = rng.standard_normal((3, 4)), rng.uniform(-3, 3, (3, 4))
    g_mu, g_lv = gaussian_kl_grad(mu, lv)
    np.testing.assert_allclose(g_mu, ae.numerical_gradient(lambda m: gaussian_kl(m, lv).sum(), mu.copy()),
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(g_lv, ae.numerical_gradient(lambda v: gaussian_kl(mu, v).sum(), lv.copy()),
                               rtol=1e-7, atol=1e-9)


def test_softplus_activation_derivatives():
    f = ae.activations.Softplus()
    a = np.linspace(-6, 6, 13)
    np.testing.assert_allclose(f.grad(a, f(a)), ae.numerical_gradient(lambda v: f(v).sum(), a.copy()),
                               rtol=1e-8)
    np.testing.assert_allclose(f.grad2(a, f(a)),
                               ae.numerical_gradient(lambda v: f.grad(v, None).sum(), a.copy()), rtol=1e-7)


def test_monitor_formulas():
    from aenumpy.monitor import dead_fraction, update_ratio
    before = np.array([[3.0, 0.0], [0.0, 4.0]])
    assert update_ratio(before, before + [[0.3, 0.0], [0.0, 0.4]]) == pytest.approx(0.1, rel=1e-15)
    assert update_ratio(np.zeros(3), np.ones(3)) is None
    Z = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]])
    assert dead_fraction(Z) == pytest.approx(1 / 3)


def test_anomaly_auc_is_the_mann_whitney_statistic():
    rng = np.random.default_rng(3)
    s = rng.integers(0, 6, 200).astype(float)
    y = (rng.random(200) < 0.3).astype(float)
    assert ae.anomaly.auc(s, y) == pytest.approx(_pairs(s, y, 0.5), abs=1e-12)
    fpr, tpr = ae.anomaly.roc_curve(s, y)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1 and len(fpr) == len(np.unique(s)) + 1
    e = rng.random(1000)
    t = ae.anomaly.threshold(e, 0.05)
    assert np.mean(e > t) == pytest.approx(0.05, abs=0.002)


def test_anomaly_refuses_bad_input():
    with pytest.raises(ValueError, match="both normal samples"):
        ae.anomaly.auc([1.0, 2.0], [1, 1])
    with pytest.raises(ValueError, match="0 \\(normal\\) or 1"):
        ae.anomaly.auc([1.0, 2.0], [0, 2])
    with pytest.raises(ValueError, match="same length"):
        ae.anomaly.roc_curve([1.0, 2.0, 3.0], [0, 1])
    with pytest.raises(ValueError):
        ae.anomaly.threshold([1.0, 2.0], 1.5)
