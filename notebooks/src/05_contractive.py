# Fuente del cuaderno 05_contractive.ipynb (formato "percent"; ver notebooks/_build.py).

# %% [markdown]
# # 5. El autoencoder contractivo
#
# El autoencoder contractivo (Rifai et al., 2011) pide que **el código cambie poco cuando la
# entrada cambia poco**. "Cuánto cambia el código" es la matriz jacobiana del codificador,
#
# $$J(x) = \frac{\partial z}{\partial x}, \qquad J_{ji} = \frac{\partial z_j}{\partial x_i},$$
#
# y se penaliza su norma de Frobenius al cuadrado:
#
# $$E_{\text{CAE}} = \tfrac12 \sum_i (x_i - \hat x_i)^2 + \lambda\, \|J(x)\|_F^2 .$$
#
# Para $z = \sigma(Wx + b)$ con la sigmoide, $J_{ji} = z_j(1 - z_j)\, W_{ji}$, así que
#
# $$\|J(x)\|_F^2 = \sum_j \big(z_j(1-z_j)\big)^2 \sum_i W_{ji}^2 ,$$
#
# una fórmula cerrada que no necesita formar $J$. En `aenumpy`: `ae.regularizers.Contractive(lam)`,
# y para medir, `ae.regularizers.jacobian(model, x)` y `ae.regularizers.jacobian_norm(model, X)`.
#
# La lección compara el contractivo con el de eliminación de ruido: el *denoising* hace robusta
# la **reconstrucción**, el contractivo hace robustas las **características** (el código). Al
# final del cuaderno lo medimos.
#
# Usamos los dígitos 8×8 (rápidos: cada modelo se entrena en unos segundos).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import aenumpy as ae
from aenumpy.regularizers import Contractive, GaussianNoise, jacobian, jacobian_norm

np.set_printoptions(precision=4, suppress=True, linewidth=110)
plt.rcParams.update({"figure.dpi": 90, "axes.titlesize": 11, "axes.labelsize": 10})
T0 = time.perf_counter()
Xtr, ytr, Xte, yte = ae.datasets.load_digits()

# %% [markdown]
# ## 1. La jacobiana, de tres maneras
#
# Para un modelo pequeño (64 → 16) y una imagen $x$: (a) la fórmula $J_{ji} = z_j(1-z_j)W_{ji}$
# escrita a mano, (b) `ae.regularizers.jacobian`, y (c) diferencias finitas centradas de
# `model.encode`, columna a columna: $J_{\cdot i} \approx \dfrac{z(x + h e_i) - z(x - h e_i)}{2h}$.

# %%
model = ae.Autoencoder(n_in=64, hidden=[16], activation="sigmoid", seed=0, dtype="float64")
x = Xte[0].astype(np.float64)
W, b = model.params["enc0.W"], model.params["enc0.b"]

z = 1 / (1 + np.exp(-(W @ x + b)))
J_hand = (z * (1 - z))[:, None] * W                     # (16, 64)
J_lib = jacobian(model, x)

h = 1e-5
J_num = np.empty((16, 64))
for i in range(64):
    e = np.zeros(64)
    e[i] = h
    J_num[:, i] = (model.encode((x + e)[None]) - model.encode((x - e)[None]))[0] / (2 * h)

print("forma de J:", J_lib.shape)
print(f"|J a mano − J de aenumpy|  máx = {np.abs(J_hand - J_lib).max():.1e}")
print(f"|J numérica − J de aenumpy| máx = {np.abs(J_num - J_lib).max():.1e}")

# %% [markdown]
# ### Ejercicio 5.1: $\|J_h(x)\|_F^2$ en forma cerrada
#
# No hace falta construir $J$ para su norma: $\|J_h(x)\|_F^2 = \sum_j \sum_i J_{ji}^2
# = \sum_j \big(h_j(1-h_j)\big)^2 \sum_i W_{ji}^2$. Escribe `norma_jacobiana(X, W, b)` para un
# lote: con $h = \sigma(XW^\top + b)$, devuelve un vector de forma `(B,)` con la norma de cada fila.

# %%
def norma_jacobiana(X, W, b):
    """‖J_h(x)‖²_F = Σ_j (h_j(1 − h_j))² Σ_i W_ji² para cada fila de X."""
    ### BEGIN SOLUTION
    H = 1 / (1 + np.exp(-(X @ W.T + b)))
    return ((H * (1 - H)) ** 2) @ np.sum(W ** 2, axis=1)
    ### END SOLUTION

# %%
resultado = ae.exercises.check("05.jacobian_norm", norma_jacobiana)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# La suma de los cuadrados de la $J$ numérica y `jacobian_norm`, que usa esa forma cerrada (y
# promedia sobre las filas de `X`; aquí una sola), coinciden:

# %%
print(f"Σ J²  (numérica)       = {np.sum(J_num ** 2):.8f}")
print(f"jacobian_norm(model, x) = {jacobian_norm(model, x[None]):.8f}")

fig, ax = plt.subplots(figsize=(9, 2.8))
im = ax.imshow(J_lib, cmap="RdBu_r", vmin=-np.abs(J_lib).max(), vmax=np.abs(J_lib).max(), aspect="auto")
ax.set_xlabel("entrada i (píxel)")
ax.set_ylabel("unidad j del código")
ax.set_title("La jacobiana J = ∂z/∂x de una imagen (16 × 64)")
fig.colorbar(im, ax=ax, label="∂z_j/∂x_i")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. La penalización y su gradiente
#
# El gradiente de $\lambda \|J\|_F^2$ respecto de $W$ y $b$ está escrito a mano en
# `Contractive`; la comprobación numérica en `float64`:

# %%
cae_small = ae.Autoencoder(n_in=64, hidden=[16], activation="sigmoid",
                           regularizers=[Contractive(lam=0.1)], seed=0, dtype="float64")
print(ae.gradcheck(cae_small, Xte[:10]))

# %% [markdown]
# ### Ejercicio 5.2: el gradiente de la penalización respecto de $W$
#
# Con $\Omega = \frac1B \sum_b \|J_h(x_b)\|_F^2$ ($\lambda = 1$), $h = \sigma(a)$, $a = XW^\top + b$,
# $g = h(1-h)$ y $S_j = \sum_i W_{ji}^2$, $\Omega = \frac1B \sum_{b,j} g_{bj}^2 S_j$. $W$ aparece dos
# veces, y el gradiente tiene dos partes:
#
# * la **directa**, por $S_j$: $\dfrac{2}{B} \sum_b g_{bj}^2\, W_{ji}$;
# * la que pasa por $a$: $\dfrac{\partial\Omega}{\partial a_{bj}} = \dfrac{2}{B}\, g_{bj}\, g'_{bj}\, S_j$ con
#   $g' = g(1-2h)$, y después, como en cualquier capa, $(\partial\Omega/\partial a)^\top X$.
#
# Escribe `grad_contractiva(X, W, b)`, que devuelve $\Omega$ y $\partial\Omega/\partial W$. (Olvidar
# una de las dos partes, o uno de los factores 2, es un error que se ha publicado; la
# comprobación lo detecta.)

# %%
def grad_contractiva(X, W, b):
    """Ω = (1/B) Σ_b ‖J_h(x_b)‖²_F y ∂Ω/∂W."""
    ### BEGIN SOLUTION
    B = X.shape[0]
    H = 1 / (1 + np.exp(-(X @ W.T + b)))
    g = H * (1 - H)                                  # f'(a)
    S = np.sum(W ** 2, axis=1)                       # Σ_i W_ji²
    Omega = np.sum((g ** 2) @ S) / B
    dA = 2 / B * g * (g * (1 - 2 * H)) * S           # por a: 2/B g g' S
    dW = 2 / B * np.sum(g ** 2, axis=0)[:, None] * W + dA.T @ X   # directa + por a
    return float(Omega), dW
    ### END SOLUTION

# %%
resultado = ae.exercises.check("05.contractive_grad", grad_contractiva)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS


# %% [markdown]
# ## 3. Tres modelos: normal, de eliminación de ruido y contractivo
#
# 64 → 32 → 64 con sigmoides, 60 épocas cada uno. El *denoising* usa ruido gaussiano
# $\sigma = 0.2$; el contractivo $\lambda = 0.1$.

# %%
configs = {"normal": [], "denoising σ = 0.2": [GaussianNoise(0.2)], "contractivo λ = 0.1": [Contractive(0.1)]}
models = {}
for name, regs in configs.items():
    t1 = time.perf_counter()
    m = ae.Autoencoder(n_in=64, hidden=[32], activation="sigmoid", regularizers=regs, seed=0)
    ae.fit(m, Xtr, epochs=60, batch_size=32, optimizer=ae.optim.Adam(lr=3e-3), seed=0, progress=False)
    models[name] = m
    print(f"{name:22s} E de prueba {m.reconstruction_error(Xte):.3f}   "
          f"‖J‖²_F medio {jacobian_norm(m, Xte):7.3f}   ({time.perf_counter() - t1:.1f} s)")

# %% [markdown]
# ## 4. ¿Cómo reaccionan a una perturbación pequeña?
#
# A cada imagen de prueba le sumamos una perturbación $\delta$ gaussiana de desviación $s$ y
# medimos cuánto cambian
#
# * las **características**: $\|z(x+\delta) - z(x)\| / \|\delta\|$,
# * la **reconstrucción**: $\|\hat x(x+\delta) - \hat x(x)\| / \|\delta\|$,
#
# en media sobre las 360 imágenes, para varios tamaños $s$. Un valor menor que 1 quiere decir que
# el modelo **contrae** la perturbación.

# %%
scales = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
rng = np.random.default_rng(0)
deltas = {s: s * rng.standard_normal(Xte.shape).astype(np.float32) for s in scales}


def sensitivity(f, X, d):
    return np.mean(np.linalg.norm(f(X + d) - f(X), axis=1) / np.linalg.norm(d, axis=1))


sens = {name: {"z": [sensitivity(m.encode, Xte, deltas[s]) for s in scales],
               "xhat": [sensitivity(m.reconstruct, Xte, deltas[s]) for s in scales]}
        for name, m in models.items()}

print(f"{'modelo':22s}{'‖Δz‖/‖δ‖':>12s}{'‖Δx̂‖/‖δ‖':>12s}   (s = 0.05)")
for name in models:
    print(f"{name:22s}{sens[name]['z'][3]:12.3f}{sens[name]['xhat'][3]:12.3f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for name in models:
    axes[0].plot(scales, sens[name]["z"], marker="o", label=name)
    axes[1].plot(scales, sens[name]["xhat"], marker="o", label=name)
for ax, what in zip(axes, ["las características: ‖z(x+δ) − z(x)‖ / ‖δ‖",
                           "la reconstrucción: ‖x̂(x+δ) − x̂(x)‖ / ‖δ‖"]):
    ax.set_xscale("log")
    ax.set_xlabel("tamaño de la perturbación s (desviación por píxel)")
    ax.set_ylabel("cambio relativo")
    ax.set_title(f"Sensibilidad de {what}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# **Lectura.** Con perturbaciones tan pequeñas los tres modelos se comportan casi linealmente
# (las curvas son planas). Los dos regularizadores hacen el modelo menos sensible que el
# autoencoder normal, pero de forma distinta, como dice la lección:
#
# * el **contractivo** actúa sobre todo en las **características**: reduce la sensibilidad del
#   código unas cuatro veces, y la de la reconstrucción sólo a la mitad (y, con este $\lambda$,
#   reconstruye peor: es el precio de la penalización);
# * el ***denoising*** reduce la sensibilidad de la **reconstrucción** y la del código en una
#   proporción parecida: lo que aprende es a llevar $\tilde x$ de vuelta a $x$, no a tener un
#   código plano.
#
# Cambia $\lambda$ y $\sigma$ (sección "Para experimentar") y vuelve a medir.

# %% [markdown]
# ## 5. ¿En qué direcciones no contrae? Los valores singulares de $J$
#
# El contractivo no puede ser insensible a **todo**: tiene que seguir distinguiendo unos dígitos
# de otros. Lo que aprende (Rifai et al.) es a ser sensible sólo en unas pocas direcciones (las
# tangentes a la "variedad" de los datos) y a contraer todas las demás. Se ve en los valores
# singulares de $J(x)$, ordenados de mayor a menor y promediados sobre 100 imágenes de prueba:

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
for name, m in models.items():
    sv = np.mean([np.linalg.svd(jacobian(m, x), compute_uv=False) for x in Xte[:100]], axis=0)
    ax.plot(np.arange(1, len(sv) + 1), sv, marker=".", label=name)
ax.set_yscale("log")
ax.set_xlabel("índice del valor singular")
ax.set_ylabel("valor singular de J (media)")
ax.set_title("Espectro de la jacobiana del codificador")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# El contractivo conserva unos pocos valores singulares grandes y el resto cae varios órdenes de
# magnitud: es sensible en pocas direcciones y contrae las demás. El normal y el *denoising*
# mantienen un espectro mucho más plano.

# %% [markdown]
# ## Para experimentar
#
# * Sube $\lambda$ (0.3, 1.0): ¿cuánto empeora la reconstrucción y cuánto baja $\|J\|_F^2$?
# * Sube el ruido del *denoising* y repite las medidas de la sección 4.
# * `Contractive(lam, layer=0)` penaliza otra capa de un autoencoder apilado (`hidden=[32, 16]`).

# %%
print(f"Cuaderno ejecutado en {time.perf_counter() - T0:.0f} s")
