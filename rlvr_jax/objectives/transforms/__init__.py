"""Entropy-control transforms of the objective state, one module per method family.

Importing this package imports every module in it (pkgutil, at import time), and each transform module
registers its transform(s) in `TRANSFORMS` and its method preset(s) in `methods.METHODS`. So adding a
method is one new module here (plus its `configs/<name>.py`); nothing else lists it. Configs refer to
transforms by name (`TRANSFORMS.names()`); docs/methods.md has one row per transform, checked against
the registry by tests/objectives/test_methods_doc.py.
"""

import importlib
import pkgutil

from rlvr_jax.objectives.transforms._registry import (
    ADVANTAGES,
    PPO_PARAMS,
    TOKEN_LOSS,
    TRANSFORMS,
    TrainingProgress,
    Transform,
    check_transform_order,
    register_transform,
)

# Discovery: every submodule, in name order (registration order does not matter: names are sorted).
MODULES = tuple(importlib.import_module(f"{__name__}.{info.name}")
                for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name))

__all__ = [
    "ADVANTAGES",
    "MODULES",
    "PPO_PARAMS",
    "TOKEN_LOSS",
    "TRANSFORMS",
    "TrainingProgress",
    "Transform",
    "check_transform_order",
    "register_transform",
]
