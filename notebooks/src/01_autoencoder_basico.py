# Fuente del cuaderno 01_autoencoder_basico.ipynb (formato "percent"; ver notebooks/_build.py).

# %% [markdown]
# # 1. El autoencoder básico
#
# Un **autoencoder** aprende a copiar su entrada en su salida pasando por un **código** intermedio.
# En la lección se escribe así:
#
# | | ecuación |
# |---|---|
# | codificador | $z = \sigma(Wx + b)$ |
# | decodificador | $\hat x = \sigma'(W'z + b')$ |
# | error de reconstrucción | $E = \tfrac12 \sum_i (x_i - \hat x_i)^2$ |
#
# Con `aenumpy` cada una de estas cantidades se puede mirar: no hay diferenciación automática,
# cada capa escribe su paso hacia delante y hacia atrás.
#
# **Convenio**: las filas son muestras. Un lote es una matriz $X$ de forma `(B, d)` y una capa
# guarda $W$ con forma `(d_salida, d_entrada)`, como en la lección; por eso en código escribimos
# $Z = \sigma(X W^\top + b)$. El error se promedia sobre las muestras del lote.
#
# **Contenido**
# 1. Los datos
# 2. Un paso hacia delante, a mano
# 3. Un paso hacia atrás, a mano (retropropagación) y la traza
# 4. La comprobación del gradiente
# 5. Entrenamiento con los dígitos 8×8
# 6. Entrenamiento con MNIST
# 7. El espacio del código frente a PCA
# 8. Incompleto frente a sobrecompleto: ¿por qué puede aprender la identidad?
# 9. Las restricciones de la lección: L1/L2 y *dropout*
#
# Todo el cuaderno se ejecuta en menos de tres minutos en un portátil: usamos los dígitos 8×8
# que vienen con la biblioteca y, para MNIST, un subconjunto de 10 000 imágenes y pocas épocas.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import aenumpy as ae

np.set_printoptions(precision=4, suppress=True, linewidth=110)
plt.rcParams.update({"figure.dpi": 90, "axes.titlesize": 11, "axes.labelsize": 10})
T0 = time.perf_counter()  # para saber cuánto tarda el cuaderno entero

# %% [markdown]
# ## 1. Los datos
#
# `ae.datasets.load_digits()` devuelve los dígitos manuscritos de 8×8 píxeles del conjunto UCI
# (1 437 de entrenamiento y 360 de prueba), con los píxeles escalados a $[0, 1]$. Cada imagen es
# una fila de 64 números.

# %%
Xtr, ytr, Xte, yte = ae.datasets.load_digits()
print("entrenamiento:", Xtr.shape, Xtr.dtype, " prueba:", Xte.shape)
print("rango de los píxeles:", Xtr.min(), "…", Xtr.max())

fig, axes = plt.subplots(2, 10, figsize=(10, 2.4))
for ax, x, y in zip(axes.ravel(), Xtr, ytr):
    ax.imshow(x.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(f"{y}", fontsize=9)
    ax.axis("off")
fig.suptitle("Veinte dígitos de entrenamiento (8×8 píxeles) y su etiqueta")
plt.show()

# %% [markdown]
# ## 2. Un paso hacia delante, a mano
#
# Construimos un autoencoder de 64 → 16 → 64 con sigmoides. Para las cuentas a mano usamos
# `dtype="float64"` (para entrenar se usa `float32`, para comprobar `float64`).
# Los parámetros están en `model.params`: `enc0.W` es $W$ (16×64), `enc0.b` es $b$,
# `dec0.W` es $W'$ (64×16) y `dec0.b` es $b'$.

# %%
model = ae.Autoencoder(n_in=64, hidden=[16], activation="sigmoid",
                       output_activation="sigmoid", loss="mse", seed=0, dtype="float64")
print(model)
for name, p in model.params.items():
    print(f"{name:8s} {str(p.shape):10s}")

# %% [markdown]
# ### Ejercicio 1.1: el paso hacia delante
#
# Escribe `adelante(X, W, b, W2, b2)` para un lote $X$ (las filas son muestras): devuelve el
# código $Z = \sigma(XW^\top + b)$ y la reconstrucción $\hat X = \sigma(ZW'^\top + b')$, con la
# sigmoide $\sigma(a) = 1/(1+e^{-a})$ que está definida en la celda. La celda siguiente la
# comprueba con `ae.exercises.check`, que la ejecuta con varios lotes (una sola muestra,
# unidades saturadas, una fila de ceros) y la compara con las capas de la biblioteca.
# El enunciado completo: `print(ae.exercises.describe("01.forward"))`.

# %%
def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def adelante(X, W, b, W2, b2):
    """Z = σ(X Wᵀ + b) y X̂ = σ(Z W'ᵀ + b')."""
    ### BEGIN SOLUTION
    Z = sigmoid(X @ W.T + b)          # z = σ(Wx + b), una fila por muestra
    X_hat = sigmoid(Z @ W2.T + b2)    # x̂ = σ'(W'z + b')
    return Z, X_hat
    ### END SOLUTION

# %%
resultado = ae.exercises.check("01.forward", adelante)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# El mismo paso con el modelo, para una muestra: `model.encode` da $z$, `model.reconstruct` da
# $\hat x$ y `model.loss` da $E = \tfrac12 \sum_i (x_i - \hat x_i)^2$.

# %%
x = Xtr[:1].astype(np.float64)               # una muestra, forma (1, 64)
W, b = model.params["enc0.W"], model.params["enc0.b"]
W2, b2 = model.params["dec0.W"], model.params["dec0.b"]   # W' y b'

z = model.encode(x)                          # z = σ(Wx + b)
x_hat = model.reconstruct(x)                 # x̂ = σ'(W'z + b')
E = model.loss(x)
print("código z:", z.round(3))
print("E =", E, " = ½ Σ (x − x̂)² =", 0.5 * np.sum((x - x_hat) ** 2))

# %% [markdown]
# ## 3. Un paso hacia atrás, a mano
#
# La regla de la cadena, de la salida hacia la entrada. Llamamos $\delta'$ al error en la
# pre-activación del decodificador y $\delta$ al del codificador; para la sigmoide
# $\sigma'(a) = \sigma(a)\,(1-\sigma(a))$:
#
# $$\frac{\partial E}{\partial \hat x} = \hat x - x, \qquad
# \delta' = \frac{\partial E}{\partial (W'z+b')} = (\hat x - x) \odot \hat x \odot (1-\hat x)$$
#
# $$\frac{\partial E}{\partial W'} = \delta'^\top z, \qquad \frac{\partial E}{\partial b'} = \delta', \qquad
# \frac{\partial E}{\partial z} = \delta' W'$$
#
# $$\delta = \frac{\partial E}{\partial (Wx+b)} = \frac{\partial E}{\partial z} \odot z \odot (1-z), \qquad
# \frac{\partial E}{\partial W} = \delta^\top x, \qquad \frac{\partial E}{\partial b} = \delta$$
#
# (Con un lote de $B$ filas, los productos $\delta^\top x$ suman sobre las filas y se divide
# entre $B$ porque $E$ es la media.)

# %% [markdown]
# ### Ejercicio 1.2: el error en la salida, $\delta'$
#
# Escribe `delta_salida(X, A2)`: con $\hat X = \sigma(A_2)$ ($A_2$ es la pre-activación
# $W'z + b'$ de todo el lote), devuelve $E$ (media sobre el lote) y
# $\delta' = \partial E/\partial A_2 = (\hat x - x) \odot \hat x \odot (1-\hat x) / B$. Como es un
# gradiente, la comprobación también lo compara con la derivada numérica de **tu** $E$: así sabe
# decir si falla el valor o el gradiente.

# %%
def delta_salida(X, A2):
    """E = (1/B) Σ ½ Σ (x − σ(a'))² y δ' = ∂E/∂a'."""
    ### BEGIN SOLUTION
    B = X.shape[0]
    X_hat = sigmoid(A2)
    E = 0.5 * np.sum((X - X_hat) ** 2) / B
    delta2 = (X_hat - X) * X_hat * (1 - X_hat) / B
    return E, delta2
    ### END SOLUTION

# %%
resultado = ae.exercises.check("01.delta", delta_salida)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ### Ejercicio 1.3: $\partial E/\partial W'$ y $\partial E/\partial W$
#
# Escribe `atras(X, W, b, W2, b2)`: el paso hacia delante, y después la regla de la cadena de
# arriba para todo el lote. Devuelve $E$, $\partial E/\partial W$ (forma de $W$) y
# $\partial E/\partial W'$ (forma de $W'$). Puedes usar tus `adelante` y `delta_salida`, o
# escribirlo todo de nuevo.

# %%
def atras(X, W, b, W2, b2):
    """E, ∂E/∂W y ∂E/∂W' del autoencoder de una capa oculta (sigmoides, media sobre el lote)."""
    ### BEGIN SOLUTION
    Z = sigmoid(X @ W.T + b)
    A2 = Z @ W2.T + b2
    E, delta2 = delta_salida(X, A2)
    dW2 = delta2.T @ Z                       # ∂E/∂W' = δ'ᵀ z
    dE_dz = delta2 @ W2                      # ∂E/∂z = δ' W'
    delta = dE_dz * Z * (1 - Z)              # δ = ∂E/∂z ⊙ z ⊙ (1 − z)
    dW = delta.T @ X                         # ∂E/∂W = δᵀ x
    return E, dW, dW2
    ### END SOLUTION

# %%
resultado = ae.exercises.check("01.backward", atras)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# `ae.trace` registra **todas** estas cantidades de un paso, con los nombres de la lección, en el
# orden en que se calculan (se muestran los primeros valores de cada una). Las usamos en lo que
# queda del cuaderno:

# %%
t = ae.trace(model, x)
print(t)
delta2 = t["∂E/∂(W'z + b')"]                 # δ'
dE_dz = t["∂E/∂z"]
dW = t["∂E/∂W"]

# %% [markdown]
# La misma traza, como imagen: `ae.plot.trace(t)` dibuja la cadena de la lección de izquierda a
# derecha, $x \to Wx + b \to z \to W'z + b' \to \hat x \to E$. Debajo de cada cantidad está su
# gradiente $\partial E/\partial\cdot$ (la retropropagación va de derecha a izquierda, empezando
# en $E$) y, en la tercera fila, $\partial E/\partial W = \delta^\top x$ bajo la capa de cada $W$.
# Los vectores de 64 valores se dibujan como imágenes de 8×8. En gris, los valores en $[0, 1]$
# (la imagen, las sigmoides); en rojo (> 0) y azul (< 0), los que tienen signo, con su escala
# $\pm m$ debajo: así se comparan los tamaños de los gradientes de capa a capa.

# %%
fig = ae.plot.trace(t)
plt.show()

# %% [markdown]
# ## 4. La comprobación del gradiente
#
# ¿Cómo sabemos que una retropropagación escrita a mano es correcta? La comparamos con la
# derivada numérica. `ae.gradcheck` usa la diferencia centrada de cuarto orden
#
# $$\frac{\partial E}{\partial \theta} \approx \frac{E(\theta-2h) - 8E(\theta-h) + 8E(\theta+h) - E(\theta+2h)}{12h},
# \qquad h = 10^{-4},$$
#
# en `float64`, y el error relativo $|a-n| / (|a|+|n|)$ entre el gradiente analítico $a$ y el
# numérico $n$. Un gradiente correcto da errores del orden de $10^{-10}$; uno equivocado, de $10^{-1}$.

# %%
report = ae.gradcheck(model, Xtr[:8])
print(report)

# %% [markdown]
# Veamos qué aspecto tiene un error. Si olvidamos el factor $z \odot (1-z)$ de la sigmoide en
# $\delta$, el gradiente de $W$ sale mal, y la comparación con `ae.numerical_gradient`
# (que deriva numéricamente cualquier función escalar) lo delata:

# %%
wrong_dW = dE_dz.T @ x                          # ¡falta z ⊙ (1 − z)!
idx = [1, 2, 3, 4, 5]                            # cinco entradas de W (píxeles no nulos de x)
W_check = model.params["enc0.W"]                 # se perturba en su sitio y se restaura
numeric = ae.numerical_gradient(lambda _: model.loss(x), W_check, indices=idx).ravel()[idx]


def rel_error(g):
    g = g.ravel()[idx]
    return np.abs(g - numeric) / np.maximum(1e-8, np.abs(g) + np.abs(numeric))


print("numérico   :", numeric)
print("correcto   :", dW.ravel()[idx])
print("equivocado :", wrong_dW.ravel()[idx])
print(f"error relativo máximo: correcto {rel_error(dW).max():.1e}, equivocado {rel_error(wrong_dW).max():.1e}")

# %% [markdown]
# ## 5. Entrenamiento con los dígitos 8×8
#
# Ahora un autoencoder de 64 → 32 → 64 en `float32`, entrenado con Adam por minilotes.
# `ae.fit` devuelve la historia del error por época (entrenamiento y validación).

# %%
model = ae.Autoencoder(n_in=64, hidden=[32], activation="sigmoid",
                       output_activation="sigmoid", loss="mse", seed=0)
t1 = time.perf_counter()
history = ae.fit(model, Xtr, epochs=30, batch_size=32, optimizer=ae.optim.Adam(lr=3e-3),
                 X_val=Xte, seed=0, progress=False)
print(f"{history.epochs} épocas en {time.perf_counter() - t1:.1f} s; "
      f"E de validación: {history['val_loss'][0]:.3f} → {history['val_loss'][-1]:.3f}")

# %%
fig = ae.plot.history(history, title="Dígitos 8×8: error de reconstrucción por época")
fig.axes[0].set_xlabel("época")
fig.axes[0].set_ylabel("E (media por muestra)")
fig.axes[0].legend(["entrenamiento", "validación"])
plt.show()
fig = ae.plot.reconstructions(model, Xte, n=12,
                              title="Dígitos de prueba: originales x (arriba) y reconstrucciones x̂ (abajo)")
plt.show()

# %% [markdown]
# ## 6. Entrenamiento con MNIST
#
# MNIST tiene imágenes de 28×28 = 784 píxeles. `ae.datasets.load_mnist("mnist")` lee los
# ficheros originales (los busca en `$AENUMPY_DATA`). **Para que el cuaderno sea rápido
# usamos sólo 10 000 imágenes de entrenamiento, 2 000 de prueba y 5 épocas**; con las
# 60 000 imágenes y más épocas las reconstrucciones son más nítidas.
#
# En el codificador usamos ReLU, $z = \max(0, Wx + b)$, en lugar de la sigmoide: con tan pocas
# épocas la sigmoide se queda en reconstrucciones borrosas (cerca del "dígito medio") y ReLU
# aprende bastante más deprisa. La salida sigue siendo una sigmoide, porque los píxeles están en $[0, 1]$.

# %%
Mtr, mtr, Mte, mte = ae.datasets.load_mnist("mnist")
Mtr, mtr, Mte, mte = Mtr[:10_000], mtr[:10_000], Mte[:2_000], mte[:2_000]
print("MNIST (subconjunto):", Mtr.shape, Mte.shape)

mnist_model = ae.Autoencoder(n_in=784, hidden=[64], activation="relu",
                             output_activation="sigmoid", loss="mse", seed=0)
t1 = time.perf_counter()
mnist_hist = ae.fit(mnist_model, Mtr, epochs=5, batch_size=64, optimizer=ae.optim.Adam(lr=2e-3),
                    X_val=Mte, seed=0, progress=False)
print(f"{mnist_hist.epochs} épocas en {time.perf_counter() - t1:.1f} s; "
      f"E de validación por época: {np.round(mnist_hist['val_loss'], 2)}")

# %%
fig = ae.plot.reconstructions(mnist_model, Mte, n=12,
                              title="MNIST, código de 64: originales (arriba) y reconstrucciones (abajo)")
plt.show()

# %% [markdown]
# ## 7. El espacio del código frente a PCA
#
# El análisis de componentes principales (PCA) proyecta los datos centrados sobre los $k$
# vectores propios de mayor varianza. Un resultado clásico (Baldi y Hornik, 1989): un autoencoder
# **lineal** (sin sigmoides) entrenado con el error cuadrático aprende **el mismo subespacio**
# que PCA, aunque no necesariamente la misma base. Lo comprobamos con $k = 2$ y medimos los
# ángulos principales entre los dos subespacios (cosenos cercanos a 1 = mismo subespacio).
# Después comparamos con un autoencoder no lineal 64 → 32 → 2 → 32 → 64.

# %%
k = 2
mean = Xtr.mean(axis=0)
_, S, Vt = np.linalg.svd(Xtr - mean, full_matrices=False)
P = Vt[:k]                                         # (k, 64): las k componentes principales
pca_codes = (Xte - mean) @ P.T
pca_rec = pca_codes @ P + mean
pca_err = 0.5 * np.sum((Xte - pca_rec) ** 2, axis=1).mean()

linear = ae.Autoencoder(n_in=64, hidden=[k], activation="identity",
                        output_activation="identity", loss="mse", seed=0)
ae.fit(linear, Xtr, epochs=40, batch_size=32, optimizer=ae.optim.Adam(lr=1e-2), seed=0, progress=False)

Q1, _ = np.linalg.qr(linear.params["dec0.W"].astype(np.float64))   # base del subespacio de W'
Q2, _ = np.linalg.qr(P.T)
cosines = np.linalg.svd(Q1.T @ Q2, compute_uv=False)

deep = ae.Autoencoder(n_in=64, hidden=[32, k], activation="sigmoid",
                      output_activation="sigmoid", loss="mse", seed=0)
ae.fit(deep, Xtr, epochs=40, batch_size=32, optimizer=ae.optim.Adam(lr=3e-3), seed=0, progress=False)

print(f"E de prueba con k = {k}:  PCA {pca_err:.3f} | autoencoder lineal "
      f"{linear.reconstruction_error(Xte):.3f} | autoencoder no lineal {deep.reconstruction_error(Xte):.3f}")
print("cosenos de los ángulos principales entre W' del lineal y PCA:", cosines.round(4))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
for ax, codes, title in [(axes[0], pca_codes, "PCA: las dos primeras componentes"),
                         (axes[1], deep.encode(Xte), "Autoencoder 64→32→2: el código z")]:
    sc = ax.scatter(codes[:, 0], codes[:, 1], c=yte, cmap="tab10", s=12, vmin=-0.5, vmax=9.5)
    ax.set_title(title)
    ax.set_xlabel("dimensión 1")
    ax.set_ylabel("dimensión 2")
fig.colorbar(sc, ax=axes, ticks=range(10), label="dígito")
fig.suptitle("Dígitos de prueba en un espacio de dos dimensiones")
plt.show()

# %% [markdown]
# ## 8. Incompleto frente a sobrecompleto
#
# Un autoencoder es **incompleto** (*undercomplete*) si el código es más pequeño que la entrada
# y **sobrecompleto** (*overcomplete*) si es más grande. Un sobrecompleto puede aprender la
# **identidad**, que reconstruye perfectamente… y no enseña nada de los datos.
#
# **¿Por qué?** Cerca de 0 la sigmoide es casi una recta: $\sigma(a) \approx \tfrac12 + \tfrac a4$.
# Con 128 unidades ocultas para 64 entradas, basta tomar $W = \varepsilon I$ (en las primeras 64
# unidades), $b = 0$, y en un decodificador de salida lineal $W' = \tfrac4\varepsilon I$,
# $b' = -\tfrac2\varepsilon$: entonces $\hat x \approx x$ para **cualquier** entrada.
# Lo construimos a mano:

# %%
eps = 0.01
identity_ae = ae.Autoencoder(n_in=64, hidden=[128], output_activation="identity", seed=0,
                             dtype="float64")
p = identity_ae.params
p["enc0.W"][:] = 0
p["enc0.W"][:64] = eps * np.eye(64)
p["enc0.b"][:] = 0
p["dec0.W"][:] = 0
p["dec0.W"][:, :64] = (4 / eps) * np.eye(64)
p["dec0.b"][:] = -2 / eps

noise = np.random.default_rng(0).random((200, 64))          # imágenes de ruido: no son dígitos
print(f"identidad a mano: E en dígitos {identity_ae.reconstruction_error(Xte.astype(np.float64)):.1e}, "
      f"E en ruido {identity_ae.reconstruction_error(noise):.1e}")

# %% [markdown]
# ¿Y entrenando? Comparamos un código de 8 unidades (incompleto) con uno de 128 (sobrecompleto),
# ambos con salida lineal, y medimos el error en los dígitos de prueba **y en imágenes de ruido**
# que nunca ha visto. Un modelo que ha aprendido "dígitos" reconstruye mal el ruido (lo
# convierte en algo parecido a un dígito); uno que se acerca a la identidad lo reconstruye bien.

# %%
noise32 = noise.astype(np.float32)
results = {}
for h in (8, 128):
    m = ae.Autoencoder(n_in=64, hidden=[h], output_activation="identity", seed=0)
    ae.fit(m, Xtr, epochs=40, batch_size=32, optimizer=ae.optim.Adam(lr=3e-3), seed=0, progress=False)
    results[h] = m
    print(f"código de {h:3d}: E en dígitos de prueba {m.reconstruction_error(Xte):.3f}, "
          f"E en ruido {m.reconstruction_error(noise32):.3f}")

# %%
fig, axes = plt.subplots(3, 8, figsize=(9, 3.8))
rows = [("ruido x", noise32[:8]), ("x̂, código 8", results[8].reconstruct(noise32[:8])),
        ("x̂, código 128", results[128].reconstruct(noise32[:8]))]
for r, (label, imgs) in enumerate(rows):
    for c in range(8):
        axes[r, c].imshow(np.clip(imgs[c], 0, 1).reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(label, fontsize=9)
fig.suptitle("Entradas de ruido y sus reconstrucciones: el incompleto las lleva hacia los dígitos")
plt.show()

# %% [markdown]
# ## 9. Las restricciones de la lección: L1/L2 y *dropout*
#
# Para que un autoencoder sobrecompleto aprenda algo útil hay que **restringirlo**. La lección
# cita, entre otras:
#
# * **L2** (*weight decay*): se suma $\tfrac\lambda2 \sum W^2$ al error, que empuja los pesos hacia 0
#   (`ae.regularizers.WeightDecay(lam, kind="l2")`);
# * **L1**: se suma $\lambda \sum |W|$, que además anula muchos pesos (`kind="l1"`);
# * ***dropout***: en el entrenamiento cada unidad del código se apaga con probabilidad $p$ y las
#   demás se escalan por $1/(1-p)$ (`ae.regularizers.Dropout(p)`).
#
# Repetimos el sobrecompleto de 128 con cada restricción y miramos tres números: el error en
# dígitos, el error en ruido (¿se aleja de la identidad?) y la fracción de pesos casi nulos.

# %%
restraints = {
    "sin restricción": [],
    "L2, λ = 1e-3": [ae.regularizers.WeightDecay(1e-3, kind="l2")],
    "L1, λ = 1e-4": [ae.regularizers.WeightDecay(1e-4, kind="l1")],
    "dropout, p = 0.5": [ae.regularizers.Dropout(0.5)],
}
print(f"{'restricción':18s}{'E dígitos':>11s}{'E ruido':>10s}{'|W| < 1e-3':>12s}")
restrained = {}
for label, regs in restraints.items():
    m = ae.Autoencoder(n_in=64, hidden=[128], output_activation="identity", regularizers=regs, seed=0)
    ae.fit(m, Xtr, epochs=40, batch_size=32, optimizer=ae.optim.Adam(lr=3e-3), seed=0, progress=False)
    restrained[label] = m
    small = np.mean(np.abs(m.params["enc0.W"]) < 1e-3)
    print(f"{label:18s}{m.reconstruction_error(Xte):11.3f}{m.reconstruction_error(noise32):10.3f}"
          f"{small:12.1%}")

# %%
fig, axes = plt.subplots(1, len(restrained), figsize=(12, 3), sharey=True)
for ax, (label, m) in zip(axes, restrained.items()):
    ax.hist(m.params["enc0.W"].ravel(), bins=60, range=(-1, 1), color="tab:blue")
    ax.set_title(label)
    ax.set_xlabel("valor de un peso de W")
axes[0].set_ylabel("número de pesos")
fig.suptitle("Distribución de los pesos del codificador según la restricción")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Lectura**: las penalizaciones L1 y L2 apenas empeoran la reconstrucción de los dígitos,
# pero el error en el ruido sube: el modelo se aleja de la identidad. L1 además deja una gran
# parte de los pesos prácticamente a cero (el pico en 0 del histograma). El *dropout* con
# $p = 0.5$ en el código es una restricción mucho más fuerte: cada dígito debe poder
# reconstruirse con la mitad de las unidades, y tanto el error en dígitos como el error en ruido
# suben mucho (el modelo ya no copia: lleva todo hacia los dígitos). Prueba otros valores de $\lambda$ y $p$.

# %% [markdown]
# ## Para experimentar
#
# * Cambia el tamaño del código (`hidden=[...]`) y mira cómo cambian el error y las reconstrucciones.
# * Cambia `loss="mse"` por `loss="bce"` (entropía cruzada binaria) y compara.
# * Prueba `tied=True` ($W' = W^\top$): la mitad de parámetros.
# * Entrena el modelo de MNIST con las 60 000 imágenes y 20 épocas.

# %%
print(f"Cuaderno ejecutado en {time.perf_counter() - T0:.0f} s")
