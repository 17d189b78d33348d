# Fuente del cuaderno 03_denoising.ipynb (formato "percent"; ver notebooks/_build.py).

# %% [markdown]
# # 3. El autoencoder de eliminación de ruido (*denoising*)
#
# Un autoencoder que sólo copia no aprende nada. El *denoising autoencoder* (Vincent et al.,
# 2008) le pone una tarea más difícil: el codificador ve una **copia corrompida** $\tilde x$ de la
# entrada, y la reconstrucción se compara con la entrada **limpia**:
#
# $$\tilde x \sim q(\tilde x \mid x), \qquad z = \sigma(W\tilde x + b), \qquad
# \hat x = \sigma'(W'z + b'), \qquad E = \tfrac12 \sum_i (x_i - \hat x_i)^2 .$$
#
# Para quitar el ruido, el modelo tiene que aprender cómo son los datos.
#
# Tres corrupciones $q$, en `ae.regularizers`:
#
# | corrupción | `aenumpy` | qué hace |
# |---|---|---|
# | gaussiana $\mu_T$ | `GaussianNoise(sigma)` | $\tilde x = x + \sigma\,\varepsilon$, $\varepsilon \sim N(0, I)$ |
# | enmascaramiento | `MaskingNoise(p)` | cada píxel se pone a 0 con probabilidad $p$ |
# | sal y pimienta | `SaltAndPepper(p)` | cada píxel pasa a 0 o a 1 (al azar) con probabilidad $p$ |
#
# La corrupción sólo actúa en el entrenamiento (`model.reconstruct` no corrompe, salvo con `at_eval=True`).
#
# ¿De dónde sale $\varepsilon$? En el código que se lee (`aenumpy/regularizers/corruption.py`),
# de `rng.standard_normal`. El backend rápido (`aenumpy/fast/noise.py`), que entra en juego con
# modelos grandes como los de MNIST, la obtiene de los bits del generador con la transformación de
# Box–Muller: $r = \sqrt{-2\ln(1-u_1)}$, $\theta = 2\pi u_2$ dan dos normales independientes
# $r\cos\theta$ y $r\sin\theta$, varias veces más rápido. Las dos son $N(0, 1)$, pero la misma
# semilla da ruido distinto en cada camino.
#
# **Para que el cuaderno tarde menos de tres minutos** usamos 10 000 imágenes de MNIST para
# entrenar, 1 000 de prueba y 5 épocas por modelo.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import aenumpy as ae
from aenumpy.regularizers import GaussianNoise, MaskingNoise, SaltAndPepper

np.set_printoptions(precision=4, suppress=True, linewidth=110)
plt.rcParams.update({"figure.dpi": 90, "axes.titlesize": 11, "axes.labelsize": 10})
T0 = time.perf_counter()

Xtr, ytr, Xte, yte = ae.datasets.load_mnist("mnist")
Xtr, Xte, yte = Xtr[:10_000], Xte[:1_000], yte[:1_000]
print("MNIST (subconjunto):", Xtr.shape, Xte.shape)

# %% [markdown]
# ## 1. Las tres corrupciones
#
# Cada corrupción tiene un método `corrupt(X, rng)`; el generador `rng` con semilla hace que el
# ruido sea reproducible. (Con ruido gaussiano $\tilde x$ puede salir de $[0, 1]$; en las figuras
# se recorta para dibujarlo.)

# %%
corruptions = [GaussianNoise(0.2), GaussianNoise(0.5), MaskingNoise(0.3), MaskingNoise(0.6),
               SaltAndPepper(0.1), SaltAndPepper(0.3)]
x = Xte[:6]
fig, axes = plt.subplots(len(corruptions) + 1, 6, figsize=(7, 9))
rows = [("limpia x", x)] + [(repr(c).replace(", at_eval=False", ""), c.corrupt(x, np.random.default_rng(0)))
                            for c in corruptions]
for r, (label, imgs) in enumerate(rows):
    for c in range(6):
        axes[r, c].imshow(np.clip(imgs[c], 0, 1).reshape(28, 28), cmap="gray", vmin=0, vmax=1)
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(label.replace("(", "\n("), fontsize=8, rotation=0, ha="right", va="center")
fig.suptitle("Una imagen limpia y sus versiones corrompidas x̃ ~ q(x̃ | x)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Ejercicio 3.1: el ruido de enmascaramiento
#
# Escribe `enmascarar(X, p, rng)`: cada entrada se pone a 0 con probabilidad $p$,
# $\tilde x_i = x_i\, b_i$ con $b_i \sim \text{Bernoulli}(1-p)$. Para que la comprobación pueda
# repetir tu sorteo, saca **un** uniforme por entrada con `u = rng.random(X.shape)` y conserva
# $x_i$ donde $u_i \ge p$ (así lo hace `MaskingNoise`).

# %%
def enmascarar(X, p, rng):
    """x̃ = x ⊙ b, b_i = 1 con probabilidad 1 − p (u_i ≥ p)."""
    ### BEGIN SOLUTION
    u = rng.random(X.shape)
    return X * (u >= p)
    ### END SOLUTION

# %%
resultado = ae.exercises.check("03.masking", enmascarar)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ### Ejercicio 3.2: el error, contra la $x$ limpia
#
# Escribe `error_denoising(X, X_tilde, X_hat)`: el codificador vio $\tilde x$, pero el error se
# mide contra la entrada limpia, $E = \frac1B \sum_n \tfrac12 \sum_i (x_{ni} - \hat x_{ni})^2$.
# Devuelve $E$ y $\partial E/\partial \hat x = (\hat x - x)/B$ (la comprobación compara también
# tu gradiente con la derivada numérica de tu $E$).

# %%
def error_denoising(X, X_tilde, X_hat):
    """E(x, x̂) contra la x limpia, y ∂E/∂x̂."""
    ### BEGIN SOLUTION
    B = X.shape[0]
    E = 0.5 * np.sum((X - X_hat) ** 2) / B
    return E, (X_hat - X) / B
    ### END SOLUTION

# %%
resultado = ae.exercises.check("03.denoising_loss", error_denoising)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Entrenar: un autoencoder normal y tres de eliminación de ruido
#
# La misma arquitectura 784 → 128 → 784 (ReLU en el codificador, sigmoide a la salida) para los
# cuatro; sólo cambia la corrupción de la entrada.

# %%
def train(regularizers, seed=0):
    model = ae.Autoencoder(n_in=784, hidden=[128], activation="relu", output_activation="sigmoid",
                           loss="mse", regularizers=regularizers, seed=seed)
    ae.fit(model, Xtr, epochs=5, batch_size=64, optimizer=ae.optim.Adam(lr=2e-3), seed=seed,
           progress=False)
    return model


noises = {"gaussiano σ = 0.5": GaussianNoise(0.5), "de máscara p = 0.5": MaskingNoise(0.5),
          "de sal y pimienta p = 0.3": SaltAndPepper(0.3)}
models = {"normal": train([])}
for name, q in noises.items():
    t1 = time.perf_counter()
    models[name] = train([q])
    print(f"DAE con ruido {name}: {time.perf_counter() - t1:.1f} s")

# %% [markdown]
# ## 3. Limpia / ruidosa / reconstruida
#
# `ae.plot.denoising` dibuja la imagen limpia $x$, la corrompida $\tilde x$ y la reconstrucción
# $\hat x$ obtenida **a partir de** $\tilde x$. Primero el autoencoder normal, después el
# entrenado con ese mismo ruido.

# %%
for name, q in noises.items():
    for who in ("normal", name):
        fig = ae.plot.denoising(models[who], Xte, q, n=10, rng=np.random.default_rng(1),
                                title=f"Ruido {name}: autoencoder {'normal' if who == 'normal' else 'de eliminación de ruido'}")
        plt.show()

# %% [markdown]
# Y con números: el error $\tfrac12\|x - \hat x\|^2$ entre la imagen **limpia** y la
# reconstrucción de su versión ruidosa, medio sobre las 1 000 imágenes de prueba, para cada
# modelo (filas) y cada tipo de ruido en la entrada (columnas). La primera columna es sin ruido.

# %%
def denoise_error(model, q):
    Xn = Xte if q is None else q.corrupt(Xte, np.random.default_rng(2))
    Xh = model.reconstruct(Xn)
    return 0.5 * np.sum((Xte - Xh) ** 2, axis=1).mean()


cols = {"sin ruido": None, **noises}
print(f"{'modelo':28s}" + "".join(f"{c:>27s}" for c in cols))
for who, m in models.items():
    print(f"{who:28s}" + "".join(f"{denoise_error(m, q):27.2f}" for q in cols.values()))

# %% [markdown]
# Cada DAE quita mejor que nadie el ruido con el que se entrenó (el número más bajo de su
# columna), a cambio de reconstruir peor las imágenes limpias (primera columna). El
# autoencoder normal, que nunca vio ruido, reconstruye bien las limpias, pero parte del ruido
# pasa a su reconstrucción.
#
# ## 4. Los filtros aprendidos
#
# Cada fila $W_{j\cdot}$ de $W$ es el patrón al que responde la unidad $j$ (rojo = peso positivo,
# azul = negativo, blanco = 0). Vincent et al. (2010) observan que, con ruido y un entrenamiento
# largo, las unidades se convierten en detectores de trazos más locales. Con sólo 5 épocas la
# diferencia es todavía pequeña: compáralos, y entrena más para verla crecer.

# %%
for who in ("normal", "de máscara p = 0.5"):
    fig = ae.plot.filters(models[who], n=40, per_unit=True,
                          title=f"Filtros W_j· del autoencoder {who} (40 de 128)")
    plt.show()

# %% [markdown]
# ## 5. Completar partes que faltan
#
# Un modelo que sabe cómo son los dígitos puede rellenar lo que falta. Llevado al extremo:
# borramos **la mitad inferior** de cada imagen y pedimos al modelo que la complete.
# `ae.plot.completion` pone a 0 los píxeles que faltan (naranja), reconstruye, vuelve a poner los
# píxeles conocidos y repite (`iterations`), de modo que el modelo va rellenando el hueco.

# %%
for who in ("normal", "de máscara p = 0.5"):
    fig = ae.plot.completion(models[who], Xte[:10], mask="bottom", iterations=5,
                             title=f"Completar la mitad inferior: autoencoder {who}")
    plt.show()

# %%
mask = ae.plot.region_mask(784, "bottom")


def completion_error(model, iterations=5):
    """½ Σ (x − x̂)² sobre los píxeles que faltaban, media sobre las imágenes de prueba."""
    cur = np.where(mask, 0.0, Xte).astype(np.float32)
    for _ in range(iterations):
        cur = np.where(mask, model.reconstruct(cur), Xte).astype(np.float32)
    return 0.5 * np.sum(np.where(mask, Xte - cur, 0.0) ** 2, axis=1).mean()


for who, m in models.items():
    print(f"{who:28s} error en la mitad que faltaba: {completion_error(m):.2f}")
print(f"{'(rellenar con ceros)':28s} error en la mitad que faltaba: "
      f"{0.5 * np.sum(np.where(mask, Xte, 0.0) ** 2, axis=1).mean():.2f}")

# %% [markdown]
# Borrar media imagen es mucho más que el ruido con el que se entrenaron, así que ningún
# modelo la completa bien, y a veces inventa otro dígito (un 2 que se cierra como un 3). En la
# tabla, el de ruido gaussiano es el que más se acerca en media; el de máscara dibuja trazos más
# completos, pero con sólo 5 épocas y $p = 0.5$ se equivoca más a menudo de dígito. Prueba a
# entrenar más épocas, o a completar regiones más pequeñas (`mask="center"`).

# %% [markdown]
# ## Para experimentar
#
# * Sube el nivel de ruido (`GaussianNoise(0.8)`, `MaskingNoise(0.8)`) y mira los filtros.
# * Prueba a completar otras regiones: `mask="left"`, `"top"`, `"center"`.
# * Entrena con más imágenes y épocas (todo MNIST: `Xtr` completo) y compara la tabla.
# * `GaussianNoise(0.3, at_eval=True)` corrompe también al codificar: ¿qué pasa con la reconstrucción?

# %%
print(f"Cuaderno ejecutado en {time.perf_counter() - T0:.0f} s")
