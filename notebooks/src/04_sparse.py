# Fuente del cuaderno 04_sparse.ipynb (formato "percent"; ver notebooks/_build.py).

# %% [markdown]
# # 4. El autoencoder disperso (*sparse*)
#
# Otra forma de impedir que un autoencoder copie: pedir que, para cada entrada, **pocas**
# unidades del código estén activas. Veremos las dos versiones de la lección:
#
# * **k-disperso** (Makhzani y Frey, 2013): la función $f_k$ conserva las $k$ activaciones más
#   grandes de cada muestra y pone a 0 las demás, $z = f_k(Wx + b)$; el gradiente sólo pasa por
#   las $k$ unidades conservadas (`ae.regularizers.TopK(k)`);
# * **dispersión KL**: con $\hat\rho_j$ la activación media de la unidad $j$ sobre el lote, se suma
#   al error $\beta \sum_j \mathrm{KL}(\rho \,\|\, \hat\rho_j)$, que empuja cada $\hat\rho_j$ hacia un
#   valor pequeño $\rho$ (`ae.regularizers.KLSparsity(rho, beta)`).
#
# La penalización KL viene de la teoría de la información, así que empezamos por ahí
# (la sección "Entropía" de la lección).
#
# **Para que el cuaderno tarde menos de tres minutos** entrenamos con 10 000 imágenes de MNIST
# y 5 épocas por modelo.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import aenumpy as ae
from aenumpy.regularizers import KLSparsity, TopK
from aenumpy.regularizers.information import bernoulli_kl, cross_entropy, entropy, kl_divergence

np.set_printoptions(precision=4, suppress=True, linewidth=110)
plt.rcParams.update({"figure.dpi": 90, "axes.titlesize": 11, "axes.labelsize": 10})
T0 = time.perf_counter()

# %% [markdown]
# ## 1. Entropía
#
# La **entropía** de una distribución $p$ mide su incertidumbre media, en bits:
#
# $$H(p) = -\sum_i p_i \log_2 p_i \qquad (0 \log 0 = 0).$$
#
# Una moneda equilibrada tiene 1 bit; un resultado seguro, 0; un dado de $n$ caras, $\log_2 n$.

# %%
print("moneda equilibrada  :", entropy([0.5, 0.5]), "bits")
print("moneda 90 / 10      :", round(entropy([0.9, 0.1]), 4), "bits")
print("resultado seguro    :", entropy([1.0, 0.0]), "bits")
print("dado de 8 caras     :", entropy(np.full(8, 1 / 8)), "bits = log2(8)")

p = np.linspace(0, 1, 201)
H = [entropy([pi, 1 - pi]) for pi in p]
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(p, H)
ax.set_xlabel("probabilidad p de cara")
ax.set_ylabel("H(p) en bits")
ax.set_title("Entropía de una moneda (Bernoulli) con probabilidad p")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Ejercicio 4.1: la entropía
#
# Escribe `entropia(p)`: $H(p) = -\sum_i p_i \log_2 p_i$ en bits, con $0 \log 0 = 0$ (cuidado:
# `np.log2(0)` da $-\infty$ y $0 \cdot (-\infty)$ da NaN). La comprobación prueba distribuciones
# con probabilidades nulas y un resultado seguro.

# %%
def entropia(p):
    """H(p) = −Σ p_i log2 p_i (bits), con 0·log 0 = 0."""
    ### BEGIN SOLUTION
    p = np.asarray(p, dtype=float)
    nz = p > 0                                   # 0·log 0 = 0: los ceros no aportan
    return float(-np.sum(p[nz] * np.log2(p[nz])))
    ### END SOLUTION

# %%
resultado = ae.exercises.check("04.entropy", entropia)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Entropía cruzada y divergencia KL
#
# Si los datos siguen $p$ pero los codificamos como si siguieran $q$, gastamos de media la
# **entropía cruzada** $H(p, q) = -\sum_i p_i \log q_i$ bits. Lo que se gasta de más es la
# **divergencia de Kullback–Leibler**:
#
# $$\mathrm{KL}(p\,\|\,q) = \sum_i p_i \log\frac{p_i}{q_i} = H(p, q) - H(p) \;\ge 0,$$
#
# que vale 0 sólo si $p = q$ y **no es simétrica**.

# %%
p = np.array([0.7, 0.2, 0.1])
q = np.array([0.4, 0.4, 0.2])
print(f"H(p) = {entropy(p):.4f}   H(p, q) = {cross_entropy(p, q):.4f}")
print(f"KL(p‖q) = {kl_divergence(p, q):.4f} = H(p, q) − H(p) = {cross_entropy(p, q) - entropy(p):.4f}")
print(f"KL(q‖p) = {kl_divergence(q, p):.4f}   (no es simétrica)")
print(f"KL(p‖p) = {kl_divergence(p, p):.4f}")

# %% [markdown]
# Para la dispersión, cada unidad oculta es una "moneda" que está activa con probabilidad
# $\hat\rho_j$ y queremos que lo esté con probabilidad $\rho$. La KL entre dos Bernoulli (en nats)
# es
#
# $$\mathrm{KL}(\rho\,\|\,\hat\rho) = \rho \log\frac{\rho}{\hat\rho} + (1-\rho)\log\frac{1-\rho}{1-\hat\rho} .$$
#
# Es 0 en $\hat\rho = \rho$ y crece muy deprisa cuando $\hat\rho$ se acerca a 1: una unidad que está
# activa casi siempre se penaliza mucho.

# %%
rho_hat = np.linspace(0.001, 0.999, 500)
fig, ax = plt.subplots(figsize=(6, 3.8))
for rho in (0.05, 0.2, 0.5):
    ax.plot(rho_hat, bernoulli_kl(rho, rho_hat), label=f"ρ = {rho}")
ax.set_ylim(0, 3)
ax.set_xlabel("activación media de la unidad, ρ̂")
ax.set_ylabel("KL(ρ ‖ ρ̂) en nats")
ax.set_title("La penalización de dispersión de una unidad")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. La penalización KL en un autoencoder, y su gradiente
#
# `KLSparsity(rho, beta)` calcula $\hat\rho_j$ como la media de $z_j$ sobre el lote (por eso
# necesita una activación en $[0, 1]$: la sigmoide) y suma $\beta \sum_j \mathrm{KL}(\rho\,\|\,\hat\rho_j)$.
# Su derivada respecto de $z_{bj}$ es $\frac{\beta}{B}\left(-\frac{\rho}{\hat\rho_j} + \frac{1-\rho}{1-\hat\rho_j}\right)$.
# Comprobamos el gradiente del modelo completo en `float64`, y que el término coincide con
# nuestra propia cuenta (la columna `in noise` cuenta gradientes exactamente nulos, los de
# los píxeles que valen 0 en todas estas imágenes, donde la diferencia finita sólo ve redondeo):

# %%
Xd, _, _, _ = ae.datasets.load_digits()
small = ae.Autoencoder(n_in=64, hidden=[16], activation="sigmoid",
                       regularizers=[KLSparsity(rho=0.05, beta=3.0)], seed=0, dtype="float64")
Xb = Xd[:20].astype(np.float64)
Z = small.encode(Xb)
mine = 3.0 * np.sum(bernoulli_kl(0.05, Z.mean(axis=0)))
t = ae.trace(small, Xb)
print(f"término KL a mano: {mine:.6f}   en la traza: {float(t['E_KLSparsity']):.6f}")
print(ae.gradcheck(small, Xb))

# %% [markdown]
# ### Ejercicio 4.2: el término KL y su gradiente
#
# Escribe `kl_dispersion(rho, rho_hat)`: devuelve
# $s(\rho, \hat\rho) = \sum_j \mathrm{KL}(\rho\,\|\,\hat\rho_j)$ (en nats) y su gradiente respecto de
# cada $\hat\rho_j$, un vector de la forma de `rho_hat`. Deriva el término de una unidad a mano;
# la comprobación compara tu gradiente con la biblioteca **y** con la derivada numérica de tu
# propia $s$, así que sabe decir "tu forward está bien, tu gradiente no".

# %%
def kl_dispersion(rho, rho_hat):
    """s = Σ_j KL(ρ ‖ ρ̂_j) y ∂s/∂ρ̂_j."""
    ### BEGIN SOLUTION
    s = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    grad = -rho / rho_hat + (1 - rho) / (1 - rho_hat)
    return float(s), grad
    ### END SOLUTION

# %%
resultado = ae.exercises.check("04.kl_grad", kl_dispersion)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Tres autoencoders en MNIST
#
# 784 → 100 → 784 en los tres casos:
#
# 1. **sin dispersión** (sigmoide);
# 2. **KL**, $\rho = 0.05$, $\beta = 3$ (sigmoide);
# 3. **k-disperso**, $k = 20$ de 100 (codificador lineal, como en Makhzani y Frey: la
#    dispersión la pone $f_k$, no la activación).

# %%
Xtr, ytr, Xte, yte = ae.datasets.load_mnist("mnist")
Xtr, Xte, yte = Xtr[:10_000], Xte[:1_000], yte[:1_000]

configs = {
    "sin dispersión": dict(activation="sigmoid", regularizers=[]),
    "KL, ρ = 0.05": dict(activation="sigmoid", regularizers=[KLSparsity(rho=0.05, beta=3.0)]),
    "k-disperso, k = 20": dict(activation="identity", regularizers=[TopK(20)]),
}
models = {}
for name, cfg in configs.items():
    t1 = time.perf_counter()
    m = ae.Autoencoder(n_in=784, hidden=[100], output_activation="sigmoid", seed=0, **cfg)
    ae.fit(m, Xtr, epochs=5, batch_size=64, optimizer=ae.optim.Adam(lr=3e-3), seed=0, progress=False)
    models[name] = m
    print(f"{name:20s} E de prueba {m.reconstruction_error(Xte):6.2f}   ({time.perf_counter() - t1:.1f} s)")

# %% [markdown]
# ### ¿Cuántas unidades se activan?
#
# Para las sigmoides contamos una unidad como "activa" si $z_j > 0.1$; en el k-disperso
# contamos las que no son cero (son exactamente $k$). Y la activación media $\hat\rho_j$ de cada
# unidad sobre las imágenes de prueba.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for name, m in models.items():
    Z = m.encode(Xte)
    active = (np.abs(Z) > 1e-6) if "k-disperso" in name else (Z > 0.1)
    print(f"{name:20s} unidades activas por imagen: {active.sum(axis=1).mean():5.1f} de 100")
    axes[0].hist(active.sum(axis=1), bins=np.arange(0, 101, 2), alpha=0.6, label=name)
    if "k-disperso" not in name:
        axes[1].hist(Z.mean(axis=0), bins=np.linspace(0, 1, 41), alpha=0.6, label=name)
axes[0].set_xlabel("unidades activas en una imagen")
axes[0].set_ylabel("número de imágenes")
axes[0].set_title("Unidades activas por imagen de prueba")
axes[0].legend()
axes[1].axvline(0.05, color="k", ls="--", lw=1, label="ρ = 0.05")
axes[1].set_xlabel("activación media ρ̂_j de la unidad")
axes[1].set_ylabel("número de unidades")
axes[1].set_title("Activación media de cada unidad (sigmoides)")
axes[1].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Los filtros, con y sin dispersión
#
# Cada fila $W_{j\cdot}$ dibujada como imagen (rojo positivo, azul negativo, cada filtro con su
# propia escala). Compáralos: sin dispersión muchas unidades tienen filtros casi uniformes o de
# grano fino, que responden un poco a todo; con dispersión, como cada unidad sólo se activa para
# pocas imágenes, aparecen filtros con forma de trazo, de parte de un dígito o de un dígito
# entero. Con sólo 5 épocas todavía son ruidosos: entrena más para verlos más limpios.

# %%
for name, m in models.items():
    fig = ae.plot.filters(m, n=40, per_unit=True, title=f"Filtros W_j·, {name} (40 de 100)")
    plt.show()

# %% [markdown]
# ## 6. ¿Cuántas unidades hacen falta? El error frente a $k$
#
# En el k-disperso, $k$ controla directamente cuánta información pasa por el código. Con
# `alpha` se pueden conservar $\alpha k$ unidades al codificar (Makhzani y Frey usan $\alpha > 1$
# en la prueba). Entrenamos con varios $k$ (con 5 000 imágenes y 3 épocas cada uno, para ir
# deprisa) y medimos el error de prueba.

# %%
ks = [5, 10, 20, 40]
errors = []
for k in ks:
    m = ae.Autoencoder(n_in=784, hidden=[100], activation="identity", regularizers=[TopK(k)], seed=0)
    ae.fit(m, Xtr[:5000], epochs=3, batch_size=64, optimizer=ae.optim.Adam(lr=3e-3), seed=0,
           progress=False)
    errors.append(m.reconstruction_error(Xte))
    print(f"k = {k:3d}: E de prueba {errors[-1]:.2f}")

fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(ks, errors, marker="o")
ax.set_xlabel("k (unidades conservadas por imagen)")
ax.set_ylabel("E de prueba (media por imagen)")
ax.set_title("k-disperso 784→100→784: error de reconstrucción frente a k")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
fig = ae.plot.reconstructions(m, Xte, n=10, title=f"k-disperso con k = {ks[-1]}: originales y reconstrucciones")
plt.show()

# %% [markdown]
# ### Ejercicio 4.3: la función $f_k$
#
# Escribe `f_k(Z, k)`: para cada fila de $Z$ (forma `(B, n)`), $f_k(z) = (z_1 b_1, \dots, z_n b_n)$ con
# $b_i = 1$ en las $k$ unidades de mayor $|z_i|$ y $b_i = 0$ en las demás. Es lo que hace
# `TopK(k)` con el código. Pista: `np.argsort` por filas y `np.put_along_axis`.

# %%
def f_k(Z, k):
    """z ⊙ b por filas, b = 1 en las k unidades de mayor |z_i|."""
    ### BEGIN SOLUTION
    idx = np.argsort(-np.abs(Z), axis=1)[:, :k]  # las k mayores |z_i| de cada fila
    b = np.zeros_like(Z)
    np.put_along_axis(b, idx, 1.0, axis=1)
    return Z * b
    ### END SOLUTION

# %%
resultado = ae.exercises.check("04.topk", f_k)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ## Para experimentar
#
# * Cambia $\rho$ y $\beta$ en `KLSparsity` y mira el histograma de $\hat\rho_j$.
# * `TopK(20, k_start=100)` empieza con todas las unidades y baja $k$ durante la primera mitad
#   del entrenamiento (Makhzani y Frey lo usan para que no queden unidades muertas).
# * `ae.regularizers.L1Activity(lam)` es otra penalización de dispersión: $\lambda \sum_j |z_j|$.

# %%
print(f"Cuaderno ejecutado en {time.perf_counter() - T0:.0f} s")
