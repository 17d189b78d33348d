"""The information-theory helpers of the lecture's "Entropía" section."""
import numpy as np
import pytest

from aenumpy.regularizers import information as info


def test_entropy_known_values():
    assert info.entropy([0.5, 0.5]) == pytest.approx(1.0)               # a fair coin: 1 bit
    assert info.entropy([1.0, 0.0]) == 0.0                              # certain: 0 bits
    assert info.entropy(np.full(8, 1 / 8)) == pytest.approx(3.0)        # uniform on 8: 3 bits
    assert info.entropy([0.25, 0.25, 0.5]) == pytest.approx(1.5)
    assert info.entropy([0.5, 0.5], base=np.e) == pytest.approx(np.log(2))
    p = np.array([0.1, 0.2, 0.3, 0.4])
    assert info.entropy(p) == pytest.approx(-(p * np.log2(p)).sum(), rel=1e-14)


def test_zero_log_zero_is_zero():
    assert info.entropy([0.0, 0.5, 0.0, 0.5]) == pytest.approx(1.0)
    assert np.isfinite(info.entropy([0.0, 1.0]))
    # p_i = 0 contributes nothing to KL even where q_i = 0
    assert info.kl_divergence([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert info.cross_entropy([0.0, 1.0], [0.0, 1.0]) == 0.0


def test_kl_divergence_and_cross_entropy():
    p = np.array([0.1, 0.4, 0.5])
    q = np.array([0.3, 0.3, 0.4])
    kl = (p * np.log2(p / q)).sum()
    assert info.kl_divergence(p, q) == pytest.approx(kl, rel=1e-13)
    assert info.kl_divergence(p, q, base=np.e) == pytest.approx(kl * np.log(2), rel=1e-13)
    assert info.kl_divergence(p, p) == 0.0
    assert info.kl_divergence(q, p) != pytest.approx(kl)                    # not symmetric
    assert info.kl_divergence(p, q) > 0
    # H(p, q) = H(p) + KL(p ‖ q)
    assert info.cross_entropy(p, q) == pytest.approx(info.entropy(p) + kl, rel=1e-13)
    assert info.cross_entropy(p, q) == pytest.approx(-(p * np.log2(q)).sum(), rel=1e-14)
    # support mismatch: infinite
    assert info.kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert info.cross_entropy([0.5, 0.5], [1.0, 0.0]) == np.inf


def test_rows_are_distributions():
    P = np.array([[0.5, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(info.entropy(P), [1.0, 0.0])
    np.testing.assert_allclose(info.kl_divergence(P, np.full((2, 2), 0.5)), [0.0, 1.0])


def test_bernoulli_kl_is_the_sparsity_term():
    rho, rh = 0.05, np.array([0.05, 0.2, 0.5, 0.01])
    expect = rho * np.log(rho / rh) + (1 - rho) * np.log((1 - rho) / (1 - rh))
    np.testing.assert_allclose(info.bernoulli_kl(rho, rh), expect, rtol=1e-13)
    assert info.bernoulli_kl(0.3, 0.3) == 0.0
    # it is the discrete KL of two Bernoulli distributions, in nats
    assert info.bernoulli_kl(0.3, 0.6) == pytest.approx(
        info.kl_divergence([0.3, 0.7], [0.6, 0.4], base=np.e), rel=1e-13)
    # edges: 0·log 0 = 0; ρ̂ at 0 or 1 with ρ strictly inside gives inf
    assert info.bernoulli_kl(0.0, 0.5) == pytest.approx(np.log(2))
    assert info.bernoulli_kl(1.0, 1.0) == 0.0
    assert info.bernoulli_kl(0.05, 0.0) == np.inf
    assert info.bernoulli_kl(0.05, 1.0) == np.inf


def test_the_kl_sparsity_penalty_uses_the_same_kl():
    from aenumpy.regularizers import KLSparsity, LayerView
    Z = np.random.default_rng(0).uniform(0.01, 0.99, (10, 7))
    p = KLSparsity(0.05, 2.0).penalty(LayerView(None, None, Z, None, None), False)
    assert p.value == pytest.approx(2.0 * info.bernoulli_kl(0.05, Z.mean(axis=0)).sum(), rel=1e-13)


@pytest.mark.parametrize("call,match", [
    (lambda: info.entropy([0.5, 0.6]), "sum to 1"),
    (lambda: info.entropy([-0.5, 1.5]), "non-negative"),
    (lambda: info.entropy([np.nan, 1.0]), "NaN"),
    (lambda: info.entropy([]), "non-empty"),
    (lambda: info.entropy(0.5), "1-D"),
    (lambda: info.entropy([0.5, 0.5], base=1), "base"),
    (lambda: info.entropy([0.5, 0.5], base=0), "base"),
    (lambda: info.kl_divergence([0.5, 0.5], [0.2, 0.2, 0.6]), "same number"),
    (lambda: info.cross_entropy([0.5, 0.5], [0.2, 0.9]), "sum to 1"),
    (lambda: info.bernoulli_kl(1.2, 0.5), "rho"),
    (lambda: info.bernoulli_kl(0.5, -0.1), "rho_hat"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_not_numbers_are_refused():
    with pytest.raises(TypeError, match="probabilities"):
        info.entropy(["a", "b"])
