# Fuente del cuaderno 08_cnn_autoencoders.ipynb (formato "percent"; ver notebooks/_build.py).

# %% [markdown]
# # 8. CNN y autoencoders
#
# Una imagen no es una lista cualquiera de 784 números: cada píxel se parece a sus vecinos y un
# mismo trazo puede aparecer en cualquier parte. Una capa densa no lo sabe: cada unidad mira los
# 784 píxeles con pesos propios. Una **capa convolucional** lo aprovecha de dos maneras:
#
# * **conectividad local**: cada salida mira sólo una ventana pequeña (3×3) de la entrada;
# * **pesos compartidos**: el mismo kernel se desliza por toda la imagen, así que un detector de
#   trazos aprendido en una esquina sirve en todas.
#
# Un **autoencoder convolucional** usa convoluciones y *pooling* para reducir la imagen a un
# código de pocos mapas pequeños, y *upsampling* (o convoluciones traspuestas) y convoluciones
# para reconstruirla. Las imágenes tienen forma `(B, C, H, W)`: lote, canales, alto y ancho.
#
# **Contenido**
# 1. La convolución a mano (y el *max pooling* y el *upsampling*)
# 2. Autoencoder convolucional frente a denso en MNIST
# 3. Quitar ruido y completar imágenes
# 4. Detección de anomalías: el convolucional frente al denso del cuaderno 7
# 5. Convolución traspuesta frente a *upsampling* + convolución: el tablero de ajedrez
# 6. Los filtros aprendidos y los mapas de características
#
# **Para que el cuaderno tarde menos de tres minutos** usamos 10 000 imágenes de MNIST para
# entrenar, 2 000 de prueba y tres épocas.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import aenumpy as ae

np.set_printoptions(precision=3, suppress=True, linewidth=110)
plt.rcParams.update({"figure.dpi": 90, "axes.titlesize": 11, "axes.labelsize": 10})
T0 = time.perf_counter()
L = ae.layers

# %% [markdown]
# ## 1. La convolución a mano
#
# Una convolución con un kernel $W$ de $k \times k$ (*stride* $s$, relleno de ceros $p$) calcula,
# en cada posición $(y, x)$ de la salida, la suma de la ventana de la entrada multiplicada
# elemento a elemento por el kernel:
#
# $$A[y, x] = b + \sum_{i=0}^{k-1}\sum_{j=0}^{k-1} W[i, j]\; x_{\text{pad}}[y s + i,\; x s + j],
# \qquad H_{\text{sal}} = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1 .$$
#
# (Estrictamente es una *correlación cruzada*: la convolución matemática gira antes el kernel
# 180°. Todas las bibliotecas de aprendizaje profundo la llaman convolución y aprenden el kernel,
# así que el giro da igual.)
#
# Una imagen de 5×5 con una esquina brillante y un kernel que responde a los **bordes
# verticales** (oscuro a la izquierda, claro a la derecha), escrita de dos maneras: con los cuatro
# bucles explícitos, y recorriendo las ventanas con `np.sum(ventana * W)`.

# %%
x = np.array([[0, 0, 1, 1, 1],
              [0, 0, 1, 1, 1],
              [0, 0, 1, 1, 1],
              [0, 0, 0, 0, 0],
              [0, 0, 0, 0, 0]], dtype=float)
W = np.array([[-1, 0, 1],
              [-1, 0, 1],
              [-1, 0, 1]], dtype=float)


def out_size(n, k, stride, padding):
    """⌊(n + 2p − k) / s⌋ + 1 posiciones del kernel a lo largo de un lado de n píxeles."""
    return (n + 2 * padding - k) // stride + 1


def conv2d_loops(x, W, stride=1, padding=0):
    """A[y, x] = Σ_i Σ_j W[i, j] · x_pad[y·s + i, x·s + j], con los cuatro bucles."""
    xp, k = np.pad(x, padding), len(W)
    A = np.zeros((out_size(len(x), k, stride, padding), out_size(len(x[0]), k, stride, padding)))
    for y in range(A.shape[0]):
        for x_ in range(A.shape[1]):
            for i in range(k):
                for j in range(k):
                    A[y, x_] += W[i, j] * xp[y * stride + i, x_ * stride + j]
    return A


def conv2d_patches(x, W, stride=1, padding=0):
    """Lo mismo, ventana a ventana: A[y, x] = Σ (ventana ⊙ W)."""
    xp, k, s = np.pad(x, padding), len(W), stride
    return np.array([[np.sum(xp[y * s:y * s + k, x_ * s:x_ * s + k] * W)
                      for x_ in range(out_size(len(x[0]), k, s, padding))]
                     for y in range(out_size(len(x), k, s, padding))])


print("sin relleno, 5×5 → 3×3:\n", conv2d_loops(x, W))
print("¿iguales las dos versiones?", np.array_equal(conv2d_loops(x, W), conv2d_patches(x, W)))

# %% [markdown]
# La respuesta es grande (3) donde la ventana cruza el borde vertical de la esquina y 0 donde la
# imagen es uniforme. Comprobamos contra `ae.layers.Conv2D` con un solo canal de entrada y de
# salida, activación identidad, $b = 0$ y nuestro kernel. La capa trabaja con lotes de imágenes
# `(B, C, H, W)`, así que la imagen entra como `x[None, None]` (forma `(1, 1, 5, 5)`).

# %%
for stride, padding in [(1, 0), (1, 1), (2, 1)]:
    conv = L.Conv2D(1, 1, 3, stride=stride, padding=padding, activation="identity",
                    dtype="float64")
    conv.params["W"][0, 0] = W
    conv.params["b"][:] = 0.0
    A = conv.forward(x[None, None])[0, 0]
    mine = conv2d_loops(x, W, stride, padding)
    print(f"stride {stride}, relleno {padding}: salida {A.shape}, ¿igual que a mano? "
          f"{np.allclose(A, mine)}")
print("la última, stride 2 y relleno 1 (5×5 → 3×3):\n", A)

# %% [markdown]
# **Varios canales.** Con $C$ canales de entrada el kernel de cada canal de salida $o$ tiene un
# trozo $W[o, c]$ por canal de entrada, y las respuestas se suman:
# $A[o] = b[o] + \sum_c W[o, c] \star x[c]$. Por eso `Conv2D(c_in, c_out, k)` guarda `W` con
# forma `(c_out, c_in, k, k)` (la misma disposición que PyTorch).

# %%
rng = np.random.default_rng(0)
X2 = rng.random((1, 2, 5, 5))                       # una imagen de 2 canales
conv = L.Conv2D(2, 3, 3, padding=1, activation="identity", rng=rng, dtype="float64")
Wc, bc = conv.params["W"], conv.params["b"]
by_hand = np.stack([bc[o] + sum(conv2d_patches(X2[0, c], Wc[o, c], padding=1) for c in range(2))
                    for o in range(3)])
print("W:", Wc.shape, " salida:", conv.forward(X2).shape,
      " ¿igual que a mano?", np.allclose(by_hand, conv.forward(X2)[0]))

# %% [markdown]
# ### Ejercicio 8.1: una convolución con bucles, con lotes y canales
#
# Escribe `conv2d(X, W, b, stride, padding)` para un lote `X` de forma `(B, C_in, H, W)` y
# un kernel `W` de forma `(C_out, C_in, k, k)`:
#
# $$A[n, o, y, x] = b[o] + \sum_c \sum_i \sum_j W[o, c, i, j]\; X_{\text{pad}}[n, c,\, y s + i,\, x s + j],$$
#
# con la salida de forma `(B, C_out, H_sal, W_sal)`. Con bucles (o ventana a ventana): la
# comprobación la compara con `Conv2D`, con *stride* 2, relleno y kernels de 2×2.

# %%
def conv2d(X, W, b, stride, padding):
    """A = W ⋆ X + b (correlación cruzada), con bucles."""
    ### BEGIN SOLUTION
    B, C, H, Wd = X.shape
    c_out, _, k, _ = W.shape
    Xp = np.pad(X, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho, Wo = out_size(H, k, stride, padding), out_size(Wd, k, stride, padding)
    A = np.zeros((B, c_out, Ho, Wo))
    for n in range(B):
        for o in range(c_out):
            for y in range(Ho):
                for x_ in range(Wo):
                    ventana = Xp[n, :, y * stride:y * stride + k, x_ * stride:x_ * stride + k]
                    A[n, o, y, x_] = b[o] + np.sum(ventana * W[o])
    return A
    ### END SOLUTION

# %%
resultado = ae.exercises.check("08.conv2d", conv2d)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# El paso hacia atrás de la capa (escrito a mano en `aenumpy/layers.py`: $\partial E/\partial W$,
# $\partial E/\partial b$ y $\partial E/\partial x$, que es a su vez una convolución traspuesta)
# se comprueba con diferencias finitas, como cualquier capa:

# %%
conv = L.Conv2D(2, 3, 3, stride=2, padding=1, activation="tanh", rng=rng, dtype="float64")
print(ae.check_layer(conv, X2))

# %% [markdown]
# ### *Max pooling* y *upsampling*, a mano
#
# **Max pooling 2×2**: cada ventana de 2×2 (sin solaparse) se queda con su máximo, y la imagen se
# reduce a la mitad. Hacia atrás, el gradiente de cada salida va entero al píxel que era el
# máximo; los demás reciben 0.
#
# **Upsampling 2× (vecino más cercano)**: cada píxel se copia en un bloque de 2×2. Hacia atrás,
# cada píxel recibe la **suma** de los gradientes de su bloque.

# %%
x4 = np.array([[1, 3, 2, 0],
               [4, 2, 1, 1],
               [0, 1, 5, 2],
               [2, 2, 3, 6]], dtype=float)


def maxpool_loops(x, s=2):
    out = np.zeros((x.shape[0] // s, x.shape[1] // s))
    for y in range(out.shape[0]):
        for x_ in range(out.shape[1]):
            out[y, x_] = x[y * s:(y + 1) * s, x_ * s:(x_ + 1) * s].max()
    return out


pool = L.MaxPool2D(2)
P = pool.forward(x4[None, None])
print("max pooling a mano:\n", maxpool_loops(x4))
print("¿igual que MaxPool2D?", np.array_equal(P[0, 0], maxpool_loops(x4)))
print("hacia atrás con ∂E/∂salida = 1: el gradiente va a los máximos\n",
      pool.backward(np.ones_like(P))[0, 0])

up = L.Upsample2D(2)
z = np.array([[1.0, 2.0], [3.0, 4.0]])
U = up.forward(z[None, None])
print("upsampling a mano:\n", np.repeat(np.repeat(z, 2, axis=0), 2, axis=1))
print("¿igual que Upsample2D?", np.array_equal(U[0, 0], np.repeat(np.repeat(z, 2, 0), 2, 1)))
print("hacia atrás con ∂E/∂salida = 1: cada píxel suma su bloque\n",
      up.backward(np.ones_like(U))[0, 0])

print(ae.check_layer(L.MaxPool2D(2), rng.random((2, 3, 4, 4))))   # valores distintos: sin empates
print(ae.check_layer(L.Upsample2D(2), rng.random((2, 3, 3, 3))))

# %% [markdown]
# ### Ejercicio 8.2: el paso hacia atrás del *max pooling*
#
# Escribe `maxpool_atras(X, dZ)` para el *max pooling* 2×2 de un lote `X` `(B, C, H, W)`: dado
# `dZ` $= \partial E/\partial Z$ de forma `(B, C, ⌊H/2⌋, ⌊W/2⌋)`, devuelve $\partial E/\partial X$
# (forma de `X`). El gradiente de cada ventana va entero a su máximo; los demás píxeles, y la
# fila y la columna sobrantes de un lado impar, reciben 0. Si hay empate, se lo lleva el primero
# en orden de filas, como `np.argmax` (la comprobación prueba valores enteros con empates).

# %%
def maxpool_atras(X, dZ):
    """∂E/∂X del max pooling 2×2: dZ de cada ventana a su (primer) máximo."""
    ### BEGIN SOLUTION
    dX = np.zeros_like(X)
    for y in range(dZ.shape[2]):
        for x_ in range(dZ.shape[3]):
            ventana = X[:, :, 2 * y:2 * y + 2, 2 * x_:2 * x_ + 2].reshape(X.shape[0], X.shape[1], 4)
            i = ventana.argmax(axis=2)                      # el primero de los máximos
            for n in range(X.shape[0]):
                for c in range(X.shape[1]):
                    dX[n, c, 2 * y + i[n, c] // 2, 2 * x_ + i[n, c] % 2] = dZ[n, c, y, x_]
    return dX
    ### END SOLUTION

# %%
resultado = ae.exercises.check("08.maxpool_backward", maxpool_atras)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Autoencoder convolucional frente a denso, con el mismo tamaño de código
#
# La red convolucional es la del *benchmark* de la biblioteca:
#
# | | capas | forma de la salida |
# |---|---|---|
# | codificador | Conv 3×3 (16) + ReLU, max pool | 16×28×28 → 16×14×14 |
# | | Conv 3×3 (8) + ReLU, max pool | 8×14×14 → **8×7×7** (el código) |
# | decodificador | upsample, Conv 3×3 (16) + ReLU | 8×14×14 → 16×14×14 |
# | | upsample, Conv 3×3 (1) + sigmoide | 16×28×28 → 1×28×28 |
#
# Su código tiene 8·7·7 = 392 números, así que la comparamos con un autoencoder denso
# 784 → 392 → 784 (ReLU, salida sigmoide). Añadimos una tercera red con las mismas capas de
# convolución pero que reduce con **stride 2** en vez de pooling y amplía con **convoluciones
# traspuestas** (la volveremos a ver en la sección 5). Las tres usan entropía cruzada binaria
# (los píxeles en $[0, 1]$ como probabilidades), Adam con paso $3\cdot10^{-3}$, lotes de 64 y
# tres épocas.

# %%
Xtr, ytr, Xte, yte = ae.datasets.load_mnist("mnist")
Xtr, ytr, Xte, yte = Xtr[:10_000], ytr[:10_000], Xte[:2_000], yte[:2_000]
_, _, Fte, _ = ae.datasets.load_mnist("fashion")       # prendas: las anomalías de la sección 4
print("MNIST:", Xtr.shape, Xte.shape, "  Fashion-MNIST (prueba):", Fte.shape)


def pool_net():
    """Conv + max pool para reducir, upsample + conv para ampliar (la red del benchmark)."""
    return ([L.Conv2D(1, 16, 3, padding=1, activation="relu"), L.MaxPool2D(2),
             L.Conv2D(16, 8, 3, padding=1, activation="relu"), L.MaxPool2D(2)],
            [L.Upsample2D(2), L.Conv2D(8, 16, 3, padding=1, activation="relu"),
             L.Upsample2D(2), L.Conv2D(16, 1, 3, padding=1, activation="sigmoid")])


def strided_net():
    """Conv de stride 2 para reducir, convolución traspuesta de stride 2 para ampliar."""
    return ([L.Conv2D(1, 16, 3, stride=2, padding=1, activation="relu"),
             L.Conv2D(16, 8, 3, stride=2, padding=1, activation="relu")],
            [L.ConvTranspose2D(8, 16, 3, stride=2, padding=1, output_padding=1, activation="relu"),
             L.ConvTranspose2D(16, 1, 3, stride=2, padding=1, output_padding=1,
                               activation="sigmoid")])


def train(model, X, epochs=3):
    """Adam 3·10⁻³, lotes de 64."""
    ae.fit(model, X, epochs=epochs, batch_size=64, optimizer=ae.optim.Adam(lr=3e-3), seed=0,
           progress=False)
    return model


def per_sample_error(model, X):
    """E(x) = ½ Σ_i (x_i − x̂_i)² de cada imagen (filas de 784 píxeles)."""
    return 0.5 * np.sum((X - model.reconstruct(X)) ** 2, axis=1)


builders = {
    "denso 784 → 392 → 784": lambda: ae.Autoencoder(784, [392], activation="relu", loss="bce",
                                                    seed=0),
    "conv + pooling": lambda: ae.ConvAutoencoder(*pool_net(), (1, 28, 28), loss="bce", seed=0),
    "conv stride + traspuesta": lambda: ae.ConvAutoencoder(*strided_net(), (1, 28, 28),
                                                           loss="bce", seed=0)}
t1 = time.perf_counter()
models = {name: train(build(), Xtr) for name, build in builders.items()}
conv = models["conv + pooling"]
print(f"tres modelos entrenados en {time.perf_counter() - t1:.1f} s")
print(conv)

# %%
print(f"{'modelo':26s} {'parámetros':>10s} {'código':>7s} {'BCE prueba':>11s} "
      f"{'½Σ(x − x̂)²':>11s}")
for name, m in models.items():
    n_params = sum(p.size for p in m.params.values())
    code = m.encode(Xte[:1]).shape[1]
    print(f"{name:26s} {n_params:10,d} {code:7d} {m.reconstruction_error(Xte):11.2f} "
          f"{per_sample_error(m, Xte).mean():11.2f}")

# %% [markdown]
# La columna *BCE prueba* es la pérdida con la que se entrena (entropía cruzada sumada sobre los
# 784 píxeles, media por imagen); la siguiente, el error cuadrático de la lección.
#
# **Lectura.** Las tres redes guardan 392 números por imagen, pero el denso necesita unos
# **615 000 parámetros** (sus dos matrices de 784×392) y las convolucionales unos **2 600**: un
# kernel de 3×3 se reutiliza en todas las posiciones, y su número de pesos no depende del tamaño de
# la imagen. Con tan pocos parámetros, la red de *pooling* reconstruye peor que el denso: el
# max pooling tira tres de cada cuatro valores y el *upsampling* sólo copia. La red de *stride* y
# convolución traspuesta, con los mismos 2 600 parámetros, aprende a ampliar la imagen y
# reconstruye mejor que el denso.

# %%
idx = np.arange(10)
rows = [("original", Xte[idx])] + [(name, m.reconstruct(Xte[idx])) for name, m in models.items()]
fig, axes = plt.subplots(len(rows), 10, figsize=(11, 1.15 * len(rows) + 0.4))
for r, (label, imgs) in enumerate(rows):
    for c in range(10):
        axes[r, c].imshow(imgs[c].reshape(28, 28), cmap="gray", vmin=0, vmax=1)
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(label.replace(" + ", "\n+ ").replace(" 784", "\n784"), rotation=0,
                          ha="right", va="center", fontsize=9)
fig.suptitle("Imágenes de prueba y sus reconstrucciones (código de 392 números en los tres)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Quitar ruido y completar imágenes
#
# Un autoencoder de eliminación de ruido (cuaderno 3) ve la imagen corrompida
# $\tilde x = x + \sigma\varepsilon$ y se le pide la limpia $x$. Con una red convolucional es lo
# mismo: añadimos `GaussianNoise(0.3)` a sus regularizadores. Para ahorrar tiempo partimos de los
# pesos ya entrenados de la red de *pooling* y la afinamos dos épocas con entradas ruidosas.

# %%
GaussianNoise = ae.regularizers.GaussianNoise
dae = ae.ConvAutoencoder(*pool_net(), (1, 28, 28), loss="bce", regularizers=[GaussianNoise(0.3)],
                         seed=0)
for k in dae.params:                       # las mismas capas, los pesos del modelo entrenado
    dae.params[k][...] = conv.params[k]
t1 = time.perf_counter()
dae = train(dae, Xtr, epochs=2)
print(f"afinado con ruido en {time.perf_counter() - t1:.1f} s")

noise = GaussianNoise(0.3)
Xn = noise.corrupt(Xte, np.random.default_rng(1))     # las mismas imágenes ruidosas para todos
noisy_err = 0.5 * np.sum((Xte - Xn) ** 2, axis=1).mean()
print(f"½Σ(x − x̃)² de la entrada ruidosa:                {noisy_err:6.2f}")
for name, m in [("conv + pooling, sin ruido", conv), ("conv + pooling, con ruido", dae)]:
    err = 0.5 * np.sum((Xte - m.reconstruct(Xn)) ** 2, axis=1).mean()
    print(f"½Σ(x − x̂)² con x̂ reconstruida de x̃, {name}: {err:6.2f}")

# %%
for name, m in [("entrenado sin ruido", conv), ("afinado con ruido σ = 0.3", dae)]:
    fig = ae.plot.denoising(m, Xte, noise, n=10, rng=np.random.default_rng(1),
                            title=f"Autoencoder convolucional {name}")
    plt.show()

# %% [markdown]
# **Completar** una imagen a la que le faltan píxeles (`ae.plot.completion`): los que faltan (en
# naranja) se ponen a 0, se reconstruye, se vuelven a poner los conocidos y se repite cinco veces.
# Primero falta la mitad de los píxeles, al azar: cada hueco tiene píxeles conocidos alrededor.

# %%
missing = np.random.default_rng(2).random((10, 784)) < 0.5            # True = falta
for name, m in [("entrenado sin ruido", conv), ("afinado con ruido", dae)]:
    fig = ae.plot.completion(m, Xte[:10], mask=missing, n=10, iterations=5,
                             title=f"Completar la mitad de los píxeles, al azar: {name}")
    plt.show()

# %% [markdown]
# Ahora falta un bloque de 14×14 en el centro. Las convoluciones sólo ven ventanas de 3×3; al
# encadenar dos capas y dos *poolings*, cada valor del código depende de una zona de 10×10 píxeles
# de la entrada (su **campo receptivo**: 3, luego 4, 8 y 10 píxeles). Los valores del código del
# centro del agujero sólo "ven" ceros, y el decodificador, igual de local, no tiene de dónde sacar
# el trazo: el hueco se queda casi negro. Una capa densa en el código (`Flatten` + `Dense`) o más
# capas de *pooling* agrandarían el campo receptivo.

# %%
fig = ae.plot.completion(dae, Xte[:10], mask="center", n=10, iterations=5,
                         title="Completar un bloque de 14×14: más grande que el campo receptivo")
plt.show()

# %% [markdown]
# ## 4. Detección de anomalías: convolucional frente al denso del cuaderno 7
#
# El mismo protocolo que el cuaderno 7: la puntuación de anomalía de una imagen es su error de
# reconstrucción $E(x) = \tfrac12\|x - \hat x\|^2$, y se mide con la curva ROC y su área (AUC).
#
# * **Dígitos frente a prendas**: modelos entrenados con los 10 000 dígitos; 1 000 dígitos de
#   prueba (normales) frente a 1 000 prendas de Fashion-MNIST (anomalías).
# * **Un dígito nunca visto**: modelos entrenados **sin ningún 2**; los 2 de prueba son las
#   anomalías frente al resto de los 2 000 dígitos de prueba.
#
# El denso es el del cuaderno 7: 784 → 64 → 784, ReLU, error cuadrático, 5 épocas. El
# convolucional, la red de *pooling* de la sección 2.

# %%
roc_curve = ae.anomaly.roc_curve      # la curva ROC del cuaderno 7: (FPR, TPR) de mayor a menor umbral


def auc(fpr, tpr):
    """Área bajo la curva ROC, por la regla del trapecio."""
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def dense_detector(X, seed=0):
    """El detector del cuaderno 7."""
    model = ae.Autoencoder(n_in=784, hidden=[64], activation="relu", seed=seed)
    ae.fit(model, X, epochs=5, batch_size=64, optimizer=ae.optim.Adam(lr=2e-3), seed=seed,
           progress=False)
    return model


held_out = 2
X_without = Xtr[ytr != held_out]                                # entrenamiento sin ningún 2
t1 = time.perf_counter()
conv_without = train(builders["conv + pooling"](), X_without)
detectors = {"denso 784 → 64 (cuaderno 7)": (dense_detector(Xtr), dense_detector(X_without)),
             "convolucional (pooling)": (conv, conv_without)}      # conv: el de la sección 2
print(f"detectores entrenados en {time.perf_counter() - t1:.1f} s")

labels = np.r_[np.zeros(1000), np.ones(1000)]                  # 1 = anomalía
labels2 = (yte == held_out).astype(float)
curves = {}
for name, (all_digits, without) in detectors.items():
    scores = np.r_[per_sample_error(all_digits, Xte[:1000]),
                   per_sample_error(all_digits, Fte[:1000])]
    curves[name, "prendas"] = roc_curve(scores, labels)
    curves[name, f"el {held_out}"] = roc_curve(per_sample_error(without, Xte), labels2)
for (name, case), (fpr, tpr) in curves.items():
    print(f"{name:30s} anomalías = {case:8s} AUC = {auc(fpr, tpr):.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.8), sharey=True)
for ax, case in zip(axes, ["prendas", f"el {held_out}"]):
    for name, _ in detectors.items():
        fpr, tpr = curves[name, case]
        ax.plot(fpr, tpr, lw=2, label=f"{name} (AUC = {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="al azar (AUC = 0.5)")
    ax.set_xlabel("tasa de falsos positivos (FPR)")
    ax.set_title("anomalías: " + ("prendas de Fashion-MNIST" if case == "prendas"
                                  else f"el {held_out}, nunca visto"))
    ax.legend(loc="lower right", fontsize=9)
    ax.grid(alpha=0.3)
axes[0].set_ylabel("tasa de verdaderos positivos (TPR)")
fig.suptitle("Curvas ROC del error de reconstrucción")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Lectura.** Frente a las prendas los dos detectores aciertan casi siempre: una prenda no se
# parece a ningún dígito. Frente al 2 nunca visto, en cambio, el convolucional es **mucho peor**
# (su AUC se acerca a 0.5, el azar) que el denso. No es un fallo de entrenamiento sino de
# diseño: el convolucional aprende **trazos locales** con un código ancho (392 números), y con
# trazos se puede dibujar también un 2 que nunca ha visto; el denso, con 64 números, aprende
# **formas de dígitos enteros**, y un 2 no encaja en ellas. Para detectar anomalías no basta con
# reconstruir bien: hace falta reconstruir bien **sólo** lo normal. Un código más estrecho (menos
# canales, más *pooling*) o un regularizador que lo limite (cuaderno 4) podrían acercarlo al denso:
# pruébalo al final.

# %% [markdown]
# ## 5. Convolución traspuesta frente a *upsampling* + convolución: el tablero de ajedrez
#
# Una **convolución traspuesta** de stride 2 amplía la imagen $h$ "estampando" el kernel,
# multiplicado por el valor de cada píxel $(u, v)$, cada 2 píxeles de la salida
# (`ConvTranspose2D`):
#
# $$A[2u + i - p,\; 2v + j - p] \mathrel{+}= h[u, v]\, W[i, j] .$$
#
# Con un kernel de 3×3 y stride 2 las estampas **se solapan de forma desigual**: en una dimensión,
# la salida de índice par recibe un solo término ($i = 1$) y la de índice impar dos ($i = 0$ de un
# píxel e $i = 2$ del vecino). En 2-D, los píxeles de la salida reciben 1, 2 o 4 términos según la
# paridad de su fila y su columna: un patrón periódico de 2×2, el **tablero de ajedrez**
# (Odena, Dumoulin y Olah, *Deconvolution and Checkerboard Artifacts*, Distill 2016).
#
# Lo vemos con un kernel de unos sobre una entrada constante de unos: cada píxel de la salida
# cuenta cuántas estampas le caen. El *upsampling* + convolución, en cambio, da el mismo valor en
# todo el interior (sólo los bordes, por el relleno de ceros, reciben menos).

# %%
ones = np.ones((1, 1, 4, 4))
tconv = L.ConvTranspose2D(1, 1, 3, stride=2, padding=1, output_padding=1, activation="identity",
                          dtype="float64")
tconv.params["W"][...] = 1.0
tconv.params["b"][...] = 0.0
uconv = L.Conv2D(1, 1, 3, padding=1, activation="identity", dtype="float64")
uconv.params["W"][...] = 1.0
uconv.params["b"][...] = 0.0
T = tconv.forward(ones)[0, 0]
U = uconv.forward(L.Upsample2D(2).forward(ones))[0, 0]
print("convolución traspuesta, kernel de unos, entrada de unos (4×4 → 8×8):\n", T)
print("upsampling + convolución, lo mismo:\n", U)

fig, axes = plt.subplots(1, 2, figsize=(9, 4.6))
for ax, img, name in [(axes[0], T, "ConvTranspose2D(3, stride 2)"),
                      (axes[1], U, "Upsample2D(2) + Conv2D(3)")]:
    ax.imshow(img, cmap="viridis", vmin=0, vmax=img.max())
    for (i, j), v in np.ndenumerate(img):
        ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=11,
                color="white" if v < 0.6 * img.max() else "black")
    ax.set_title(name)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Entrada constante, kernel de unos: cuántos términos suma cada píxel de la salida")
fig.tight_layout(rect=(0, 0, 1, 0.95))
plt.show()

# %% [markdown]
# Con un kernel cualquiera, una entrada constante $v$ da en el interior de la salida cuatro
# valores que se repiten cada 2×2: **la suma de los trozos del kernel que se solapan** en cada
# fase,
#
# $$v\,W_{11}, \quad v\,(W_{10} + W_{12}), \quad v\,(W_{01} + W_{21}), \quad
# v\,(W_{00} + W_{02} + W_{20} + W_{22}) .$$
#
# Sólo si las cuatro sumas coinciden sale una imagen uniforme, y un kernel aleatorio no lo
# cumple. Lo comprobamos con un kernel al azar:

# %%
Wr = np.random.default_rng(3).standard_normal((3, 3))
tconv.params["W"][0, 0] = Wr
T = tconv.forward(ones)[0, 0]
phases = {"(par, par)": Wr[1, 1], "(par, impar)": Wr[1, 0] + Wr[1, 2],
          "(impar, par)": Wr[0, 1] + Wr[2, 1], "(impar, impar)": Wr[0, ::2].sum() + Wr[2, ::2].sum()}
print("interior de la salida (filas 2–5, columnas 2–5):\n", T[2:6, 2:6])
for (name, value), (i, j) in zip(phases.items(), [(2, 2), (2, 3), (3, 2), (3, 3)]):
    print(f"fase {name:15s} suma del kernel = {value:7.3f}   píxel ({i}, {j}) = {T[i, j]:7.3f}")

# %% [markdown]
# **En un decodificador de verdad.** Decodificamos un código constante con los decodificadores
# de las dos redes de la sección 2, primero **recién inicializados** (mismos tamaños, pesos al
# azar) y después **entrenados**. Para los entrenados usamos el código de una imagen en negro, que
# debería reconstruirse en negro. Cada pareja (recién inicializadas, entrenadas) comparte una
# escala de grises, estirada del mínimo al máximo de los interiores de sus dos imágenes (sin los
# bordes, que el relleno de ceros cambia), para que se vea el patrón aunque sea débil.

# %%
z_const = np.full((1, 8, 7, 7), 0.5, dtype=np.float32)
black = np.zeros((1, 1, 28, 28), dtype=np.float32)
pairs = {"recién inicializado,\ncódigo constante 0.5":
         [(name, ae.ConvAutoencoder(*net(), (1, 28, 28), loss="bce", seed=0).decode(z_const)[0, 0])
          for name, net in [("upsample + conv", pool_net), ("traspuesta", strided_net)]],
         "entrenado,\nreconstrucción de una imagen negra":
         [(name, m.reconstruct(black)[0, 0])
          for name, m in [("upsample + conv", conv),
                          ("traspuesta", models["conv stride + traspuesta"])]]}

fig, axes = plt.subplots(1, 4, figsize=(13, 4.3))
panels = [(f"{name}, {when}", img, imgs) for when, imgs in pairs.items() for name, img in imgs]
for ax, (title, img, pair) in zip(axes, panels):
    inner = np.stack([im[3:-3, 3:-3] for _, im in pair])   # el interior: los bordes aparte
    ax.imshow(img, cmap="gray", vmin=inner.min(), vmax=inner.max())
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    phase = [img[i::2, j::2][2:12, 2:12].mean() for i in (0, 1) for j in (0, 1)]
    ax.set_xlabel(f"medias por fase 2×2:\n" + "  ".join(f"{p:.2g}" for p in phase), fontsize=9)
fig.suptitle("Decodificadores con una entrada uniforme (contraste estirado en cada pareja)")
fig.tight_layout(rect=(0, 0, 1, 0.95))
plt.show()

# %% [markdown]
# **Lectura.** Recién inicializada, la convolución traspuesta convierte un código constante en un
# tablero de ajedrez: las medias de las cuatro fases 2×2 son distintas. El *upsampling* + convolución
# da una imagen lisa (salvo los bordes). Entrenar enseña a la red traspuesta a compensar el
# solapamiento en las imágenes que ve, pero el patrón sigue ahí, más débil, en una entrada que no
# es un dígito. Remedios habituales: un kernel divisible por el stride (4×4 con stride 2: todas las
# fases reciben dos términos por dimensión, aunque sus sumas aún pueden diferir) o, como en la red
# de *pooling*, ampliar con *upsampling* y luego convolucionar, que no solapa nada de forma
# desigual. A cambio, en la sección 2 la red traspuesta reconstruía
# mejor: cada decisión de diseño tiene su precio.

# %% [markdown]
# ## 6. Los filtros aprendidos y los mapas de características
#
# `ae.plot.filters(model, "enc0")` dibuja los kernels de una capa convolucional: para una `Conv2D`,
# una fila por canal de salida $o$ y una columna por canal de entrada $c$, cada casilla el kernel
# $W[o, c]$ de 3×3 (rojo positivo, azul negativo, blanco cero; la escala es la misma para todos).
# La primera capa tiene un solo canal de entrada, así que sus 16 kernels se colocan en una
# cuadrícula. Frente a los filtros de un autoencoder denso (cuaderno 1), imágenes de 784 píxeles
# que cubren el dígito entero, éstos son pequeños detectores de bordes, trazos y manchas, que la
# red aplica en todas las posiciones.

# %%
fig = ae.plot.filters(conv, "enc0")
plt.show()
fig = ae.plot.filters(conv, "enc2")
plt.show()

# %% [markdown]
# `ae.plot.feature_maps(model, x)` sigue una imagen por la red: cada fila es la salida de una capa
# (sus canales, los **mapas de características**), con el nombre de la capa y su forma. En la
# primera capa cada mapa es la imagen filtrada por uno de los 16 kernels de arriba (ReLU: sólo lo
# positivo); el pooling la reduce a la mitad; el código son 8 mapas de 7×7; la última fila es la
# reconstrucción $\hat x$. Un mapa completamente negro es un canal que no responde a esta imagen
# (o una unidad ReLU "muerta", que no responde a ninguna).

# %%
fig = ae.plot.feature_maps(conv, Xte[0])
plt.show()
fig = ae.plot.feature_maps(models["conv stride + traspuesta"], Xte[0],
                           title="Mapas de características de la red de stride y traspuesta")
plt.show()

# %% [markdown]
# ## Para experimentar
#
# * Desde la línea de órdenes: `aenumpy train --model conv --dataset mnist --limit 10000` entrena
#   la red de *pooling* y deja en la carpeta de la ejecución `filters.png` y `feature_maps.png`;
#   `--down stride --up transposed` entrena la otra.
# * Cambia `strided_net` para usar kernels de 4×4 en las convoluciones traspuestas (stride 2,
#   relleno 1, sin `output_padding`): ¿desaparece el tablero de ajedrez con el código constante?
# * Estrecha el código (p. ej. 4 canales en vez de 8, o un pooling más) y vuelve a medir el AUC
#   del 2 nunca visto.
# * `ae.trace(conv, Xte[:1])` y `ae.plot.trace` muestran todos los mapas y gradientes de un paso.

# %%
print(f"Cuaderno ejecutado en {time.perf_counter() - T0:.0f} s")
