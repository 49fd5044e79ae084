"""Checks the Qwen port on this machine: logits against transformers and sharded == unsharded.

    python launch/check_model.py [--devices 8]

Builds tiny random Qwen2 and Qwen3 checkpoints with transformers (nothing is downloaded), loads them with
`rlvr_jax.models.load_pretrained`, and prints the float32 logit error against transformers for left and
right padding, then the error of a forward sharded over a (data, fsdp, tensor) mesh of every device.
Exits non-zero if any error exceeds 1e-4 of the logit scale. Needs the `test` extra (torch).
"""

import argparse
import os
import sys
import tempfile


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--devices", type=int, default=8, help="fake CPU devices for the sharded check")
  args = parser.parse_args()
  os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={args.devices}"

  import jax
  import jax.numpy as jnp
  import numpy as np
  from flax import nnx

  from rlvr_jax import models, sharding
  from rlvr_jax.models import hf_reference

  worst = 0.0
  print(f"jax {jax.__version__} on {jax.device_count()} {jax.devices()[0].platform} device(s)\n")
  print(f"{'checkpoint':<22}{'padding':<9}{'max abs err':>13}{'relative':>11}")
  for family, tied, bias in [("qwen2", True, False), ("qwen2", False, False), ("qwen3", False, False),
                             ("qwen3", True, True)]:
    name = f"{family}-{'tied' if tied else 'untied'}{'-bias' if bias else ''}"
    with tempfile.TemporaryDirectory() as path:
      config = hf_reference.tiny_hf_config(family, tied=tied, attention_bias=bias)
      torch_model = hf_reference.make_random_checkpoint(path, config)
      model = models.load_pretrained(path, dtype=jnp.float32)
      for side in ("left", "right"):
        ids, mask = hf_reference.padded_batch([16, 11, 5, 1], 16, config.vocab_size, side=side, seed=0)
        ours = np.asarray(models.logits(model, ids, mask))
        ref = hf_reference.reference_logits(torch_model, ids, mask)
        real = mask.astype(bool)
        err = float(np.abs(ours - ref)[real].max())
        rel = err / float(np.abs(ref[real]).max())
        worst = max(worst, rel)
        print(f"{name:<22}{side:<9}{err:>13.3e}{rel:>11.2e}")

      mesh = sharding.make_mesh(sharding.MeshConfig(data=-1, fsdp=2 if jax.device_count() % 4 == 0 else 1,
                                                    tensor=2 if jax.device_count() % 2 == 0 else 1))
      sharded = models.load_pretrained(path, dtype=jnp.float32, mesh=mesh)
      acts = sharding.ActivationSharding(mesh)
      rows = int(np.prod([mesh.shape["data"], mesh.shape["fsdp"]]))
      ids, mask = hf_reference.padded_batch([16, 9] * rows, 16, config.vocab_size, side="left", seed=1)

      @nnx.jit
      def forward(m, i, a):
        hidden, _ = m(i, a, constrain=acts.constrain)
        return m.logits(hidden, constrain=acts.constrain)

      out = np.asarray(forward(sharded, ids, mask))
      err = float(np.abs(out - np.asarray(models.logits(model, ids, mask))).max())
      worst = max(worst, err / float(np.abs(out).max()))
      print(f"{name:<22}{'mesh':<9}{err:>13.3e}   sharded {dict(mesh.shape)} vs 1 device")
  ok = worst <= 1e-4
  print(f"\nworst relative error {worst:.2e}: {'OK' if ok else 'FAILED'} (tolerance 1e-4)")
  return 0 if ok else 1


if __name__ == "__main__":
  sys.exit(main())
