"""The exported network as an ONNX graph, written node by node with ``onnx.helper``.

Each module of the :class:`~aenumpy.export.network.Network` becomes one ONNX operator (two
for a ``Flatten`` + ``Unflatten``, seven for ``TopK``)::

    Linear → Gemm (transB=1: X Wᵀ + b)     Conv2d → Conv     ConvTranspose2d → ConvTranspose
    MaxPool2d → MaxPool                     Upsample → Resize (nearest, asymmetric, floor)
    Flatten, Unflatten → Reshape            Sigmoid, Tanh, ReLU → Sigmoid, Tanh, Relu
    TopK → Abs, TopK, ScatterElements (the 0/1 mask), Mul

The weights are initializers named as in the state dict (``encoder.0.weight``). The batch
dimension is symbolic (``"batch"``), so the graph takes any batch size. Opset 17 (ONNX 1.12,
2022) with IR version 8: recent enough for every operator here, old enough for any
onnxruntime since 1.13 to run. Every graph passes ``onnx.checker.check_model`` with its
shape inference (``full_check``) before it is written.

Which part: ``"model"`` maps x to x̂ (for a VAE through μ; for a U-Net to the logits, its
only part, ``Concat`` joining each skip); ``"encoder"`` maps x to the code (for a VAE to μ
and log σ²); ``"decoder"`` maps a code to x̂ (for a Gaussian VAE also to log σ²_x). Each
model family has its own function in :data:`GRAPHS`.
"""
from __future__ import annotations

import numpy as np

#: the opset and IR version the graphs are written for
OPSET, IR_VERSION = 17, 8

#: the ONNX operator of each activation module
UNARY = {"Sigmoid": "Sigmoid", "Tanh": "Tanh", "ReLU": "Relu"}


class Graph:
    """Collects the nodes, initializers, inputs and outputs of one ONNX graph."""

    def __init__(self, onnx, state, dtype):
        self.onnx, self.state = onnx, state
        self.elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        self.dtype = np.dtype(dtype)
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self._count = 0

    def fresh(self, hint) -> str:
        """A new value name."""
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, name, array=None) -> str:
        """An initializer ``name`` (a state-dict entry when no ``array`` is given)."""
        array = self.state[name] if array is None else array
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, out=None, n_out=1, **attrs):
        """Append node ``op``; returns its output's name (``out`` or a fresh one), or a
        list of ``n_out`` names."""
        outs = [out or self.fresh(op.lower())] if n_out == 1 else [self.fresh(op.lower())
                                                                    for _ in range(n_out)]
        self.nodes.append(self.onnx.helper.make_node(op, inputs, outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def _value(self, name, shape):
        return self.onnx.helper.make_tensor_value_info(name, self.elem, ["batch", *shape])

    def input(self, name, shape) -> str:
        """A graph input ``(batch, *shape)`` in the graph's dtype."""
        self.inputs.append(self._value(name, shape))
        return name

    def output(self, name, shape):
        self.outputs.append(self._value(name, shape))

    def chain(self, entries, x, out=None) -> str:
        """The modules ``entries`` (``(prefix, module)`` pairs) applied in turn to ``x``; the
        last output is named ``out`` when given."""
        if not entries:
            return self.node("Identity", [x], out)
        for i, (prefix, m) in enumerate(entries):
            x = emit(self, prefix, m, x, out if i == len(entries) - 1 else None)
        return x


def emit(g, prefix, m, x, out=None) -> str:
    """The ONNX node(s) of module ``m`` (state-dict prefix ``prefix``) on value ``x``."""
    a = m.args
    if m.torch_class in UNARY:
        return g.node(UNARY[m.torch_class], [x], out)
    if m.torch_class == "Linear":
        return g.node("Gemm", [x, g.const(f"{prefix}.weight"), g.const(f"{prefix}.bias")], out,
                      transB=1)
    if m.torch_class in ("Conv2d", "ConvTranspose2d"):
        k, s, p = a["kernel_size"], a["stride"], a["padding"]
        attrs = {"kernel_shape": [k, k], "strides": [s, s], "pads": [p, p, p, p]}
        if m.torch_class == "ConvTranspose2d":
            attrs["output_padding"] = [a["output_padding"]] * 2
        op = "Conv" if m.torch_class == "Conv2d" else "ConvTranspose"
        return g.node(op, [x, g.const(f"{prefix}.weight"), g.const(f"{prefix}.bias")], out,
                      **attrs)
    if m.torch_class == "MaxPool2d":
        s = a["kernel_size"]
        return g.node("MaxPool", [x], out, kernel_shape=[s, s], strides=[s, s])
    if m.torch_class == "Upsample":
        s = float(a["scale_factor"])
        scales = g.const(f"{prefix}.scales", np.array([1.0, 1.0, s, s], np.float32))
        return g.node("Resize", [x, "", scales], out, mode="nearest",
                      coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    if m.torch_class == "Flatten":
        return g.node("Reshape", [x, g.const(f"{prefix}.shape", np.array([0, -1]))], out)
    if m.torch_class == "Unflatten":
        shape = np.array([0, *a["unflattened_size"]])
        return g.node("Reshape", [x, g.const(f"{prefix}.shape", shape)], out)
    if m.torch_class == "TopK":
        return emit_topk(g, prefix, a["k"], a["by"], x, out)
    raise ValueError(f"no ONNX operator for module {m.torch_class} (layer {m.layer})")  # pragma: no cover


def emit_topk(g, prefix, k, by, x, out=None) -> str:
    """``z ⊙ M``, M the 0/1 mask of the k largest keys (``|z|`` or z) of each sample's units::

        flat = Reshape(z, [0, −1]);  _, idx = TopK(keys(flat), k)
        M = ScatterElements(zeros like flat, idx, ones like idx, axis=1)
        out = Reshape(flat ⊙ M, Shape(z))
    """
    flat = g.node("Reshape", [x, g.const(f"{prefix}.flat", np.array([0, -1]))])
    keys = g.node("Abs", [flat]) if by == "abs" else flat
    _, kept = g.node("TopK", [keys, g.const(f"{prefix}.k", np.array([k]))], n_out=2, axis=1,
                     largest=1, sorted=1)
    zero, one = (g.onnx.helper.make_tensor("v", g.elem, [1], [v]) for v in (0.0, 1.0))
    zeros = g.node("ConstantOfShape", [g.node("Shape", [flat])], value=zero)
    ones = g.node("ConstantOfShape", [g.node("Shape", [kept])], value=one)
    mask = g.node("ScatterElements", [zeros, kept, ones], axis=1)
    return g.node("Reshape", [g.node("Mul", [flat, mask]), g.node("Shape", [x])], out)


# ------------------------------------------------------------- each model family
def autoencoder_graph(g, net, part):
    """Dense and convolutional autoencoders: ``x → encoder → code → decoder → x_hat``."""
    x_shape, code_shape = net.shapes["x"], net.shapes["code"]
    if part == "decoder":
        code = g.input("code", code_shape)
    else:
        code = g.chain(net["encoder"].entries(), g.input("x", x_shape),
                       "code" if part == "encoder" else None)
    if part == "encoder":
        g.output("code", code_shape)
        return
    g.chain(net["decoder"].entries(), code, "x_hat")
    g.output("x_hat", x_shape)


def vae_graph(g, net, part):
    """The VAE: ``x → encoder → h``, ``μ = mu(h)``, ``log σ² = logvar(h)``; the model
    decodes μ (no sampling): ``μ → decoder → x_hat``. The decoder part of a Gaussian VAE
    also gives ``x_logvar = out_logvar(decoder[:-1](z))``."""
    x_shape, code_shape = net.shapes["x"], net.shapes["code"]
    if part == "decoder":
        z = g.input("z", code_shape)
    else:
        h = g.chain(net["encoder"].entries(), g.input("x", x_shape))
        z = g.chain(net["mu"].entries(), h, "mu")
        if part == "encoder":
            g.chain(net["logvar"].entries(), h, "logvar")
            g.output("mu", code_shape)
            g.output("logvar", code_shape)
            return
    decoder = net["decoder"].entries()
    gaussian = part == "decoder" and any(p.name == "out_logvar" for p in net.parts)
    if not gaussian:
        g.chain(decoder, z, "x_hat")
        g.output("x_hat", x_shape)
        return
    hidden = g.chain(decoder[:-1], z)
    g.chain(decoder[-1:], hidden, "x_hat")
    g.chain(net["out_logvar"].entries(), hidden, "x_logvar")
    g.output("x_hat", x_shape)
    g.output("x_logvar", x_shape)


def unet_graph(g, net, part):
    """The U-Net, one graph (``part="model"``: its skips join the encoder to the decoder):
    ``Conv`` and ``Relu`` pairs, ``MaxPool``, ``Resize`` (nearest), ``Concat`` along the
    channels ``[upsampled, skip]``, and the 1×1 ``head`` giving ``logits``."""
    if part != "model":
        raise ValueError(f"a U-Net exports as one graph, part='model' (its skips join the "
                         f"encoder and the decoder); got part={part!r}")
    conv = {p.name: p.modules[0] for p in net.parts}

    def pair(level, h):
        for k in ("conv0", "conv1"):
            name = f"{level}.{k}"
            h = g.node("Relu", [emit(g, name, conv[name], h)])
        return h

    L = net.options["levels"]
    h, kept = g.input("x", net.shapes["x"]), []
    for i in range(L):
        h = pair(f"down{i}", h)
        kept.append(h)
        h = g.node("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2])
    h = pair("bottom", h)
    scales = g.const("upsample.scales", np.array([1.0, 1.0, 2.0, 2.0], np.float32))
    for i in reversed(range(L)):
        h = g.node("Resize", [h, "", scales], mode="nearest",
                   coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        if net.options["skips"]:
            h = g.node("Concat", [h, kept[i]], axis=1)
        h = pair(f"up{i}", h)
    emit(g, "head", conv["head"], h, "logits")
    g.output("logits", net.shapes["logits"])


#: the graph of each model family, by ``model.family``
GRAPHS = {"autoencoder": autoencoder_graph, "conv": autoencoder_graph, "vae": vae_graph,
          "unet": unet_graph}


def build(onnx, net, state, part):
    """The checked ``onnx.ModelProto`` of one part of ``net`` with the weights ``state``."""
    g = Graph(onnx, state, net.dtype)
    GRAPHS[net.family](g, net, part)
    h = onnx.helper
    graph = h.make_graph(g.nodes, f"aenumpy_{net.family}_{part}", g.inputs, g.outputs, g.inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)],
                         ir_version=IR_VERSION, producer_name="aenumpy")
    onnx.checker.check_model(model, full_check=True)
    return model
