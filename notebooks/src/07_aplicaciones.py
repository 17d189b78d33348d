# Fuente del cuaderno 07_aplicaciones.ipynb (formato "percent"; ver notebooks/_build.py).

# %% [markdown]
# # 7. Aplicaciones
#
# Tres usos de un autoencoder entrenado:
#
# 1. **Detección de anomalías**: lo que el modelo no ha visto nunca lo reconstruye mal, así que
#    el error de reconstrucción $E(x) = \tfrac12\|x - \hat x\|^2$ sirve de puntuación de anomalía.
#    La evaluamos con la curva ROC y su área (AUC).
# 2. **Reducción de dimensionalidad**: el código $z$ como representación de pocas dimensiones,
#    frente a PCA.
# 3. **Autoencoder apilado + clasificador**: se entrenan dos autoencoders, uno sobre el código del
#    otro (sin etiquetas), y el código final alimenta un clasificador sencillo entrenado con
#    **pocas** etiquetas.
#
# **Para que el cuaderno tarde menos de tres minutos** usamos subconjuntos de MNIST (10 000
# imágenes para entrenar, 2 000 de prueba) y pocas épocas.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import aenumpy as ae

np.set_printoptions(precision=4, suppress=True, linewidth=110)
plt.rcParams.update({"figure.dpi": 90, "axes.titlesize": 11, "axes.labelsize": 10})
T0 = time.perf_counter()

Xtr, ytr, Xte, yte = ae.datasets.load_mnist("mnist")
Xtr, ytr, Xte, yte = Xtr[:10_000], ytr[:10_000], Xte[:2_000], yte[:2_000]
Ftr, _, Fte, fte = ae.datasets.load_mnist("fashion")      # Fashion-MNIST: ropa, no dígitos
print("MNIST:", Xtr.shape, Xte.shape, "  Fashion-MNIST (prueba):", Fte.shape)


def train_ae(X, hidden, epochs=5, seed=0, **kw):
    model = ae.Autoencoder(n_in=X.shape[1], hidden=hidden, activation="relu", seed=seed, **kw)
    ae.fit(model, X, epochs=epochs, batch_size=64, optimizer=ae.optim.Adam(lr=2e-3), seed=seed,
           progress=False)
    return model


def per_sample_error(model, X):
    """E(x) = ½ Σ_i (x_i − x̂_i)² de cada fila."""
    return 0.5 * np.sum((X - model.reconstruct(X)) ** 2, axis=1)

# %% [markdown]
# ## 1. Detección de anomalías
#
# Entrenamos un autoencoder 784 → 64 → 784 **sólo con dígitos**. Después puntuamos 1 000 dígitos
# de prueba (normales) y 1 000 prendas de Fashion-MNIST (anomalías) con su error de reconstrucción.

# %%
t1 = time.perf_counter()
detector = train_ae(Xtr, [64])
print(f"entrenado en {time.perf_counter() - t1:.1f} s")

normal, anomal = Xte[:1000], Fte[:1000]
scores = np.concatenate([per_sample_error(detector, normal), per_sample_error(detector, anomal)])
labels = np.concatenate([np.zeros(1000), np.ones(1000)])       # 1 = anomalía

fig, ax = plt.subplots(figsize=(6.5, 3.8))
bins = np.linspace(0, np.percentile(scores, 99), 60)
ax.hist(scores[labels == 0], bins=bins, alpha=0.6, label="dígitos (normales)")
ax.hist(scores[labels == 1], bins=bins, alpha=0.6, label="prendas (anomalías)")
ax.set_xlabel("error de reconstrucción E(x)")
ax.set_ylabel("número de imágenes")
ax.set_title("Puntuación de anomalía: el error de reconstrucción")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Ejercicio 7.1: un umbral
#
# Para usar el detector hay que elegir un umbral $t$: es anómala toda imagen con $E(x) > t$. Un
# criterio habitual fija la fracción $\alpha$ de imágenes **normales** que aceptamos marcar por
# error (la tasa de falsos positivos): $t$ es el cuantil $1 - \alpha$ de los errores de imágenes
# normales. Escribe `umbral(errores_normales, alpha)` con `np.quantile` (su interpolación lineal
# por defecto).

# %%
def umbral(errores_normales, alpha):
    """El cuantil 1 − α de los errores de las imágenes normales."""
    ### BEGIN SOLUTION
    return float(np.quantile(errores_normales, 1 - alpha))
    ### END SOLUTION

# %%
resultado = ae.exercises.check("07.threshold", umbral)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# El umbral de la biblioteca (`ae.anomaly.threshold`) con $\alpha = 5\,\%$, calculado con 1 000
# imágenes de **entrenamiento** (normales, y distintas de las de prueba), aplicado a la prueba:

# %%
t = ae.anomaly.threshold(per_sample_error(detector, Xtr[:1000]), 0.05)
print(f"umbral t = {t:.2f}: marca el {np.mean(scores[labels == 0] > t):.1%} de los dígitos de prueba "
      f"y el {np.mean(scores[labels == 1] > t):.1%} de las prendas")

# %% [markdown]
# ### La curva ROC y el AUC
#
# Cada umbral $t$ da un punto: la **tasa de verdaderos positivos** (TPR), la fracción de anomalías
# detectadas, y la **tasa de falsos positivos** (FPR), la fracción de normales marcadas por error.
# Recorriendo los umbrales de mayor a menor se obtiene la curva ROC; su área (AUC) es la
# probabilidad de que una anomalía al azar puntúe más que una imagen normal al azar (contando ½
# los empates: el estadístico de Mann–Whitney).
#
# ### Ejercicio 7.2: el AUC
#
# Escribe `area_roc(puntuaciones, etiquetas)` (1 = anomalía): con la curva ROC y la regla del
# trapecio, o comparando todas las parejas anomalía–normal.

# %%
def area_roc(puntuaciones, etiquetas):
    """AUC: P(una anomalía puntúa más que una normal), los empates cuentan ½."""
    ### BEGIN SOLUTION
    pos = puntuaciones[etiquetas == 1]
    neg = puntuaciones[etiquetas == 0]
    mayor = np.mean(pos[:, None] > neg[None, :])               # todas las parejas
    empate = np.mean(pos[:, None] == neg[None, :])
    return float(mayor + 0.5 * empate)
    ### END SOLUTION

# %%
resultado = ae.exercises.check("07.auc", area_roc)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# Con la biblioteca: `ae.anomaly.roc_curve` da la curva y `ae.anomaly.auc` su área (regla del
# trapecio).

# %%
fpr, tpr = ae.anomaly.roc_curve(scores, labels)
auc = ae.anomaly.auc(scores, labels)
print(f"AUC = {auc:.4f}")

# %% [markdown]
# Un caso más difícil: entrenamos otro detector **sin ningún 2** y usamos los 2 de prueba como
# anomalías frente al resto de dígitos. Un 2 se parece mucho más a los demás dígitos que una prenda.

# %%
held_out = 2
t1 = time.perf_counter()
detector2 = train_ae(Xtr[ytr != held_out], [64])
print(f"entrenado en {time.perf_counter() - t1:.1f} s")
scores2 = per_sample_error(detector2, Xte)
labels2 = (yte == held_out).astype(float)
fpr2, tpr2 = ae.anomaly.roc_curve(scores2, labels2)
auc2 = ae.anomaly.auc(scores2, labels2)
print(f"AUC = {auc2:.4f}   "
      f"({int(labels2.sum())} doses entre {len(yte)} dígitos)")

# %%
fig, ax = plt.subplots(figsize=(5, 5))
ax.plot(fpr, tpr, label=f"dígitos frente a prendas (AUC = {auc:.3f})")
ax.plot(fpr2, tpr2, label=f"el 2 nunca visto frente al resto (AUC = {auc2:.3f})")
ax.plot([0, 1], [0, 1], "k--", lw=1, label="al azar (AUC = 0.5)")
ax.set_xlabel("tasa de falsos positivos (FPR)")
ax.set_ylabel("tasa de verdaderos positivos (TPR)")
ax.set_title("Curvas ROC del error de reconstrucción")
ax.legend(loc="lower right", fontsize=9)
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
order = np.argsort(scores2)
fig, axes = plt.subplots(2, 10, figsize=(10, 2.6))
for c, i in enumerate(order[:10]):
    axes[0, c].imshow(Xte[i].reshape(28, 28), cmap="gray")
    axes[0, c].set_title(f"{scores2[i]:.1f}", fontsize=8)
for c, i in enumerate(order[::-1][:10]):
    axes[1, c].imshow(Xte[i].reshape(28, 28), cmap="gray")
    axes[1, c].set_title(f"{scores2[i]:.1f}", fontsize=8)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("menos\nanómalas", fontsize=8)
axes[1, 0].set_ylabel("más\nanómalas", fontsize=8)
fig.suptitle("Detector sin doses: las 10 imágenes de prueba con menor y mayor E(x)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Reducción de dimensionalidad
#
# Un autoencoder 784 → 128 → 2 → 128 → 784 frente a las dos primeras componentes principales.
# Para medir qué representación separa mejor los dígitos usamos el clasificador más sencillo: el
# **centroide más cercano** (cada imagen se asigna al dígito cuya media de códigos está más cerca),
# entrenado con los códigos de entrenamiento y evaluado con los de prueba.

# %%
def nearest_centroid(Ztr, ytr, Zte):
    centroids = np.stack([Ztr[ytr == c].mean(axis=0) for c in range(10)])
    d = ((Zte[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1)


t1 = time.perf_counter()
ae2d = train_ae(Xtr, [128, 2], epochs=8)
print(f"entrenado en {time.perf_counter() - t1:.1f} s")

mean = Xtr.mean(axis=0)
_, _, Vt = np.linalg.svd(Xtr - mean, full_matrices=False)
pca = lambda X: (X - mean) @ Vt[:2].T                             # noqa: E731
codes = {"PCA (2 componentes)": (pca(Xtr), pca(Xte)),
         "autoencoder (código de 2)": (ae2d.encode(Xtr), ae2d.encode(Xte))}

fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
for ax, (name, (Ztr, Zte)) in zip(axes, codes.items()):
    acc = np.mean(nearest_centroid(Ztr, ytr, Zte) == yte)
    print(f"{name:28s} acierto del centroide más cercano: {acc:.1%}")
    sc = ax.scatter(Zte[:, 0], Zte[:, 1], c=yte, cmap="tab10", s=6, vmin=-0.5, vmax=9.5)
    ax.set_title(f"{name}: acierto {acc:.0%}")
    ax.set_xlabel("dimensión 1")
    ax.set_ylabel("dimensión 2")
fig.colorbar(sc, ax=axes, ticks=range(10), label="dígito")
fig.suptitle("2 000 dígitos de prueba reducidos a dos dimensiones")
plt.show()

# %% [markdown]
# **Lectura.** Con sólo 8 épocas y 10 000 imágenes, el autoencoder **no** separa mejor los dígitos
# que PCA según esta medida: su código ReLU queda en el cuadrante positivo y muy estirado, lo que
# perjudica a un clasificador por distancias. El 0 y el 1 se separan bien en los dos. PCA es una
# referencia difícil de batir en dos dimensiones; un autoencoder más profundo y bien entrenado
# sí la supera (Hinton y Salakhutdinov, 2006). Prueba con más épocas y con todo MNIST.

# %% [markdown]
# ## 3. Un autoencoder apilado cuyo código alimenta un clasificador
#
# El autoencoder **apilado** clásico se entrena capa a capa, sin etiquetas:
#
# 1. un autoencoder 784 → 256 → 784 sobre las imágenes: $h_1 = \mathrm{ReLU}(W_1 x + b_1)$;
# 2. otro 256 → 64 → 256 sobre los códigos $h_1$: $h_2 = \mathrm{ReLU}(W_2 h_1 + b_2)$
#    (con salida lineal, porque $h_1$ no está en $[0, 1]$).
#
# El código final $h_2$ (64 números por imagen) alimenta una **regresión logística multiclase**
# (*softmax*) escrita aquí mismo con NumPy. Sólo usamos **1 000 etiquetas**; los autoencoders han
# aprendido de las 10 000 imágenes sin etiquetar. Comparamos con la misma regresión sobre los
# 784 píxeles.

# %%
t1 = time.perf_counter()
layer1 = train_ae(Xtr, [256])
H1tr, H1te = layer1.encode(Xtr), layer1.encode(Xte)
layer2 = train_ae(H1tr, [64], output_activation="identity")
H2tr, H2te = layer2.encode(H1tr), layer2.encode(H1te)
print(f"dos autoencoders entrenados en {time.perf_counter() - t1:.1f} s; código final: {H2tr.shape}")

# %%
def softmax_regression(X, y, epochs=300, lr=0.5, lam=1e-4):
    """Regresión logística multiclase por descenso de gradiente (lote completo).

    p = softmax(X Vᵀ + c); pérdida = media de −log p_y + (λ/2)‖V‖²; ∂/∂(X Vᵀ + c) = (p − onehot)/N.
    """
    mu, sd = X.mean(axis=0), X.std(axis=0) + 1e-6                 # estandarizar los rasgos
    Xs = (X - mu) / sd
    N, d = Xs.shape
    V, c = np.zeros((10, d)), np.zeros(10)
    Y = np.eye(10)[y]
    for _ in range(epochs):
        A = Xs @ V.T + c
        P = np.exp(A - A.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        G = (P - Y) / N
        V -= lr * (G.T @ Xs + lam * V)
        c -= lr * G.sum(axis=0)
    return lambda Xn: (((Xn - mu) / sd) @ V.T + c).argmax(axis=1)


n_labels = 1000
results = {}
for name, (Ftr_, Fte_) in {"píxeles (784)": (Xtr, Xte), "código h₁ (256)": (H1tr, H1te),
                           "código apilado h₂ (64)": (H2tr, H2te)}.items():
    predict = softmax_regression(Ftr_[:n_labels].astype(np.float64), ytr[:n_labels])
    results[name] = np.mean(predict(Fte_.astype(np.float64)) == yte)
    print(f"{name:24s} acierto en 2 000 imágenes de prueba: {results[name]:.1%}")

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.2))
ax.barh(list(results), [100 * v for v in results.values()], color=["tab:gray", "tab:blue", "tab:orange"])
for i, v in enumerate(results.values()):
    ax.text(100 * v + 0.5, i, f"{v:.1%}", va="center")
ax.set_xlim(0, 105)
ax.set_xlabel("acierto en prueba (%)")
ax.set_title(f"Regresión logística entrenada con {n_labels} etiquetas")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Lectura.** Las tres representaciones dan prácticamente el mismo acierto: el código apilado
# conserva en 64 números (doce veces menos que los píxeles) lo que la regresión logística
# necesita para distinguir los dígitos. Con estos tamaños y 5 épocas por capa no lo mejora;
# la ventaja clásica del preentrenamiento no supervisado aparece con redes más profundas, más
# datos sin etiquetar y un ajuste fino de toda la red con las etiquetas.

# %% [markdown]
# ## Para experimentar
#
# * Cambia el dígito que el detector no ve (`held_out`) y mira cómo cambia el AUC.
# * Detecta anomalías con un VAE, usando $-\log p(x)$ (`vae.log_likelihood(X, k, per_sample=True)`)
#   como puntuación.
# * Sube o baja `n_labels`: ¿cuándo deja de ayudar el autoencoder?

# %%
print(f"Cuaderno ejecutado en {time.perf_counter() - T0:.0f} s")
