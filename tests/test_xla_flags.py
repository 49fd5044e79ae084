"""The suite's XLA flags (tests/conftest.py: TEST_XLA_FLAGS, LLVM optimization level 0 for faster compiles)
change how fast XLA:CPU's code runs, not what it computes: a forward pass, a gradient and sampled tokens
with their log-probs, computed in a fresh process at XLA's default level, equal the suite's bitwise."""

import os
import subprocess
import sys
import textwrap

import numpy as np

from tests.conftest import TEST_XLA_FLAGS

_PROGRAMS = textwrap.dedent("""
    import sys
    import jax, jax.numpy as jnp, numpy as np
    from flax import nnx
    from rlvr_jax import models, sampling

    model = models.init(models.preset("tiny"), key=jax.random.key(0), dtype=jnp.float32)
    ids = jax.random.randint(jax.random.key(1), (4, 24), 0, 512)
    mask = jnp.ones_like(ids)
    graphdef, params = nnx.split(model, nnx.Param)

    def loss(params):
      hidden, _ = nnx.merge(graphdef, params)(ids, mask)
      return jnp.mean(jnp.tanh(hidden) ** 2)

    hidden, _ = jax.jit(lambda: model(ids, mask))()
    grads = jax.tree.leaves(jax.jit(jax.grad(loss))(params))
    out = sampling.generate(model, ids[:, :8], mask[:, :8], key=jax.random.key(2), max_new_tokens=12,
                            num_samples=2, slots=4)
    np.savez(sys.argv[1], hidden=hidden, tokens=out.tokens, logprobs=out.logprobs,
             **{f"grad{i}": g for i, g in enumerate(grads)})
""")


def _run(path: str, xla_flags: str) -> dict[str, np.ndarray]:
  env = {**os.environ, "XLA_FLAGS": xla_flags, "JAX_PLATFORMS": "cpu"}
  subprocess.run([sys.executable, "-c", _PROGRAMS, path], env=env, check=True, timeout=300,
                 cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  with np.load(path) as arrays:
    return dict(arrays)


def test_the_suite_s_flags_compute_what_the_default_flags_compute(tmp_path):
  default = _run(str(tmp_path / "default.npz"), "")
  suite = _run(str(tmp_path / "suite.npz"), TEST_XLA_FLAGS)
  assert TEST_XLA_FLAGS.strip(), "nothing to compare"
  assert sorted(default) == sorted(suite) and len(default) > 10
  assert len(np.unique(default["tokens"])) > 4  # sampled, not a constant row
  for name in default:
    np.testing.assert_array_equal(suite[name], default[name], err_msg=name)
