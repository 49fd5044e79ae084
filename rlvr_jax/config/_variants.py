"""Config-file variants (`configs/steer.py:model=qwen2.5-math-7b,mesh=v5p-128`): their names and values.

`model=` names the published architecture a run trains (weights always come from --config.model.path;
nothing is downloaded) and selects the config file's recipe for it; `mesh=` names a device layout. The
variant string is parsed here once; the layer that applies it is built by `rlvr_jax.config._layers`.
"""

from __future__ import annotations

from rlvr_jax.models._config import PRESETS

# The embedded default's architecture; every other model variant is a published checkpoint in bfloat16
# compute (parameters are float32 master weights whatever this says: rlvr_jax.models._precision) with
# scanned layers and rematerialised blocks: chosen by `launch/compile_check.py`, not by hand. Every
# published recipe fits a v5p-128 that way (docs/scale.md); unrolled and without remat, the STEER 7B update
# step needs 93 GiB of temporaries per v5p chip and compiles in 12 minutes instead of under 2.
EMBEDDED_MODEL = "tiny"
PUBLISHED_SCALE = {"dtype": "bfloat16", "scan_layers": True, "remat": True}
MODEL_VARIANTS: dict[str, dict] = {
    name: {"preset": name, "dtype": "float32"} if name == EMBEDDED_MODEL else {"preset": name, **PUBLISHED_SCALE}
    for name in PRESETS
}

# Device layouts: FSDP over the data-parallel devices of a slice, tensor parallelism inside a host (4
# chips per host on every multi-host slice named here) where the model needs it. The TPU slices are the
# ones docs/scale.md checks every published variant on (`launch/compile_check.py --topology SLICE`).
MESH_VARIANTS: dict[str, dict] = {
    "single": dict(data=1, fsdp=1, tensor=1),
    "gpu": dict(data=1, fsdp=-1, tensor=1),
    "v5e-64": dict(data=1, fsdp=-1, tensor=4),
    "v5p-64": dict(data=1, fsdp=-1, tensor=4),
    "v5p-128": dict(data=1, fsdp=-1, tensor=4),
    "v5p-256": dict(data=1, fsdp=-1, tensor=4),
    "v6e-64": dict(data=1, fsdp=-1, tensor=4),
}

VARIANT_KEYS = ("model", "mesh")


def parse_variants(arg: str | None) -> dict[str, str]:
  """'model=qwen3-8b,mesh=v5p-128' -> {'model': 'qwen3-8b', 'mesh': 'v5p-128'}; unknown keys and mesh
  names raise ValueError naming them (a model name is checked against the config file's recipes)."""
  variants: dict[str, str] = {}
  for item in (arg or "").split(","):
    if not item:
      continue
    key, sep, value = item.partition("=")
    if not sep:
      raise ValueError(f"config variant {item!r} is not key=value")
    if key not in VARIANT_KEYS:
      raise ValueError(f"unknown config variant key {key!r}; known: {', '.join(VARIANT_KEYS)}")
    if key == "mesh" and value not in MESH_VARIANTS:
      raise ValueError(f"config variant mesh={value!r}; known: {', '.join(MESH_VARIANTS)}")
    if key in variants:
      raise ValueError(f"config variant {key} is given twice ({variants[key]!r} and {value!r})")
    variants[key] = value
  return variants


def variant_layer(variants: dict[str, str]) -> dict:
  """The config values the variants set."""
  layer: dict = {}
  if "model" in variants:
    layer["model"] = dict(MODEL_VARIANTS[variants["model"]])
  if "mesh" in variants:
    layer["mesh"] = dict(MESH_VARIANTS[variants["mesh"]])
  return layer
