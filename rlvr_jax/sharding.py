"""Device mesh and partition specs: one PartitionSpec per tensor role, a training and a sampling layout.

Mesh axes are ('data', 'fsdp', 'tensor'):
  data    pure data parallelism (parameters replicated across it),
  fsdp    data parallelism whose groups also split parameters and optimizer state (ZeRO-3 style),
  tensor  tensor parallelism over attention heads, MLP hidden units and the vocabulary.

Parameters carry a `role` (see `rlvr_jax.models._modules`); this file is the only place that maps roles
to specs. The sampling layout drops FSDP from the weights (each decode step would otherwise all-gather
every weight) and keeps tensor parallelism. The mesh is always passed explicitly, never read from a
global, so the same code paths run on 1 CPU device, 8 fake CPU devices, a GPU and a TPU pod slice.

A mesh axis that does not divide a tensor dimension is dropped from that dimension (the dimension is
replicated over it): e.g. Qwen2.5-1.5B has 2 KV heads, so on tensor=4 its k/v projections are
replicated across 'tensor' while its 12 query heads are split.

Scanned layers (`Qwen(scan_layers=True)`) stack each decoder-block parameter along a leading layer axis
and mark it with the `STACKED` metadata flag; its spec is its role's spec with a leading None (the layer
axis is never split: every device holds its shard of every layer, as in MaxText).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal, Sequence

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

MESH_AXES = ("data", "fsdp", "tensor")
BATCH = ("data", "fsdp")  # rows of a batch are split over both data-parallel axes

Layout = Literal["train", "sample"]

# Variable metadata flag of a parameter stacked along a leading layer axis (scanned decoder blocks).
STACKED = "stacked_layers"


@dataclasses.dataclass(frozen=True)
class MeshConfig:
  """Mesh axis sizes; -1 (at most one) takes the remaining devices."""

  data: int = 1
  fsdp: int = -1
  tensor: int = 1

  def resolve(self, num_devices: int) -> tuple[int, int, int]:
    sizes = [self.data, self.fsdp, self.tensor]
    for name, size in zip(MESH_AXES, sizes):
      if size == 0 or size < -1:
        raise ValueError(f"mesh.{name}={size}: sizes must be positive or -1")
    free = [i for i, s in enumerate(sizes) if s == -1]
    if len(free) > 1:
      raise ValueError(f"mesh {dict(zip(MESH_AXES, sizes))}: at most one axis may be -1")
    fixed = math.prod(s for s in sizes if s != -1)
    if free:
      if num_devices % fixed:
        raise ValueError(
            f"mesh {dict(zip(MESH_AXES, sizes))}: fixed axes ({fixed} devices) do not divide the "
            f"{num_devices} available devices")
      sizes[free[0]] = num_devices // fixed
    if math.prod(sizes) != num_devices:
      raise ValueError(
          f"mesh {dict(zip(MESH_AXES, sizes))} needs {math.prod(sizes)} devices, but {num_devices} are available")
    return tuple(sizes)


def make_mesh(config: MeshConfig = MeshConfig(), devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A ('data', 'fsdp', 'tensor') mesh over `devices` (default: every device of every process)."""
  devices = list(jax.devices() if devices is None else devices)
  shape = config.resolve(len(devices))
  if devices == list(jax.devices()):
    # jax.make_mesh orders devices by the physical topology (TPU ICI rings, multi-host slices).
    # Auto axes: GSPMD propagates shardings from the explicit constraints placed in the model.
    return jax.make_mesh(shape, MESH_AXES, axis_types=(jax.sharding.AxisType.Auto,) * 3)
  return Mesh(np.asarray(devices).reshape(shape), MESH_AXES)


@dataclasses.dataclass(frozen=True)
class ShardingConfig:
  """One PartitionSpec per tensor role; suffix letters follow the einsum legend of `models.modules`."""

  # Parameters.
  embed_vd: P = P("tensor", "fsdp")
  unembed_vd: P = P("tensor", "fsdp")
  q_dnh: P = P("fsdp", "tensor", None)
  kv_dkh: P = P("fsdp", "tensor", None)
  o_nhd: P = P("tensor", None, "fsdp")
  bias_nh: P = P("tensor", None)
  bias_kh: P = P("tensor", None)
  mlp_df: P = P("fsdp", "tensor")
  mlp_fd: P = P("tensor", "fsdp")
  norm_d: P = P(None)
  head_norm_h: P = P(None)
  # The embedding as the token lookup reads it: FSDP's D split is gathered (as FSDP gathers every
  # weight before use) and the lookup stays vocab-parallel; gathering from a D-split table forces XLA
  # into a full rematerialization.
  embed_lookup_vd: P = P("tensor", None)
  # Activations.
  act_btd: P = P(BATCH, None, None)
  act_btnh: P = P(BATCH, None, "tensor", None)
  act_btkh: P = P(BATCH, None, "tensor", None)
  act_btf: P = P(BATCH, None, "tensor")
  act_btv: P = P(BATCH, None, "tensor")
  act_bt: P = P(BATCH, None)
  act_b: P = P(BATCH)
  cache_bskh: P = P(BATCH, None, "tensor", None)
  # The KV cache of scanned layers, stacked along a leading layer axis (never split).
  cache_lbskh: P = P(None, BATCH, None, "tensor", None)

  def spec(self, role: str) -> P:
    try:
      return getattr(self, role)
    except AttributeError:
      raise ValueError(f"no partition spec for tensor role {role!r}") from None


def _without_fsdp(spec: P) -> P:
  def drop(entry):
    if entry == "fsdp":
      return None
    if isinstance(entry, tuple):
      rest = tuple(a for a in entry if a != "fsdp")
      return rest if rest else None
    return entry

  return P(*(drop(e) for e in spec))


_PARAM_ROLES = ("embed_vd", "unembed_vd", "q_dnh", "kv_dkh", "o_nhd", "bias_nh", "bias_kh", "mlp_df",
                "mlp_fd", "norm_d", "head_norm_h")


def layout_config(layout: Layout) -> ShardingConfig:
  """The training layout (FSDP + tensor parallel weights) or the sampling layout (tensor parallel only)."""
  base = ShardingConfig()
  if layout == "train":
    return base
  if layout == "sample":
    return dataclasses.replace(base, **{r: _without_fsdp(getattr(base, r)) for r in _PARAM_ROLES})
  raise ValueError(f"unknown sharding layout {layout!r}; known: 'train', 'sample'")


def fit_spec(spec: P, shape: Sequence[int], mesh: Mesh) -> P:
  """Drops mesh axes that do not divide the dimension they would split (that dimension is replicated)."""
  entries = []
  for dim, entry in zip(shape, tuple(spec) + (None,) * (len(shape) - len(spec))):
    names = () if entry is None else (entry if isinstance(entry, tuple) else (entry,))
    kept, size = [], 1
    for name in names:
      if dim % (size * mesh.shape[name]) == 0:
        kept.append(name)
        size *= mesh.shape[name]
    entries.append(None if not kept else (kept[0] if len(kept) == 1 else tuple(kept)))
  return P(*entries)


def named_sharding(mesh: Mesh, spec: P, shape: Sequence[int]) -> NamedSharding:
  return NamedSharding(mesh, fit_spec(spec, shape, mesh))


def stacked_spec(spec: P) -> P:
  """The spec of a parameter stacked along a leading layer axis: the layer axis is not split."""
  return P(None, *spec)


def variable_spec(variable: nnx.Variable, layout: Layout = "train") -> P | None:
  """The PartitionSpec of a parameter from its `role` (and `STACKED` flag); None when it has no role."""
  metadata = variable.get_metadata()
  role = metadata.get("role")
  if role is None:
    return None
  spec = layout_config(layout).spec(role)
  return stacked_spec(spec) if metadata.get(STACKED) else spec


def state_shardings(state: Any, mesh: Mesh, layout: Layout = "train") -> Any:
  """NamedShardings for an `nnx.State` (abstract or concrete), from each Variable's `role`."""

  def for_variable(variable):
    spec = variable_spec(variable, layout)
    if spec is None:
      return NamedSharding(mesh, P())
    return named_sharding(mesh, spec, variable.shape)

  return jax.tree.map(for_variable, state, is_leaf=lambda x: isinstance(x, nnx.Variable))


@dataclasses.dataclass(frozen=True)
class ActivationConstraint:
  """The model's `constrain(x, role)` hook for one mesh and layout.

  It also carries the mesh, so a fused attention kernel that GSPMD cannot partition (a Pallas call) can
  run under `shard_map` with the same layout (`rlvr_jax.models._attention`).
  """

  mesh: Mesh
  layout: Layout = "train"

  def __call__(self, x: jax.Array, role: str) -> jax.Array:
    return jax.lax.with_sharding_constraint(x, self.sharding(role, x.shape))

  def spec(self, role: str, shape: Sequence[int]) -> P:
    """The role's spec, fitted to `shape` on this mesh."""
    return fit_spec(layout_config(self.layout).spec(role), shape, self.mesh)

  def sharding(self, role: str, shape: Sequence[int]) -> NamedSharding:
    return NamedSharding(self.mesh, self.spec(role, shape))


@dataclasses.dataclass(frozen=True)
class ActivationSharding:
  """Applies a layout's activation specs with `with_sharding_constraint`; pass `.constrain` to the model."""

  mesh: Mesh
  layout: Layout = "train"

  @property
  def constrain(self) -> ActivationConstraint:
    return ActivationConstraint(self.mesh, self.layout)

  def sharding(self, role: str, shape: Sequence[int]) -> NamedSharding:
    return named_sharding(self.mesh, layout_config(self.layout).spec(role), shape)
