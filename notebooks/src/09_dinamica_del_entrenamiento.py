# Fuente del cuaderno 09_dinamica_del_entrenamiento.ipynb (formato "percent"; ver notebooks/_build.py).

# %% [markdown]
# # 9. La dinámica del entrenamiento
#
# Hasta ahora mirábamos el error $E$ época a época. Cuando un modelo aprende despacio (o no
# aprende), el error no dice **dónde** está el problema. Con `ae.fit(..., monitor=True)` la
# historia guarda además, por época y por capa, la media sobre los pasos medidos de:
#
# | clave | qué es | qué delata |
# |---|---|---|
# | `hist["grad_norm"]["enc0.W"]` | $\lVert \partial E/\partial \theta \rVert_F$ de cada parámetro | gradientes que se desvanecen (o explotan) |
# | `hist["update_ratio"]["enc0.W"]` | $\lVert \Delta\theta \rVert_F / \lVert \theta \rVert_F$, el cambio que hizo el optimizador | una capa que apenas se mueve, o pasos demasiado grandes |
# | `hist["activations"]["enc0"]` | media, desviación típica, fracción **saturada** (sigmoide) o **muerta** (ReLU) de la salida | unidades que ya no dejan pasar gradiente |
#
# `ae.plot.dynamics(hist)` lo dibuja todo en una figura. Una regla práctica muy usada: la razón
# de actualización sana está cerca de $10^{-3}$ (la banda verde, $10^{-4}$–$10^{-2}$).
#
# **Contenido**
# 1. Sigmoide frente a ReLU en un autoencoder profundo
# 2. El mismo paso, como imagen
# 3. Exploradores: ruido, código *k-sparse*, espacio latente, tasa de aprendizaje
#
# Todo con los dígitos 8×8: el cuaderno entero tarda unos segundos.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import aenumpy as ae
from aenumpy import explore

np.set_printoptions(precision=4, suppress=True, linewidth=110)
plt.rcParams.update({"figure.dpi": 90})
T0 = time.perf_counter()
Xtr, ytr, Xte, yte = ae.datasets.load_digits()

# %% [markdown]
# ## 1. Sigmoide frente a ReLU en un autoencoder profundo
#
# ¿Por qué una red profunda de sigmoides aprende tan despacio? Mira la retropropagación de
# la lección capa a capa: el error de una capa es el de la siguiente, devuelto por sus pesos y
# multiplicado por la derivada de la activación,
#
# $$\delta_l = \big(\delta_{l+1} W_{l+1}\big) \odot \sigma'(a_l), \qquad
# \frac{\partial E}{\partial W_l} = \delta_l^\top h_{l-1} .$$
#
# Para la sigmoide $\sigma'(a) = \sigma(a)(1 - \sigma(a)) \le \tfrac14$: cada capa que
# atraviesa el error lo multiplica por un factor pequeño, y en las primeras capas el gradiente
# es diminuto (**desvanecimiento del gradiente**). Para ReLU la derivada es 1 en las unidades
# activas, y el error llega entero.
#
# Entrenamos dos autoencoders iguales, 64 → 48 → 32 → 16 → 32 → 48 → 64, con el mismo
# descenso por gradiente (SGD con momento 0.9, $\eta = 0.1$), uno con sigmoides y otro con ReLU
# en las capas ocultas (la salida es una sigmoide en los dos), y registramos la dinámica.

# %%
runs = {}
for act in ("sigmoid", "relu"):
    model = ae.Autoencoder(64, [48, 32, 16], activation=act, seed=0)
    hist = ae.fit(model, Xtr, epochs=20, batch_size=32,
                  optimizer=ae.optim.SGD(lr=0.1, momentum=0.9), X_val=Xte, seed=0,
                  progress=False, monitor=True)
    runs[act] = (model, hist)
    g = hist["grad_norm"]
    print(f"{act:8s} E de validación {hist['val_loss'][0]:.3f} → {hist['val_loss'][-1]:.3f};  "
          f"‖∂E/∂W‖ última época: enc0 {g['enc0.W'][-1]:.1e}, dec2 {g['dec2.W'][-1]:.1e} "
          f"(cociente {g['dec2.W'][-1] / g['enc0.W'][-1]:.0f})")

# %%
fig = ae.plot.dynamics(runs["sigmoid"][1], title="Sigmoides: 64 → 48 → 32 → 16 → 32 → 48 → 64")
plt.show()

# %% [markdown]
# **Lectura (sigmoides).** El error casi no baja: el modelo se queda en el "dígito medio".
# En el panel de $\lVert\partial E/\partial\theta\rVert$ las curvas están ordenadas por
# profundidad: la última capa (`dec2`, amarillo) recibe gradientes cientos de veces mayores
# que la primera (`enc0`, morado oscuro). Por eso la razón de actualización de `enc0` queda por
# debajo de la banda verde: sus pesos apenas se mueven, y las capas del codificador no
# aprenden nada.

# %%
fig = ae.plot.dynamics(runs["relu"][1], title="ReLU: 64 → 48 → 32 → 16 → 32 → 48 → 64")
plt.show()

# %% [markdown]
# **Lectura (ReLU).** Con el mismo optimizador el error baja mucho más. Los gradientes de
# todas las capas son del mismo orden, y todas las razones de actualización caen en la banda
# sana. El último panel muestra el precio de ReLU: una fracción de unidades **muertas**
# (a cero para todo el lote, sin gradiente para sus pesos). Con una tasa de aprendizaje
# demasiado grande esa fracción puede llegar a 1 y el modelo deja de aprender: lo verás con el
# explorador de la tasa de aprendizaje, al final.

# %%
fig = ae.plot.reconstructions(runs["sigmoid"][0], Xte, n=10,
                              title="Sigmoides: originales (arriba) y reconstrucciones (abajo)")
plt.show()
fig = ae.plot.reconstructions(runs["relu"][0], Xte, n=10,
                              title="ReLU: originales (arriba) y reconstrucciones (abajo)")
plt.show()

# %% [markdown]
# ### Ejercicio 9.1: la razón de actualización
#
# El monitor registra, para cada parámetro, $\lVert\Delta\theta\rVert_F / \lVert\theta\rVert_F$ con
# $\Delta\theta = \theta_{\text{después}} - \theta_{\text{antes}}$ y la norma de $\theta$ **antes** del
# paso (sana hacia $10^{-3}$). Escribe `razon_actualizacion(theta_antes, theta_despues)`.

# %%
def razon_actualizacion(theta_antes, theta_despues):
    """‖θ_después − θ_antes‖_F / ‖θ_antes‖_F."""
    ### BEGIN SOLUTION
    return float(np.linalg.norm(theta_despues - theta_antes) / np.linalg.norm(theta_antes))
    ### END SOLUTION

# %%
resultado = ae.exercises.check("09.update_ratio", razon_actualizacion)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ### Ejercicio 9.2: la fracción de unidades muertas
#
# Una unidad ReLU está **muerta** en un lote si vale 0 para todas sus muestras. Escribe
# `fraccion_muertas(Z)` para la salida `Z` de una capa ReLU: las filas son muestras y cada
# posición de los demás ejes es una unidad (también en mapas de características
# `(B, C, H, W)`).

# %%
def fraccion_muertas(Z):
    """Fracción de unidades que valen 0 en todas las muestras del lote."""
    ### BEGIN SOLUTION
    maximo = Z.reshape(Z.shape[0], -1).max(axis=0)   # lo más que da cada unidad en el lote
    return float(np.mean(maximo <= 0))
    ### END SOLUTION

# %%
resultado = ae.exercises.check("09.dead_fraction", fraccion_muertas)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# Las dos medidas de la biblioteca (`ae.monitor.update_ratio`, `ae.monitor.dead_fraction`) en un
# paso de SGD ($\eta = 0.1$, sin momento) del modelo ReLU ya entrenado, con un lote de 32:

# %%
relu_model = runs["relu"][0]
loss, grads = relu_model.loss_and_grads(Xtr[:32])
for name in ("enc0.W", "dec2.W"):
    theta = relu_model.params[name]
    print(f"{name}: razón de actualización {ae.monitor.update_ratio(theta, theta - 0.1 * grads[name]):.1e}")
for layer in relu_model.encoder:
    print(f"{layer.name}: fracción de unidades muertas {ae.monitor.dead_fraction(layer.cache['Z']):.2f}")

# %% [markdown]
# ## 2. El mismo paso, como imagen
#
# `ae.plot.trace` dibuja la traza de un paso (cuaderno 1): la cadena de la lección hacia
# delante arriba, los gradientes $\partial E/\partial\cdot$ debajo (de derecha a izquierda) y
# $\partial E/\partial W$ bajo cada capa. Cada panel rojo/azul lleva su escala, $\pm m$: en el
# modelo de sigmoides, compara la $m$ de $\partial E/\partial W_1$ con la de
# $\partial E/\partial W'_3$. Es el desvanecimiento del gradiente, en un solo paso.

# %%
fig = ae.plot.trace(ae.trace(runs["sigmoid"][0], Xtr[:1]))
plt.show()

# %% [markdown]
# ## 3. Exploradores
#
# Cada explorador de `aenumpy.explore` es una función que dibuja **un** valor de un parámetro
# y devuelve la figura. Si tienes `ipywidgets` (`pip install "aenumpy[notebook]"`),
# `explore.interactive(nombre, ...)` le pone deslizadores y redibuja al moverlos; si no, las
# celdas interactivas de abajo no hacen nada y las figuras estáticas siguen ahí. Cuando el
# cuaderno se ejecuta sin interfaz (al generarlo, en las pruebas o al corregir con nbgrader),
# no hay nadie que mueva un deslizador: `interactive` dibuja entonces la figura del valor
# inicial y no abre ningún *widget*.

# %%
HAS_WIDGETS = explore.has_widgets()
print("ipywidgets instalado:", HAS_WIDGETS,
      "" if HAS_WIDGETS else '→ para los deslizadores: pip install "aenumpy[notebook]"')

# %% [markdown]
# ### 3.1 Nivel de ruido y reconstrucción
#
# Un autoencoder de eliminación de ruido entrenado con $\tilde x = x + 0.3\,\varepsilon$
# (cuaderno 3). ¿Qué hace con menos ruido, o con más del que vio al entrenar?

# %%
denoiser = ae.Autoencoder(64, [32], regularizers=[ae.regularizers.GaussianNoise(0.3)], seed=0)
ae.fit(denoiser, Xtr, epochs=30, batch_size=32, optimizer=ae.optim.Adam(lr=3e-3), seed=0,
       progress=False)
fig = explore.denoising(denoiser, Xte, sigma=0.3)
plt.show()
fig = explore.denoising(denoiser, Xte, sigma=0.6)
plt.show()

# %%
if HAS_WIDGETS:
    explore.interactive("denoising", denoiser, Xte, sigma=0.3)

# %% [markdown]
# ### 3.2 Un código *k-sparse*
#
# Un autoencoder *k-sparse* (cuaderno 4) deja en el código sólo las $k$ unidades más activas.
# El explorador elige las $k$ mayores del código de cada imagen (en rojo), pone las demás a
# cero y decodifica. Con pocas unidades la reconstrucción es un esbozo; con más, el dígito.

# %%
sparse = ae.Autoencoder(64, [64], regularizers=[ae.regularizers.TopK(8)], seed=0)
ae.fit(sparse, Xtr, epochs=30, batch_size=32, optimizer=ae.optim.Adam(lr=3e-3), seed=0,
       progress=False)
for k in (2, 8):
    fig = explore.ksparse(sparse, Xte, k=k)
    plt.show()

# %%
if HAS_WIDGETS:
    explore.interactive("ksparse", sparse, Xte, k=8)

# %% [markdown]
# ### 3.3 Un punto del espacio latente de un VAE
#
# Un VAE con código de dos dimensiones (cuaderno 6). A la izquierda, las medias $\mu(x)$ de
# los dígitos de prueba, coloreadas por su etiqueta, y el punto $z = (z_1, z_2)$ elegido (×); a
# la derecha, lo que el decodificador dibuja en ese punto.

# %%
vae = ae.VariationalAutoencoder(64, [64], n_latent=2, seed=0)
ae.fit(vae, Xtr, epochs=40, batch_size=32, optimizer=ae.optim.Adam(lr=3e-3), seed=0,
       progress=False)
fig = explore.vae_latent(vae, 0.5, -1.0, Xte, yte)
plt.show()

# %%
if HAS_WIDGETS:
    explore.interactive("vae_latent", vae, X=Xte, y=yte)

# %% [markdown]
# ### 3.4 La tasa de aprendizaje
#
# Un entrenamiento corto (5 épocas, SGD, 64 → 32 → 64 con ReLU) a la tasa $\eta$ elegida,
# dibujado con `plot.dynamics`. Con $\eta = 0.001$ las razones de actualización rozan el borde
# inferior de la banda sana ($10^{-4}$) y el error apenas baja; con $\eta = 0.3$ están cerca de
# $10^{-2}$ y el error baja deprisa; con $\eta = 3$ están muy por encima, ReLU mata a nueve de
# cada diez unidades y el error se estanca.

# %%
for lr in (0.001, 0.3, 3.0):
    fig = explore.learning_rate(Xtr, lr, activation="relu")
    plt.show()

# %%
if HAS_WIDGETS:
    explore.interactive("learning_rate", Xtr, activation="relu", lr=0.3)

# %% [markdown]
# ## Para experimentar
#
# * Repite la sección 1 con `ae.optim.Adam(lr=1e-3)`: Adam escala cada paso por la magnitud
#   del gradiente, ¿se nota en las razones de actualización de las primeras capas?
# * Prueba `activation="tanh"`: su derivada en 0 vale 1, no $\tfrac14$.
# * `monitor=ae.monitor.Monitor(every=1)` mide todos los pasos (por defecto se mide uno de
#   cada diez: medir cuesta).

# %%
print(f"Cuaderno ejecutado en {time.perf_counter() - T0:.0f} s")
