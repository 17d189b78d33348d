"""The path out: a trained model to PyTorch, safetensors and ONNX; PyTorch weights in.

::

    sd = ae.export.state_dict(model)          # name -> ndarray, PyTorch's names and layouts
    ae.export.save_safetensors(model, "m.safetensors")
    tm = ae.export.to_torch(model)            # the torch.nn.Module, holding the same weights
    ae.export.load_state_dict(model, tm.state_dict())   # the reverse (tensors or arrays)
    ae.export.to_onnx(model, "m.onnx", part="model")    # or "encoder" / "decoder"

Every export is written from one description of the model (:mod:`.network`: the modules,
their PyTorch names, the parameters behind them), so the state dict, the module, the
safetensors file and the ONNX graph agree by construction; the tests hold each against
aenumpy's own forward pass. The exported forward pass is the evaluation-mode one
(``model.reconstruct``; a VAE decodes its posterior mean μ).

The optional packages are imported only by the function that needs them: ``onnx`` by
:func:`to_onnx`, ``safetensors`` by :func:`save_safetensors`, ``torch`` by :func:`to_torch`
(``load_state_dict`` reads tensors without importing it). ``import aenumpy`` imports none.
"""
from __future__ import annotations

import os

from .._validate import check_choice, check_path
from ._optional import require
from .network import NotExportable, describe
from .safetensors_file import save_safetensors
from .state import load_state_dict, state_dict

#: what :func:`to_onnx` can write
PARTS = ("model", "encoder", "decoder")


def to_torch(model):
    """The ``torch.nn.Module`` equivalent to ``model``, in evaluation mode, holding copies of
    its weights in its dtype.

    * ``Autoencoder`` and ``ConvAutoencoder``: ``encoder`` and ``decoder``, ``nn.Sequential``
      of the layers' modules (``Linear``, ``Conv2d``, ``ConvTranspose2d``, ``MaxPool2d``,
      ``Upsample``, ``Flatten``, ``Unflatten``) each followed by its activation's
      (``Sigmoid``, ``Tanh``, ``ReLU``; none for the identity); ``forward(x)`` is
      ``decoder(encoder(x))``, ``model.reconstruct(x)``. A conv model's module takes images
      ``(B, C, H, W)``.
    * ``VariationalAutoencoder``: ``encoder``, ``mu``, ``logvar`` (``nn.Linear``), ``decoder``
      (its last layer the output layer) and, with a Gaussian decoder, ``out_logvar``;
      ``encode(x)`` returns ``(μ, log σ²)`` and ``forward(x)`` is ``decoder(mu(encoder(x)))``.
    * ``UNet``: one ``nn.Conv2d`` per convolution, named after its parameters
      (``down0.conv0``, …, ``bottom.conv1``, ``up0.conv1``, ``head``); ``forward(x)`` gives the
      logits, ``model.forward(x)``.

    Its ``state_dict()`` holds :func:`state_dict` ``(model)``. Needs PyTorch
    (``pip install torch==2.13.0``, or any recent version).
    """
    net = describe(model)
    state = state_dict(model)
    require("torch", "to_torch")
    from . import torch_modules   # the one module of the package that imports torch

    return torch_modules.build(net, state)


def to_onnx(model, path, part="model") -> str:
    """Write ``model`` as an ONNX graph (opset 17, any batch size) to ``path``; returns it.

    ``part="model"`` maps ``x`` (``(batch, n_in)``, or images for a conv model) to ``x_hat``,
    the model's ``reconstruct`` (a VAE through μ); ``"encoder"`` maps ``x`` to ``code`` (a
    VAE's to ``mu`` and ``logvar``); ``"decoder"`` maps ``code`` (a VAE's ``z``) to ``x_hat``
    (a Gaussian VAE's also to ``x_logvar``); a U-Net has only ``"model"``, mapping ``x`` to
    ``logits``. Written with ``onnx.helper`` and checked by
    ``onnx.checker`` (:mod:`.onnx_graph` lists the operators). Needs ``onnx``
    (``pip install 'aenumpy[export]'``).
    """
    check_path("path", path)
    check_choice("part", part, PARTS)
    net = describe(model)
    state = state_dict(model)
    onnx = require("onnx", "to_onnx")
    from . import onnx_graph

    proto = onnx_graph.build(onnx, net, state, part)
    path = os.fspath(path)
    onnx.save(proto, path)
    return path


__all__ = ["state_dict", "load_state_dict", "save_safetensors", "to_torch", "to_onnx",
           "NotExportable", "PARTS"]
