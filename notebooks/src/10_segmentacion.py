# Fuente del cuaderno 10_segmentacion.ipynb (formato "percent"; ver notebooks/_build.py).

# %% [markdown]
# # 10. Segmentación con autoencoders
#
# La lección enumera para qué sirven los autoencoders convolucionales: quitar ruido, **segmentar
# objetos**, completar partes que faltan, detectar anomalías, reconocer caras. Quitar ruido y
# completar ya los vimos en el cuaderno 8: la red recibe una imagen y devuelve una imagen.
# **Segmentar** es dar una **etiqueta a cada píxel** ("fondo", "dígito 3", …). La red es la misma
# idea, un codificador que reduce la imagen y un decodificador que la vuelve a ampliar; cambia lo
# que sale (una puntuación por clase y píxel en vez de un píxel) y con qué se compara (las
# etiquetas, no la entrada).
#
# El problema: el decodificador sólo ve el código, y en el cuello de botella se pierde el
# detalle (dónde está exactamente un borde). **U-Net** (Ronneberger, Fischer y Brox, 2015) añade
# **atajos** (*skip connections*): cada nivel del decodificador recibe también, concatenados, los
# mapas del codificador de la misma resolución.
#
# **Contenido**
# 1. La tarea: dígitos sobre un lienzo, una etiqueta por píxel
# 2. Un encoder-decoder como segmentador: logits, softmax y la entropía cruzada por píxel
# 3. Por qué ayudan los atajos: IoU con y sin ellos, mismos datos y épocas
# 4. IoU y Dice a mano
# 5. Dónde falla: dígitos que se tocan y fondo con ruido
#
# Todo con los dígitos 8×8 incluidos en la biblioteca, sin descargas.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import aenumpy as ae

np.set_printoptions(precision=4, suppress=True, linewidth=110)
plt.rcParams.update({"figure.dpi": 90, "axes.titlesize": 10})
T0 = time.perf_counter()

# %% [markdown]
# ## 1. La tarea
#
# `ae.datasets.make_segmentation` coloca de 1 a `max_digits` dígitos reales al azar sobre un
# lienzo negro y etiqueta cada píxel: **0 el fondo, 1 + d los píxeles del dígito d** (donde la
# intensidad del dígito pasa de 0.5). Los dígitos de `split="test"` salen de los dígitos de
# prueba, así que las imágenes de prueba nunca repiten un dígito visto al entrenar. Devuelve las
# imágenes `(N, 1, H, W)` y las etiquetas `(N, H, W)`.

# %%
SIDE = 24
Xtr, Ytr = ae.datasets.make_segmentation(n=1500, canvas=SIDE, max_digits=3, split="train", seed=0)
Xte, Yte = ae.datasets.make_segmentation(n=300, canvas=SIDE, max_digits=3, split="test", seed=1)
print("imágenes", Xtr.shape, Xtr.dtype, "  etiquetas", Ytr.shape, Ytr.dtype)
frac = np.bincount(Ytr.ravel(), minlength=11) / Ytr.size
print("fracción de píxeles por clase (fondo, dígitos 0 … 9):", frac.round(3))

fig = ae.plot.segmentation(Xtr, Ytr, Ytr, 11, n=8,
                           title="imágenes y sus etiquetas (un color por dígito; el fondo sin color)")
plt.show()

# %% [markdown]
# Más del **90 %** de los píxeles es fondo. Una red que diga "fondo" en todas partes acierta más
# del 90 % de los píxeles sin haber aprendido nada: la **exactitud por píxel** engaña. Por eso se mide
# la **IoU** (intersección sobre unión) de cada clase,
#
# $$\mathrm{IoU}_c = \frac{|T_c \cap P_c|}{|T_c \cup P_c|},$$
#
# con $T_c$ los píxeles que son de la clase $c$ y $P_c$ los que la red dice que lo son, y su
# media sobre las clases (`ae.metrics.mean_iou`). La red "todo fondo" tiene una IoU alta en el
# fondo y 0 en cada dígito: su media es muy baja.

# %%
todo_fondo = np.zeros_like(Yte)
print(f"'todo fondo': exactitud por píxel {ae.metrics.pixel_accuracy(Yte, todo_fondo):.3f}, "
      f"IoU media {ae.metrics.mean_iou(Yte, todo_fondo, 11):.3f}")

# %% [markdown]
# ## 2. Un encoder-decoder como segmentador
#
# **Logits.** La última capa de la red es una convolución de 1×1 que convierte los $c_0$ mapas
# del último nivel en $K$ números por píxel, los **logits** $a_k$, uno por clase, sin activación.
# La **softmax** los convierte en probabilidades y la pérdida es la **entropía cruzada por píxel**,
# promediada sobre el lote y todos los píxeles ($N = B \cdot H \cdot W$):
#
# $$p_k = \frac{e^{a_k}}{\sum_j e^{a_j}}, \qquad
# E = -\frac{1}{N}\sum_{\text{píxeles}} \log p_{y}, \qquad
# \frac{\partial E}{\partial a_k} = \frac{p_k - [k = y]}{N}.$$
#
# El gradiente es "softmax menos one-hot", dividido por el número de píxeles. Lo comprobamos a
# mano en un lote diminuto (2 imágenes de 1×2 píxeles, 3 clases) contra
# `ae.losses.softmax_cross_entropy`, que es lo que usa la red.

# %%
A = np.array([[[[2.0, -1.0]], [[0.5, 0.0]], [[-1.0, 3.0]]],
              [[[0.0, 0.0]], [[1.0, 1.0]], [[0.0, -2.0]]]])      # logits (B=2, K=3, H=1, W=2)
Y = np.array([[[0, 2]], [[1, 1]]])                                # la clase de cada píxel
N = Y.size
p = np.exp(A) / np.exp(A).sum(axis=1, keepdims=True)             # softmax sobre las clases
E_mano = -np.mean(np.log(np.take_along_axis(p, Y[:, None], axis=1)))
onehot = np.stack([Y == k for k in range(3)], axis=1)
dA_mano = (p - onehot) / N
E, dA = ae.losses.softmax_cross_entropy(Y, A)
print(f"E a mano {E_mano:.6f}   E de la biblioteca {E:.6f}")
print("¿mismo gradiente?", np.allclose(dA_mano, dA))

# %% [markdown]
# **La red sin atajos.** `ae.UNet(..., skips=False)` es un autoencoder convolucional: dos
# niveles que reducen la imagen a la mitad (dos convoluciones 3×3 con ReLU y un *max pooling*
# 2×2 cada uno), el fondo, y dos niveles que la amplían (un *upsampling* 2× y dos convoluciones),
# y la cabeza 1×1. Empezamos por la segmentación más sencilla, **dígito o fondo** (2 clases:
# `Y > 0`), y entrenamos con la entropía cruzada por píxel.

# %%
Ytr2, Yte2 = (Ytr > 0).astype(np.int64), (Yte > 0).astype(np.int64)
EPOCAS, LOTE, LR = 4, 32, 3e-3
resultados = {}


def entrena(skips):
    net = ae.UNet(in_channels=1, n_classes=2, channels=(8, 16, 32), input_shape=(1, SIDE, SIDE),
                  skips=skips, seed=0)
    t = time.perf_counter()
    hist = ae.fit(net, Xtr, Y=Ytr2, X_val=Xte, Y_val=Yte2, epochs=EPOCAS, batch_size=LOTE,
                  optimizer=ae.optim.Adam(lr=LR), seed=0, progress=False, monitor=True)
    P = net.predict(Xte)
    resultados["con atajos" if skips else "sin atajos"] = {
        "red": net, "hist": hist, "P": P, "segundos": time.perf_counter() - t,
        "IoU media": ae.metrics.mean_iou(Yte2, P, 2), "IoU dígito": ae.metrics.iou(Yte2, P, 2)[1],
        "exactitud": ae.metrics.pixel_accuracy(Yte2, P)}
    return net


sin = entrena(skips=False)
print(sin)
r = resultados["sin atajos"]
print(f"{EPOCAS} épocas en {r['segundos']:.1f} s: IoU media {r['IoU media']:.3f}, "
      f"IoU del dígito {r['IoU dígito']:.3f}, exactitud {r['exactitud']:.3f}")

# %% [markdown]
# ## 3. Por qué ayudan los atajos
#
# La U-Net es la misma red con los atajos: antes de las dos convoluciones de cada nivel del
# decodificador, el mapa ampliado se concatena con el del codificador de la misma resolución
# (`up0.conv0` recibe 16 + 8 canales en vez de 16). En la retropropagación la concatenación
# **reparte** el gradiente: la parte de los canales ampliados sigue por el decodificador y la de
# los canales del atajo vuelve directamente al codificador, donde **se suma** a la que llega por
# el *pooling* (el mapa se usó dos veces). Mismos datos, mismas épocas, misma semilla:

# %%
con = entrena(skips=True)
print(f"{'':<12}{'IoU media':>10}{'IoU dígito':>12}{'exactitud':>11}{'segundos':>10}")
for nombre, r in resultados.items():
    print(f"{nombre:<12}{r['IoU media']:>10.3f}{r['IoU dígito']:>12.3f}{r['exactitud']:>11.3f}"
          f"{r['segundos']:>10.1f}")
ganancia = resultados["con atajos"]["IoU media"] - resultados["sin atajos"]["IoU media"]
print(f"\nLos atajos suben la IoU media {ganancia:+.3f} con los mismos datos y épocas.")

# %%
fig, axes = plt.subplots(3, 8, figsize=(11, 4.4))
for j in range(8):
    for fila, (img, titulo) in enumerate([(Xte[j, 0], "x"), (resultados["sin atajos"]["P"][j], "sin"),
                                          (resultados["con atajos"]["P"][j], "con")]):
        axes[fila, j].imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[fila, j].set_xticks([]), axes[fila, j].set_yticks([])
        if j == 0:
            axes[fila, j].set_ylabel(titulo)
fig.suptitle("imagen de prueba, máscara predicha sin atajos y con atajos (blanco: dígito)")
plt.show()

# %% [markdown]
# Dos razones, y las dos se ven en los números:
#
# * **El detalle salta el cuello de botella.** En el fondo de la red cada píxel resume un bloque
#   de 4×4 de la imagen; al ampliar, sin atajos, el decodificador tiene que adivinar dónde
#   estaba el trazo dentro del bloque. Con el atajo, `up0` recibe los mapas de 24×24 del primer
#   nivel, que saben exactamente dónde hay tinta.
# * **El gradiente tiene un camino corto.** Sin atajos, el error de la salida llega a las
#   primeras capas después de atravesar las 11 capas; con atajos, llega también desde `up0`,
#   a sólo tres capas de la salida. El monitor de `fit` (cuaderno 9) lo mide: la norma media del
#   gradiente de la primera capa, época a época.

# %%
g = {nombre: np.array(r["hist"]["grad_norm"]["down0.conv0.W"]) for nombre, r in resultados.items()}
for nombre, v in g.items():
    print(f"{nombre:<12} ‖∂E/∂W‖ de down0.conv0, por época: {np.round(v, 4)}")
print("con / sin atajos, por época:", np.round(g["con atajos"] / g["sin atajos"], 2))

# %% [markdown]
# ## 4. IoU y Dice a mano
#
# Para cada clase $c$ basta contar tres cosas: los píxeles que son de la clase y la red acierta
# ($|T_c \cap P_c|$), los que son de la clase ($|T_c|$) y los que la red pone en la clase
# ($|P_c|$). La unión es $|T_c| + |P_c| - |T_c \cap P_c|$. El **Dice** (o F1) es
#
# $$\mathrm{Dice}_c = \frac{2\,|T_c \cap P_c|}{|T_c| + |P_c|} = \frac{2\,\mathrm{IoU}_c}{1 + \mathrm{IoU}_c},$$
#
# así que nunca es menor que la IoU y ordena los modelos igual.
#
# ### Ejercicio 10.1: la IoU de cada clase
#
# Escribe `iou_a_mano(Y, P, K)`: con las etiquetas verdaderas `Y` y las predichas `P` (enteros
# de 0 a K − 1, la misma forma), devuelve un array `(K,)` con la IoU de cada clase. Una clase
# que no está ni en `Y` ni en `P` no tiene IoU ($0/0$): déjala en `np.nan`.

# %%
def iou_a_mano(Y, P, K):
    """IoU_c = |T_c ∩ P_c| / |T_c ∪ P_c| para c = 0 … K − 1 (NaN si la clase no aparece)."""
    ### BEGIN SOLUTION
    iou = np.full(K, np.nan)
    for c in range(K):
        T_c, P_c = (Y == c), (P == c)
        inter = np.sum(T_c & P_c)
        union = np.sum(T_c) + np.sum(P_c) - inter
        if union > 0:
            iou[c] = inter / union
    return iou
    ### END SOLUTION

# %%
resultado = ae.exercises.check("10.iou", iou_a_mano)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ### Ejercicio 10.2: el Dice de cada clase
#
# Escribe `dice_a_mano(Y, P, K)`: el array `(K,)` de $\mathrm{Dice}_c$ (NaN para una clase que no
# aparece).

# %%
def dice_a_mano(Y, P, K):
    """Dice_c = 2 |T_c ∩ P_c| / (|T_c| + |P_c|) para c = 0 … K − 1 (NaN si la clase no aparece)."""
    ### BEGIN SOLUTION
    dice = np.full(K, np.nan)
    for c in range(K):
        T_c, P_c = (Y == c), (P == c)
        total = np.sum(T_c) + np.sum(P_c)
        if total > 0:
            dice[c] = 2 * np.sum(T_c & P_c) / total
    return dice
    ### END SOLUTION

# %%
resultado = ae.exercises.check("10.dice", dice_a_mano)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# Las funciones de la biblioteca (`ae.metrics.iou`, `ae.metrics.dice`) con las máscaras de la
# U-Net, y la relación entre las dos:

# %%
P = resultados["con atajos"]["P"]
iou_unet, dice_unet = ae.metrics.iou(Yte2, P, 2), ae.metrics.dice(Yte2, P, 2)
print("IoU :", iou_unet.round(4), "  Dice:", dice_unet.round(4))
print("2·IoU/(1 + IoU):", (2 * iou_unet / (1 + iou_unet)).round(4))

# %% [markdown]
# ## 5. Dónde falla
#
# **Dígitos que se tocan.** Con dos clases, "dígito" y "fondo", dos dígitos que se tocan salen
# como **una sola mancha**: la segmentación semántica etiqueta píxeles, no objetos, y no sabe
# dónde acaba uno y empieza el otro. Buscamos en la prueba las imágenes con dígitos de clases
# distintas pegados (un píxel de un dígito junto a uno de otro) y miramos cómo les va.


# %%
def se_tocan(y):
    """¿Hay dos píxeles vecinos (horizontal o vertical) de dígitos distintos?"""
    a, b = y[:, :-1], y[:, 1:]
    c, d = y[:-1], y[1:]
    return bool(np.any((a > 0) & (b > 0) & (a != b)) or np.any((c > 0) & (d > 0) & (c != d)))


pegados = np.array([se_tocan(y) for y in Yte])
iou_img = np.array([ae.metrics.iou(Yte2[i], P[i], 2)[1] for i in range(len(Yte))])
print(f"{pegados.sum()} de {len(Yte)} imágenes tienen dígitos que se tocan; IoU del dígito "
      f"{iou_img[pegados].mean():.3f} en ellas y {iou_img[~pegados].mean():.3f} en las demás")
idx = np.flatnonzero(pegados)[:4]
fig = ae.plot.segmentation(Xte[idx], Yte[idx], np.where(P[idx] > 0, Yte[idx], 0), 11, n=len(idx),
                           title="dígitos que se tocan: la máscara de la U-Net (coloreada con la "
                                 "clase verdadera) es una sola mancha")
plt.show()

# %% [markdown]
# La máscara de dígito/fondo es buena incluso aquí; lo que no puede dar es **cuántos** dígitos
# hay. Con 11 clases la red tendría que decidir el dígito de cada píxel, y justo en el contacto
# un píxel tiene vecinos de dos dígitos: ahí se equivoca más.
#
# **Ruido en el fondo.** La red aprendió con fondos negros. ¿Qué pasa con imágenes que tienen,
# detrás de los dígitos, manchas de ruido brillantes (`clutter=1.0`: todas las imágenes; las
# manchas son fondo)?

# %%
Xru, Yru = ae.datasets.make_segmentation(n=300, canvas=SIDE, max_digits=3, clutter=1.0,
                                         split="test", seed=1)
Yru2 = (Yru > 0).astype(np.int64)
Pru = con.predict(Xru)
print(f"U-Net en la prueba limpia: IoU media {resultados['con atajos']['IoU media']:.3f}; "
      f"con ruido de fondo: {ae.metrics.mean_iou(Yru2, Pru, 2):.3f}")
fig = ae.plot.segmentation(Xru, Yru2, Pru, 2, n=8, class_names=["fondo", "dígito"],
                           title="con ruido de fondo: la red marca como dígito lo que brilla")
plt.show()

# %% [markdown]
# La red aprendió "lo que brilla es dígito", porque en sus datos era verdad. Entrenar con
# `clutter` (imágenes con manchas etiquetadas como fondo) la obliga a mirar la forma y no sólo
# el brillo.
#
# ## Para experimentar
#
# * Las 11 clases: `aenumpy train --model unet` entrena una U-Net sobre los dígitos (11 clases,
#   lienzos de 32×32) y escribe `segmentation.png` y la IoU media de la prueba en `metrics.json`;
#   `--no-skips` entrena la misma red sin atajos. Distinguir el dígito de cada píxel necesita
#   bastantes más épocas que dígito/fondo.
# * Reentrena la U-Net con `clutter=0.5` y vuelve a medir con el ruido de fondo.
# * Una sola clase de primer plano: `ae.UNet(n_classes=1)` usa la entropía cruzada binaria
#   desde el logit, $\frac1N\sum [\mathrm{softplus}(a) - y\,a]$, y `predict` marca $a > 0$.
# * Con MNIST descargado: `make_segmentation(source="mnist", canvas=56, clutter=0.5)` pone
#   dígitos de 28×28 y recortes de Fashion-MNIST como ruido.

# %%
print(f"Cuaderno ejecutado en {time.perf_counter() - T0:.0f} s")
