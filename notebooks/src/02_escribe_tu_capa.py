# Fuente del cuaderno 02_escribe_tu_capa.ipynb (formato "percent"; ver notebooks/_build.py).

# %% [markdown]
# # 2. Escribe tu propia capa
#
# En `aenumpy` no hay diferenciación automática: cada capa escribe su paso hacia atrás. En este
# cuaderno escribes uno y lo compruebas con la misma herramienta que usan los tests de la
# biblioteca, `ae.check_layer`.
#
# **Lo que necesita una capa** (el mismo contrato que `ae.layers.Dense`):
#
# * `params`: un diccionario nombre → array (por ejemplo `{"W": ..., "b": ...}`);
# * `grads`: un diccionario con **las mismas claves**, que `backward` rellena;
# * `forward(X)`: recibe un lote `X` de forma `(B, d_entrada)` (las filas son muestras) y
#   devuelve `Y`; guarda en `self.cache` lo que necesite el paso hacia atrás;
# * `backward(dY)`: recibe $\partial E/\partial Y$, rellena `grads` con
#   $\partial E/\partial \theta$ para cada parámetro y **devuelve** $\partial E/\partial X$,
#   que se pasa a la capa de abajo.
#
# **Cómo comprueba `ae.check_layer`**: toma un gradiente de salida `dY` aleatorio (con semilla) y
# la función escalar $L = \sum Y \odot dY$, cuya derivada respecto de $Y$ es exactamente `dY`.
# Compara lo que devuelve tu `backward` (y lo que deja en `grads`) con la derivada numérica de $L$,
# con la diferencia centrada de cuarto orden en `float64`. Todo por debajo de $10^{-7}$ de error
# relativo es correcto; un error de verdad (un factor olvidado, una matriz traspuesta) da $10^{-1}$ o más.

# %%
import matplotlib.pyplot as plt
import numpy as np

import aenumpy as ae

np.set_printoptions(precision=4, suppress=True, linewidth=110)
plt.rcParams.update({"figure.dpi": 90, "axes.titlesize": 11, "axes.labelsize": 10})
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. La capa de la biblioteca pasa la comprobación
#
# Primero, la capa densa de la lección, $Z = \sigma(XW^\top + b)$, tal como la trae `aenumpy`.
# Su paso hacia atrás es
#
# $$\delta = dZ \odot \sigma'(A), \qquad \frac{\partial E}{\partial W} = \delta^\top X, \qquad
# \frac{\partial E}{\partial b} = \sum_{\text{lote}} \delta, \qquad \frac{\partial E}{\partial X} = \delta\, W .$$

# %%
dense = ae.layers.Dense(6, 4, activation="sigmoid", rng=np.random.default_rng(1), dtype="float64")
X = rng.standard_normal((5, 6))          # un lote de 5 muestras con 6 rasgos
print(ae.check_layer(dense, X))

# %% [markdown]
# ## 2. Ejemplo resuelto: una capa afín elemento a elemento
#
# La capa `Scale` multiplica cada rasgo por su propio factor y le suma su propio desplazamiento:
#
# $$y = \gamma \odot x + \beta, \qquad \gamma, \beta \in \mathbb{R}^d .$$
#
# Con $B$ muestras en el lote y $dY = \partial E / \partial Y$:
#
# $$\frac{\partial E}{\partial \gamma} = \sum_{\text{lote}} dY \odot X, \qquad
# \frac{\partial E}{\partial \beta} = \sum_{\text{lote}} dY, \qquad
# \frac{\partial E}{\partial X} = dY \odot \gamma .$$
#
# Las sumas sobre el lote aparecen porque $\gamma$ y $\beta$ se usan en todas las filas.
#
# Un detalle: `check_layer` perturba los arrays de `params` **en su sitio** y vuelve a llamar a
# `forward`, así que `forward` debe leer los parámetros de `self.params` cada vez (no de una copia).

# %%
class Scale:
    """Capa afín elemento a elemento: Y = γ ⊙ X + β."""

    def __init__(self, d, rng):
        self.params = {"gamma": 1.0 + 0.1 * rng.standard_normal(d),
                       "beta": 0.1 * rng.standard_normal(d)}
        self.grads = {}
        self.cache = {}

    def forward(self, X):
        self.cache["X"] = X
        return X * self.params["gamma"] + self.params["beta"]

    def backward(self, dY):
        X = self.cache["X"]
        self.grads["gamma"] = (dY * X).sum(axis=0)    # ∂E/∂γ = Σ_lote dY ⊙ X
        self.grads["beta"] = dY.sum(axis=0)           # ∂E/∂β = Σ_lote dY
        return dY * self.params["gamma"]              # ∂E/∂X = dY ⊙ γ


print(ae.check_layer(Scale(6, np.random.default_rng(2)), X))

# %% [markdown]
# ### Qué aspecto tiene un fallo
#
# Dos errores típicos: olvidar $\gamma$ en $\partial E/\partial X$, y olvidar $X$ en
# $\partial E/\partial \gamma$. La comprobación señala **qué** gradiente está mal
# (`<-- FAIL`) y el resumen dice `FAILED`; los demás siguen pasando.

# %%
class ScaleWithBugs(Scale):
    def backward(self, dY):
        self.grads["gamma"] = dY.sum(axis=0)          # ERROR: falta ⊙ X
        self.grads["beta"] = dY.sum(axis=0)
        return dY                                     # ERROR: falta ⊙ γ


report = ae.check_layer(ScaleWithBugs(6, np.random.default_rng(2)), X)
print(report)
print("\n¿pasa?", report.ok)

# %% [markdown]
# ## 3. Ejercicio 2.1: una capa densa con *softplus*
#
# La función *softplus* es una versión suave de ReLU:
#
# $$\operatorname{softplus}(a) = \log(1 + e^{a}), \qquad \operatorname{softplus}'(a) = \frac{1}{1+e^{-a}} = \sigma(a) .$$
#
# La capa `SoftplusDense` calcula $Z = \operatorname{softplus}(XW^\top + b)$. Su `__init__` y su
# `forward` ya están escritos; escribe su `backward`: $\delta = dZ \odot \operatorname{softplus}'(A)$,
# y después $\partial E/\partial W$, $\partial E/\partial b$ y $\partial E/\partial X$ como en la
# capa densa de la sección 1.
#
# La celda de después la comprueba de dos maneras. `ae.exercises.check` le pone los pesos de la
# capa de la biblioteca con la misma activación y compara `forward` y `backward` (lo que devuelve
# y lo que deja en `grads`), en lotes de varias formas y con entradas grandes que saturan la
# activación; si algo falla, dice qué. Y, en cuanto tu `backward` existe, `ae.check_layer` lo
# compara con la derivada numérica de tu propio `forward`.
#
# Pistas: `ae.activations.sigmoid(A)` calcula $\sigma(A)$; el error típico es olvidar el factor
# $\operatorname{softplus}'(A)$ (la comprobación lo señala).

# %%
class SoftplusDense:
    """Capa densa Z = softplus(X Wᵀ + b)."""

    def __init__(self, n_in, n_out, rng):
        self.params = {"W": rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(n_out, n_in)),
                       "b": 0.1 * rng.standard_normal(n_out)}
        self.grads = {}
        self.cache = {}

    def forward(self, X):
        A = X @ self.params["W"].T + self.params["b"]
        self.cache = {"X": X, "A": A}
        return ae.activations.softplus(A)

    def backward(self, dZ):
        ### BEGIN SOLUTION
        X, A = self.cache["X"], self.cache["A"]
        dA = dZ * ae.activations.sigmoid(A)   # δ = dZ ⊙ softplus'(A), softplus'(a) = σ(a)
        self.grads["W"] = dA.T @ X            # ∂E/∂W = δᵀ X
        self.grads["b"] = dA.sum(axis=0)      # ∂E/∂b = Σ_lote δ
        return dA @ self.params["W"]          # ∂E/∂X = δ W
        ### END SOLUTION

# %%
resultado = ae.exercises.check("02.softplus_layer", SoftplusDense)
print(resultado)
if resultado.written:
    print(ae.check_layer(SoftplusDense(6, 4, np.random.default_rng(3)), X))
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ## Ejercicio 2.2: una capa densa con tanh
#
# Ahora la capa entera: $Z = \tanh(XW^\top + b)$. La derivada de tanh se escribe con su salida,
# $\tanh'(a) = 1 - \tanh(a)^2 = 1 - z^2$, así que basta con guardar $Z$ en la caché. El
# `__init__` está escrito; escribe `forward` y `backward`.

# %%
class TanhDense:
    """Capa densa Z = tanh(X Wᵀ + b)."""

    def __init__(self, n_in, n_out, rng):
        self.params = {"W": rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(n_out, n_in)),
                       "b": 0.1 * rng.standard_normal(n_out)}
        self.grads = {}
        self.cache = {}

    def forward(self, X):
        ### BEGIN SOLUTION
        Z = np.tanh(X @ self.params["W"].T + self.params["b"])
        self.cache = {"X": X, "Z": Z}
        return Z
        ### END SOLUTION

    def backward(self, dZ):
        ### BEGIN SOLUTION
        X, Z = self.cache["X"], self.cache["Z"]
        dA = dZ * (1 - Z ** 2)                # tanh'(a) = 1 − z²
        self.grads["W"] = dA.T @ X
        self.grads["b"] = dA.sum(axis=0)
        return dA @ self.params["W"]
        ### END SOLUTION

# %%
resultado = ae.exercises.check("02.tanh_layer", TanhDense)
print(resultado)
### BEGIN HIDDEN TESTS
assert resultado.ok
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Tu activación dentro de un autoencoder
#
# Una activación propia se escribe heredando de `ae.activations.Activation`: `__call__(a)` da
# $f(a)$, `grad(a, z)` da $f'(a)$ y `grad2(a, z)` da $f''(a)$ (la usa la penalización
# contractiva). Se comprueba igual que una capa: la derivada analítica frente a la numérica de
# $\sum f(a)$, con `ae.numerical_gradient`.

# %%
class Softplus(ae.activations.Activation):
    name = "softplus"

    def __call__(self, a):
        return ae.activations.softplus(a)

    def grad(self, a, z):                       # softplus'(a) = σ(a)
        return ae.activations.sigmoid(a)

    def grad2(self, a, z):                      # softplus''(a) = σ(a)(1 − σ(a))
        s = ae.activations.sigmoid(a)
        return s * (1 - s)


f = Softplus()
a = rng.standard_normal(8)
num_grad = ae.numerical_gradient(lambda v: np.sum(f(v)), a.copy())
num_grad2 = ae.numerical_gradient(lambda v: np.sum(f.grad(v, None)), a.copy())
print(f"f'  : error máximo frente a la derivada numérica {np.abs(f.grad(a, f(a)) - num_grad).max():.1e}")
print(f"f'' : error máximo frente a la derivada numérica {np.abs(f.grad2(a, f(a)) - num_grad2).max():.1e}")

# %% [markdown]
# Y ahora la usamos en el codificador de un autoencoder, $z = \operatorname{softplus}(Wx + b)$,
# y la comparamos con la sigmoide en los dígitos 8×8 (20 épocas, unos segundos).

# %%
Xtr, ytr, Xte, yte = ae.datasets.load_digits()
histories = {}
for name, act in [("sigmoide", "sigmoid"), ("softplus (la tuya)", Softplus())]:
    model = ae.Autoencoder(n_in=64, hidden=[32], activation=act, output_activation="sigmoid", seed=0)
    histories[name] = ae.fit(model, Xtr, epochs=20, batch_size=32, optimizer=ae.optim.Adam(lr=3e-3),
                             X_val=Xte, seed=0, progress=False)
    print(f"{name:20s} E de validación final: {histories[name]['val_loss'][-1]:.3f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, h in histories.items():
    ax.plot(np.arange(1, h.epochs + 1), h["val_loss"], marker="o", label=name)
ax.set_xlabel("época")
ax.set_ylabel("E de validación (media por muestra)")
ax.set_title("Autoencoder 64→32→64 según la activación del codificador")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# El modelo entero con tu activación también pasa la comprobación de gradientes: `ae.gradcheck`
# copia el modelo a float64 (conservando tu objeto `Softplus`) y compara cada parámetro con la
# diferencia centrada.

# %%
print(ae.gradcheck(model, Xte[:4]))

# %% [markdown]
# ## Para experimentar
#
# * Escribe una capa `Tanh` sin parámetros (`params = {}`): sólo tiene que devolver
#   $\partial E/\partial X = dY \odot (1 - Y^2)$. Compárala con `TanhDense` y
#   `ae.check_layer`.
# * Escribe una capa con pesos **atados** a otra (como el decodificador con $W' = W^\top$) y
#   comprueba que el gradiente de $W$ recoge las dos contribuciones.
# * Cambia `order=2` en `ae.check_layer(..., order=2)` y mira cómo crece el error relativo de la
#   diferencia centrada de segundo orden.
