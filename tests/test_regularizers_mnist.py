"""Each regularizer does on MNIST what the lecture says, shown by a measured number.

10,000 training images, 2,000 test images, one hidden layer of 128 sigmoid units
(unless said), batch 128, Adam, 3 epochs: a few seconds per model. The plain
autoencoder trained the same way (same seed, same data order) is the baseline.
"""
import numpy as np
import pytest

import aenumpy as ae
from aenumpy.regularizers import (Contractive, Dropout, GaussianNoise, KLSparsity, L1Activity,
                                  TopK, WeightDecay, corrupt, jacobian_norm)

pytestmark = pytest.mark.slow

EPOCHS = 3


@pytest.fixture(scope="module")
def mnist(shared_data):
    Xtr, _, Xte, _ = ae.datasets.load_mnist("mnist", path=shared_data, download=False)
    return Xtr[:10000], Xte[:2000]


def train(X, regs=(), hidden=(128,), activation="sigmoid", lr=3e-3, epochs=EPOCHS):
    m = ae.Autoencoder(784, list(hidden), activation=activation, regularizers=list(regs), seed=0)
    h = ae.fit(m, X, epochs=epochs, batch_size=128, optimizer=ae.optim.Adam(lr=lr), seed=0,
               progress=False)
    assert not h.stopped_early and h["loss"][-1] < h["loss"][0]
    return m


@pytest.fixture(scope="module")
def plain(mnist):
    return train(mnist[0])


def sum_sq_weights(m):
    return sum(float((v.astype(np.float64) ** 2).sum()) for k, v in m.params.items()
               if k.endswith(".W"))


def test_denoising_brings_noisy_images_back_towards_the_clean_ones(mnist, plain):
    Xtr, Xte = mnist
    dae = train(Xtr, [GaussianNoise(0.5)])
    noisy = corrupt(Xte, "gaussian", 0.5, np.random.default_rng(1))
    before = np.linalg.norm(noisy - Xte, axis=1).mean()              # ≈ 0.5·√784 = 14
    after = np.linalg.norm(dae.reconstruct(noisy) - Xte, axis=1).mean()
    # measured: 13.99 → 5.34 (2.6× closer); the plain AE gives 5.39 after 3 epochs
    assert after < before / 2.2, (before, after)
    # the noise is off at evaluation: reconstruct is deterministic
    np.testing.assert_array_equal(dae.reconstruct(Xte[:50]), dae.reconstruct(Xte[:50]))


def test_kl_sparsity_brings_the_mean_activation_close_to_rho(mnist, plain):
    Xtr, Xte = mnist
    rho = 0.05
    sparse = train(Xtr, [KLSparsity(rho=rho, beta=20.0)], lr=1e-2)
    on_train = float(sparse.encode(Xtr[:2000]).mean())   # measured 0.057
    on_test = float(sparse.encode(Xte).mean())           # measured 0.064
    without = float(plain.encode(Xte).mean())            # measured 0.70
    assert abs(on_train - rho) < 0.015, on_train
    assert abs(on_test - rho) < 0.02, on_test
    assert without > 0.3, without


def test_topk_leaves_exactly_k_units_per_sample(mnist):
    Xtr, Xte = mnist
    k = 25
    m = train(Xtr, [TopK(k, alpha=2.0)], activation="identity", lr=1e-3)  # linear units, as the paper
    Z = m._encode(Xte, np.random.default_rng(0), training=True)
    nonzero = (Z != 0).sum(axis=1)
    assert (nonzero == k).all(), np.unique(nonzero)
    assert ((m.encode(Xte) != 0).sum(axis=1) == 2 * k).all()  # α·k at evaluation
    # it still reconstructs: measured 19.7 (the training loss ends at 12.6; evaluation keeps
    # α·k = 50 units where 25 were trained), against 25.2 for predicting the mean image
    assert m.reconstruction_error(Xte) < 20.0


def test_contractive_autoencoder_has_a_smaller_jacobian(mnist, plain):
    Xtr, Xte = mnist
    cae = train(Xtr, [Contractive(0.1)])
    j_cae, j_plain = jacobian_norm(cae, Xte), jacobian_norm(plain, Xte)
    # measured: 4.9 against 15.3 (3.1× smaller)
    assert j_cae < 0.5 * j_plain, (j_cae, j_plain)
    assert cae.reconstruction_error(Xte) < 1.25 * plain.reconstruction_error(Xte)


def test_l1_activity_lowers_the_mean_absolute_code(mnist, plain):
    Xtr, Xte = mnist
    l1 = train(Xtr, [L1Activity(0.05)])
    a = np.abs(l1.encode(Xte)).sum(axis=1).mean()      # measured 48.9
    b = np.abs(plain.encode(Xte)).sum(axis=1).mean()   # measured 89.5
    assert a < 0.7 * b, (a, b)


def test_l2_weight_decay_lowers_the_sum_of_squared_weights(mnist, plain):
    Xtr, _ = mnist
    wd = train(Xtr, [WeightDecay(3e-3)])
    a, b = sum_sq_weights(wd), sum_sq_weights(plain)   # measured 1076 against 1805
    assert a < 0.75 * b, (a, b)


def test_dropout_trains_and_is_off_at_evaluation(mnist, plain):
    Xtr, Xte = mnist
    m = train(Xtr, [Dropout(0.3)])
    Z = m.encode(Xte[:200])
    np.testing.assert_array_equal(Z, m.encode(Xte[:200]))  # deterministic
    W, b = m.params["enc0.W"], m.params["enc0.b"]
    # no mask at evaluation: Z is σ(XWᵀ + b). Both sides sum 784 float32 products (in other
    # orders): within 2·785·ε·(|X||W|ᵀ + |b|) of each other, then σ' ≤ ¼, plus σ's rounding
    X = Xte[:200]
    eps = float(np.finfo(np.float32).eps)
    gap = 0.25 * 2 * 785 * eps * (np.abs(X) @ np.abs(W).T + np.abs(b)) + 8 * eps
    assert np.all(np.abs(Z - 1 / (1 + np.exp(-(X @ W.T + b)))) <= gap)
    # it learned: measured 13.9 against 13.6 without dropout
    assert m.reconstruction_error(Xte) < 1.25 * plain.reconstruction_error(Xte)
