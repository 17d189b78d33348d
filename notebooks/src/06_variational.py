# Fuente del cuaderno 06_variational.ipynb (formato "percent"; ver notebooks/_build.py).

# %% [markdown]
# # 6. El autoencoder variacional (VAE)
#
# El VAE (Kingma y Welling, 2014) convierte el autoencoder en un **modelo generativo**. El
# codificador ya no da un código sino una **distribución** gaussiana sobre códigos:
#
# $$q(z \mid x) = N\big(\mu(x),\ \sigma^2(x)\big), \qquad \text{la red da } \mu \text{ y } \log\sigma^2 .$$
#
# Un código se obtiene con el **truco de la reparametrización**,
#
# $$z = \mu + \sigma \odot \varepsilon, \qquad \varepsilon \sim N(0, I), \qquad \sigma = e^{\frac12 \log\sigma^2},$$
#
# y el decodificador da $p(x \mid z)$; para imágenes en $[0, 1]$, una Bernoulli por píxel con
# media $\hat x = \sigma'(W'z + b')$. Se minimiza el **ELBO negativo**, por muestra:
#
# $$E = \underbrace{-\log p(x \mid z)}_{\text{reconstrucción (entropía cruzada binaria)}}
# + \underbrace{\mathrm{KL}\big(q(z\mid x)\,\|\,N(0, I)\big)}_{-\frac12 \sum_j (1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2)} .$$
#
# El término KL empuja cada $q(z\mid x)$ hacia la distribución a priori $N(0, I)$; por eso, después,
# se pueden **generar** imágenes nuevas decodificando $z \sim N(0, I)$.
#
# **Para que el cuaderno tarde menos de tres minutos** entrenamos con 10 000 imágenes de MNIST
# y 10 épocas, con un código de 2 dimensiones (para poder dibujarlo).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import aenumpy as ae

np.set_printoptions(precision=4, suppress=True, linewidth=110)
plt.rcParams.update({"figure.dpi": 90, "axes.titlesize": 11, "axes.labelsize": 10})
T0 = time.perf_counter()

# %% [markdown]
# ## 1. $\mu$, $\sigma^2$ y la reparametrización, a mano
#
# Un VAE pequeño sobre los dígitos 8×8 (64 → 32 → (μ, log σ²) de 2 dimensiones → 32 → 64), en
# `float64`. Fijamos $\varepsilon$ para poder repetir la cuenta.

# %%
Xd, yd, Xd_te, yd_te = ae.datasets.load_digits()
vae = ae.VariationalAutoencoder(n_in=64, hidden=[32], n_latent=2, activation="relu",
                                decoder="bernoulli", seed=0, dtype="float64")
print(vae)
print("parámetros:", list(vae.params))

x = Xd[:4].astype(np.float64)
mu, logvar = vae.encode(x)
eps = np.random.default_rng(0).standard_normal((4, 2))
z = vae.reparameterize(mu, logvar, eps)                # z = μ + σ ⊙ ε, σ = exp(½ log σ²)
print("μ =\n", mu, "\nσ² =\n", np.exp(logvar))

# %% [markdown]
# ### Ejercicio 6.1: la reparametrización
#
# Escribe `reparametrizar(mu, logvar, eps)`: $z = \mu + \sigma \odot \varepsilon$, donde el
# codificador da $\log\sigma^2$ y $\sigma = \exp(\tfrac12 \log\sigma^2)$ es la desviación típica.

# %%
def reparametrizar(mu, logvar, eps):
    """z = μ + σ ⊙ ε con σ = exp(½ log σ²)."""
    ### BEGIN SOLUTION
    return mu + np.exp(0.5 * logvar) * eps
    ### END SOLUTION

# %%
resultado = ae.exercises.check("06.reparam", reparametrizar)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ### Ejercicio 6.2: el término KL
#
# Escribe `kl_gaussiana(mu, logvar)`: para cada muestra,
# $\mathrm{KL}(N(\mu, \sigma^2)\,\|\,N(0, I)) = -\tfrac12 \sum_j (1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2)$,
# un vector de forma `(B,)`.

# %%
def kl_gaussiana(mu, logvar):
    """−½ Σ_j (1 + log σ²_j − μ_j² − σ²_j) por muestra."""
    ### BEGIN SOLUTION
    return -0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar), axis=1)
    ### END SOLUTION

# %%
resultado = ae.exercises.check("06.kl", kl_gaussiana)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# Con la KL de la biblioteca (`ae.models.vae.gaussian_kl`), la pérdida del VAE a mano:

# %%
xhat = vae.decode(z)
rec = -np.sum(x * np.log(xhat) + (1 - x) * np.log(1 - xhat), axis=1)     # −log p(x|z)
kl = ae.models.vae.gaussian_kl(mu, logvar)                               # KL(q ‖ N(0, I))
E_hand = np.mean(rec + kl)

E = vae.loss(x, eps=eps)
print(f"reconstrucción {rec.mean():.6f} + KL {kl.mean():.6f} = {E_hand:.6f}")
print(f"vae.loss(x, eps=eps)                 = {E:.6f}")
print(f"el mismo z que el modelo: {np.allclose(z, vae.cache['z'])};  su KL: {vae.cache['kl']:.6f}")

# %% [markdown]
# ### La KL en forma cerrada frente a una estimación de Monte Carlo
#
# $\mathrm{KL}(q\,\|\,p) = \mathbb{E}_{z\sim q}[\log q(z) - \log p(z)]$. Si sacamos muchas $z$ de $q$
# y promediamos $\log q(z) - \log p(z)$, la media se acerca a la fórmula cerrada:

# %%
def log_normal(z, mean, var):
    return -0.5 * np.sum(np.log(2 * np.pi * var) + (z - mean) ** 2 / var, axis=-1)


m0, v0 = mu[0], np.exp(logvar[0])
rng = np.random.default_rng(1)
ns = np.unique(np.logspace(1, 5, 25).astype(int))
zs = m0 + np.sqrt(v0) * rng.standard_normal((ns[-1], 2))
terms = log_normal(zs, m0, v0) - log_normal(zs, 0.0, 1.0)
estimates = [terms[:n].mean() for n in ns]

fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(ns, estimates, marker=".", label="media de log q(z) − log p(z)")
ax.axhline(kl[0], color="k", ls="--", label=f"forma cerrada = {kl[0]:.4f}")
ax.set_xscale("log")
ax.set_xlabel("número de muestras z ~ q(z|x)")
ax.set_ylabel("KL estimada (nats)")
ax.set_title("KL(q ‖ N(0, I)) de una imagen: Monte Carlo frente a la fórmula")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ### El gradiente pasa a través de $\mu$ y $\sigma$
#
# Con la reparametrización, $z$ es una función derivable de $\mu$ y $\log\sigma^2$ (el azar está
# en $\varepsilon$, que no depende de los parámetros):
#
# $$\frac{\partial E}{\partial \mu} = \frac{\partial E}{\partial z} + \mu, \qquad
# \frac{\partial E}{\partial \log\sigma^2} = \frac{\partial E}{\partial z} \odot \varepsilon \odot \tfrac12\sigma
# + \tfrac12(\sigma^2 - 1)$$
#
# (por muestra; se promedia sobre el lote). La comprobación numérica, con $\varepsilon$ fijo.
# La columna `in noise` cuenta entradas cuyo gradiente es **exactamente** 0 (píxeles que valen
# 0 en estas cuatro imágenes, unidades ReLU apagadas): allí la diferencia finita sólo ve el ruido
# de redondeo (~1e-11), y el error relativo frente a 0 no significa nada; su error absoluto queda
# por debajo del suelo de ruido.

# %%
print(ae.gradcheck(vae, x, eps=eps))

# %% [markdown]
# ### Ejercicio 6.3: los gradientes del término KL
#
# Escribe `grad_kl(mu, logvar)`: con $\mathrm{KL} = \frac1B \sum_b \mathrm{KL}_b$ (la media sobre el
# lote, como en la pérdida), devuelve $\mathrm{KL}$, $\partial \mathrm{KL}/\partial\mu$ y
# $\partial \mathrm{KL}/\partial\log\sigma^2$ (cada uno de forma `(B, L)`): los términos $\mu$ y
# $\tfrac12(\sigma^2 - 1)$ de arriba, divididos entre $B$. La comprobación los compara también con
# la derivada numérica de tu KL.

# %%
def grad_kl(mu, logvar):
    """KL medio del lote y sus derivadas respecto de μ y de log σ²."""
    ### BEGIN SOLUTION
    B = mu.shape[0]
    kl = np.mean(-0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar), axis=1))
    return float(kl), mu / B, 0.5 * (np.exp(logvar) - 1) / B
    ### END SOLUTION

# %%
resultado = ae.exercises.check("06.kl_grad", grad_kl)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Entrenar en MNIST con un código de 2 dimensiones
#
# 784 → 256 → (μ, log σ²) ∈ ℝ² → 256 → 784, ReLU en las capas ocultas, decodificador Bernoulli.
# La pérdida que se muestra es el ELBO negativo medio (en nats por imagen).

# %%
Xtr, ytr, Xte, yte = ae.datasets.load_mnist("mnist")
Xtr, ytr, Xte, yte = Xtr[:10_000], ytr[:10_000], Xte[:1_000], yte[:1_000]

vae = ae.VariationalAutoencoder(n_in=784, hidden=[256], n_latent=2, activation="relu",
                                decoder="bernoulli", seed=0)
t1 = time.perf_counter()
hist = ae.fit(vae, Xtr, epochs=10, batch_size=64, optimizer=ae.optim.Adam(lr=2e-3), X_val=Xte,
              seed=0, progress=False)
print(f"{hist.epochs} épocas en {time.perf_counter() - t1:.1f} s; "
      f"−ELBO de validación: {hist['val_loss'][0]:.1f} → {hist['val_loss'][-1]:.1f}")

fig = ae.plot.history(hist, title="VAE en MNIST: ELBO negativo por época")
fig.axes[0].set_xlabel("época")
fig.axes[0].set_ylabel("−ELBO (nats por imagen)")
fig.axes[0].legend(["entrenamiento", "validación"])
plt.show()

# %% [markdown]
# Los dos términos por separado, en las imágenes de prueba, y cómo de seguros están los códigos
# ($\sigma$ pequeño = código preciso):

# %%
vae.loss(Xte, rng=np.random.default_rng(0))
c = vae.cache
print(f"reconstrucción −log p(x|z): {c['reconstruction']:.1f} nats   KL: {c['kl']:.2f} nats")
mu_te, logvar_te = vae.encode(Xte)
print("σ medio por dimensión:", np.exp(0.5 * logvar_te).mean(axis=0))
fig = ae.plot.reconstructions(vae, Xte, n=12, title="VAE: originales (arriba) y decode(μ(x)) (abajo)")
plt.show()

# %% [markdown]
# ## 3. El espacio latente y la variedad aprendida
#
# A la izquierda, la media $\mu(x)$ de cada imagen de prueba, coloreada por su dígito: el término
# KL la mantiene cerca de $N(0, I)$. Después, la **variedad** (Kingma y Welling, fig. 4): una
# rejilla de códigos que cubre la distribución a priori de forma uniforme en probabilidad
# (cuantiles de la normal), cada uno decodificado.

# %%
fig = ae.plot.latent_space(vae, Xte, yte, title="Medias μ(x) de 1 000 imágenes de prueba")
fig.axes[0].get_legend().set_title("dígito")
plt.show()
fig = ae.plot.manifold(vae, n=15, title="La variedad 2-D aprendida: decode(z) en una rejilla de z")
plt.show()

# %% [markdown]
# ## 4. Generar imágenes nuevas e interpolar
#
# `vae.sample(n)` saca $z \sim N(0, I)$ y lo decodifica. Y como el espacio latente es continuo,
# el segmento entre los códigos de dos imágenes se decodifica en una transición suave.

# %%
fig = ae.plot.samples(vae, n=48, rng=np.random.default_rng(0),
                      title="48 imágenes nuevas: decode(z), z ~ N(0, I)")
plt.show()
a, b = Xte[yte == 1][0], Xte[yte == 0][0]
fig = ae.plot.interpolation(vae, a[None], b[None], steps=10,
                            title="Interpolación: decode((1 − t)·μ(x₁) + t·μ(x₂))")
plt.show()

# %% [markdown]
# ## 5. ¿Cómo de buena es la cota? ELBO y verosimilitud
#
# El ELBO es una **cota inferior** de $\log p(x)$. Una estimación mejor es la de muestreo
# por importancia con $k$ muestras (Burda et al., 2015): $k = 1$ es el ELBO y la estimación
# sube hacia $\log p(x)$ al crecer $k$ (`vae.log_likelihood(X, k)`), en 300 imágenes de prueba:

# %%
Xs = Xte[:300]
print(f"ELBO (una z por imagen)           : {vae.elbo(Xs, rng=np.random.default_rng(0)):8.2f} nats")
for k in (1, 10, 100):
    ll = vae.log_likelihood(Xs, k=k, rng=np.random.default_rng(0))
    print(f"log p(x) estimado con k = {k:3d}      : {ll:8.2f} nats")

# %% [markdown]
# ## Para experimentar
#
# * `n_latent=16`: mejores reconstrucciones y muestras (pero ya no se puede dibujar la variedad).
# * `beta=4` (β-VAE) pesa más el término KL: códigos más ordenados, reconstrucciones más borrosas.
# * `kl_warmup=5` sube el peso de la KL de 0 a β durante las primeras 5 épocas.
# * `print(ae.trace(vae, x))` muestra todas las cantidades de un paso, como en el cuaderno 1.

# %%
print(f"Cuaderno ejecutado en {time.perf_counter() - T0:.0f} s")
