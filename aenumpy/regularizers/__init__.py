"""Regularizers: each one module, all through the interface in :mod:`.base`."""
from .base import (REGISTRY, HiddenMask, HiddenPenalty, InputCorruption, LayerView, Penalty,
                   Regularizer, WeightPenalty, check_regularizer_list)
from . import information
from .contractive import Contractive, jacobian, jacobian_norm
from .corruption import GaussianNoise, MaskingNoise, SaltAndPepper, corrupt
from .dropout import Dropout
from .sparsity import KLSparsity, L1Activity
from .topk import TopK
from .weight_decay import WeightDecay


def from_config(cfg: dict) -> Regularizer:
    """Rebuild a regularizer from ``{"name": ClassName, **args}``."""
    cfg = dict(cfg)
    name = cfg.pop("name", None)
    if name not in REGISTRY:
        raise ValueError(f"unknown regularizer {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](**cfg)


__all__ = ["Regularizer", "InputCorruption", "HiddenMask", "HiddenPenalty", "WeightPenalty",
           "LayerView", "Penalty", "REGISTRY", "from_config", "check_regularizer_list",
           "GaussianNoise", "MaskingNoise", "SaltAndPepper", "corrupt", "KLSparsity", "L1Activity",
           "TopK", "Contractive", "jacobian", "jacobian_norm", "WeightDecay", "Dropout",
           "information"]
