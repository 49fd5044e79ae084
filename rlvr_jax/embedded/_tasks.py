"""The built-in tasks of the embedded default (`data.builtin_task`), one registry entry each.

A task owns everything that makes it a task: its problem generator and train / held-out JSONL files,
the demonstrator its warm start imitates, the settings that key its cached warm-started policy, and the
config values its embedded run needs on top of the generic embedded profile (reward, token budgets).
Each demonstrator is right in substance but not always verifiably right, so the warm-started policy
succeeds often enough for group advantages to be non-zero and RL has a clear, learnable gap to close,
as on real pretrained models.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from typing import Any, Callable

import numpy as np

from rlvr_jax.embedded import _warm_start as warm_start
from rlvr_jax.embedded._arithmetic import ArithmeticTask, generate_arithmetic, write_builtin_splits
from rlvr_jax.embedded import _countdown_reward as countdown_reward  # noqa: F401  (registers reward.name=builtin_countdown)
from rlvr_jax.embedded._code_task import CodeTask, generate_code_task, reference_solution, write_code_task_splits
from rlvr_jax.embedded._countdown import (CountdownTask, demonstration, generate_countdown, parse_question,
                                         write_countdown_splits)
from rlvr_jax.embedded._tokenizer import IM_END
from rlvr_jax._registry import Registry


@dataclasses.dataclass(frozen=True)
class BuiltinTask:
  """One built-in task.

  Attributes:
    name: its `data.builtin_task` value.
    write_splits: directory -> writes `<name>_train.jsonl` and `<name>_heldout.jsonl` into it.
    data_key: what determines those files (their cache key).
    demonstrations: seed -> (questions, completions) of the warm start.
    policy_key: task settings that determine the warm-started policy (part of its cache key).
    profile: config values the task's embedded run needs on top of the generic embedded profile.
    warm_start_optimizer: keyword arguments of `supervised_warm_start` beyond the `warm_start.*` fields
      (`weight_decay`, `b2`); they must also be in `policy_key`, which keys the cached policy.
  """

  name: str
  write_splits: Callable[[str], None]
  data_key: dict[str, Any]
  demonstrations: Callable[[int], tuple[list[str], list[str]]]
  policy_key: dict[str, Any]
  profile: dict[str, Any] = dataclasses.field(default_factory=dict)
  warm_start_optimizer: dict[str, Any] = dataclasses.field(default_factory=dict)

  def data_files(self, cache_dir: str | None = None) -> tuple[str, str]:
    """(train, held-out) JSONL files, generated once (atomically) and cached."""
    root = os.path.join(cache_dir or warm_start.default_cache_dir(), f"{self.name}_data",
                        warm_start.cache_key(self.data_key))
    files = (os.path.join(root, f"{self.name}_train.jsonl"), os.path.join(root, f"{self.name}_heldout.jsonl"))
    if not all(os.path.isfile(f) for f in files):
      os.makedirs(os.path.dirname(root), exist_ok=True)
      staging = tempfile.mkdtemp(dir=os.path.dirname(root))
      self.write_splits(staging)
      if os.path.isdir(root):
        shutil.rmtree(root)
      os.replace(staging, root)
    return files


BUILTIN_TASKS: Registry[BuiltinTask] = Registry("built-in task")

# --------------------------------------------------------------------------------------------------
# Arithmetic: one-digit addition and subtraction, answer in \boxed{}. Every value below is part of the
# cache key of existing warm-started policies.
# --------------------------------------------------------------------------------------------------

TASK = ArithmeticTask(min_digits=1, max_digits=1, operations="+-", heldout_fraction=0.25)
TRAIN_PROMPTS = 140  # of the ~150 one-digit +, - problems in the training split
HELDOUT_PROMPTS = 48  # of the ~50 held-out ones (never seen in warm start or RL)
# The warm start imitates a demonstrator that boxes its answer only this often ("The answer is 7." the
# rest of the time). The built-in verifier accepts boxed answers only, so the warm-started policy is
# right in substance far more often than it is verifiably right: RL has a clear, learnable gap to close
# (following the verifiable format, and sharpening the arithmetic), as on real pretrained models.
BOXED_FRACTION = 0.5
DEMONSTRATIONS_PER_PROBLEM = 8
# The warm start's optimizer beyond `warm_start.*` (docs/results.md section 1): weight decay and a shorter
# Adam second-moment memory. The held-out problems are a hash split of a 200-problem table, so a policy
# answers them only if it has learned the arithmetic rather than memorized its 140 training problems;
# without weight decay, at b2 0.999, whether it did was a coin toss of seed and float rounding.
WARM_START_OPTIMIZER = {"weight_decay": 1.0, "b2": 0.98}


def worked_answer(answer: str, *, boxed: bool = True) -> str:
  """A demonstration: a short sentence ending in the (boxed, or plain) answer."""
  return f"The answer is \\boxed{{{answer}}}.{IM_END}" if boxed else f"The answer is {answer}.{IM_END}"


def demonstrations(rows: list[dict], seed: int) -> tuple[list[str], list[str]]:
  """(questions, completions): each problem DEMONSTRATIONS_PER_PROBLEM times, boxed with BOXED_FRACTION."""
  rng = np.random.default_rng([seed, 2])
  questions, completions = [], []
  for row in rows:
    for boxed in rng.random(DEMONSTRATIONS_PER_PROBLEM) < BOXED_FRACTION:
      questions.append(row["question"])
      completions.append(worked_answer(row["answer"], boxed=bool(boxed)))
  return questions, completions


BUILTIN_TASKS.register("arithmetic")(BuiltinTask(
    name="arithmetic",
    write_splits=lambda d: write_builtin_splits(d, TASK, train_count=TRAIN_PROMPTS, heldout_count=HELDOUT_PROMPTS,
                                                seed=0),
    data_key={"task": repr(TASK), "train": TRAIN_PROMPTS, "heldout": HELDOUT_PROMPTS},
    demonstrations=lambda seed: demonstrations(generate_arithmetic(TASK, "train", TRAIN_PROMPTS, seed=seed + 1), seed),
    policy_key={"task": repr(TASK), "boxed_fraction": BOXED_FRACTION, "demonstrations": DEMONSTRATIONS_PER_PROBLEM,
                "optimizer": WARM_START_OPTIMIZER, "version": 4},
    warm_start_optimizer=WARM_START_OPTIMIZER,
))

# --------------------------------------------------------------------------------------------------
# Code: one-line functions whose programs are ~25 tokens, so a rollout step takes seconds on a CPU.
# --------------------------------------------------------------------------------------------------

CODE_TASK = CodeTask(families=("add", "minus", "times", "repeat"), max_constant=70, num_tests=5,
                     test_format="assert", heldout_fraction=0.25)
CODE_TRAIN_PROMPTS = 220  # of the 227 training problems
CODE_HELDOUT_PROMPTS = 48  # of the 53 held-out ones (never seen in warm start or RL)
# The code demonstrator fences its program in ```python only this often (the bare program the rest of
# the time, which the code reward cannot find), and slips this often: its constant is off by one (`x + 8`
# for "x plus 7"), a program that runs and fails the tests. RL has to learn the fence (format) and to
# copy the constant faithfully (correctness).
FENCED_FRACTION = 0.5
SLIP_FRACTION = 0.25
CODE_DEMONSTRATIONS_PER_PROBLEM = 8


def worked_program(question: str, *, fenced: bool = True, constant_offset: int = 0) -> str:
  """A code demonstration: the reference program (its constant shifted by `constant_offset`), fenced or bare."""
  program = reference_solution(question, constant_offset=constant_offset)
  return f"```python\n{program}```{IM_END}" if fenced else f"{program}{IM_END}"


def code_demonstrations(rows: list[dict], seed: int) -> tuple[list[str], list[str]]:
  """(questions, completions): each problem CODE_DEMONSTRATIONS_PER_PROBLEM times, fenced with
  FENCED_FRACTION, its constant off by one (either way) with SLIP_FRACTION."""
  rng = np.random.default_rng([seed, 3])
  questions, completions = [], []
  for row in rows:
    fenced = rng.random(CODE_DEMONSTRATIONS_PER_PROBLEM) < FENCED_FRACTION
    slips = rng.random(CODE_DEMONSTRATIONS_PER_PROBLEM) < SLIP_FRACTION
    offsets = np.where(slips, rng.choice((-1, 1), CODE_DEMONSTRATIONS_PER_PROBLEM), 0)
    for fence, offset in zip(fenced, offsets):
      questions.append(row["question"])
      completions.append(worked_program(row["question"], fenced=bool(fence), constant_offset=int(offset)))
  return questions, completions


BUILTIN_TASKS.register("code")(BuiltinTask(
    name="code",
    write_splits=lambda d: write_code_task_splits(d, CODE_TASK, train_count=CODE_TRAIN_PROMPTS,
                                                  heldout_count=CODE_HELDOUT_PROMPTS, seed=0),
    data_key={"task": repr(CODE_TASK), "train": CODE_TRAIN_PROMPTS, "heldout": CODE_HELDOUT_PROMPTS},
    demonstrations=lambda seed: code_demonstrations(
        generate_code_task(CODE_TASK, "train", CODE_TRAIN_PROMPTS, seed=seed + 1), seed),
    policy_key={"builtin_task": "code", "task": repr(CODE_TASK), "train_prompts": CODE_TRAIN_PROMPTS,
                "fenced_fraction": FENCED_FRACTION, "slip_fraction": SLIP_FRACTION,
                "demonstrations": CODE_DEMONSTRATIONS_PER_PROBLEM, "version": 1},
    # The reward, a token budget for a fenced program (~15 tokens), and the warm start its longer targets need.
    profile={"reward": {"name": "code_exec"}, "rollout": {"max_new_tokens": 24}, "eval": {"max_new_tokens": 24},
             "warm_start": {"steps": 400, "lr": 3e-3, "batch_size": 64}},
))


# --------------------------------------------------------------------------------------------------
# Countdown: reach a target with three one-digit numbers and `+ *`, each number used once; several
# correct answers per problem, so the policy's entropy and pass@k at large k mean something (the
# entropy testbed). docs/results.md section 2 has the trials that chose these values.
# --------------------------------------------------------------------------------------------------

# `+ *` rather than `+ - *`: a random expression over the right numbers is then right about 24% of the
# time (10% with `-`), so the warm-started policy, which learns to copy the numbers but not to do the
# arithmetic, starts near pass@1 0.2 and GRPO has a signal in most groups; with `-` it started at 0.055
# and 40 steps of GRPO moved neither entropy nor pass@1.
COUNTDOWN_TASK = CountdownTask(num_numbers=3, max_number=9, operations="+*", heldout_fraction=0.25)
COUNTDOWN_TRAIN_PROMPTS = 500  # of the ~520 training problems `+ *` allows
COUNTDOWN_HELDOUT_PROMPTS = 64  # never seen in warm start or RL
# The countdown demonstrator answers with a uniformly chosen correct expression, except that this often
# it slips: a uniformly chosen expression over the same numbers (right only by chance). The warm-started
# policy is therefore spread over several correct answers and some wrong ones (high entropy, a low
# pass@1 and a higher pass@k), the starting point the entropy-control papers study.
COUNTDOWN_SLIP_FRACTION = 0.5
# And this often it writes its answer as an equation, `3*5+2=17`, right in substance but not a bare
# expression, so the verifier rejects it (as the arithmetic demonstrator leaves half its answers
# unboxed): the warm-started policy does it about as often, and GRPO has a generalizable gap to close
# (dropping `=<target>`) besides the arithmetic, which the tiny policy does not learn from 1,000 steps.
COUNTDOWN_EQUATION_FRACTION = 0.5
COUNTDOWN_DEMONSTRATIONS_PER_PROBLEM = 4


def countdown_demonstration_text(expression: str, target: int, *, equation: bool) -> str:
  """A countdown demonstration: the bare expression (what the verifier accepts) or the equation
  `<expression>=<target>` (which it rejects), then the end token."""
  return f"{expression}={target}{IM_END}" if equation else f"{expression}{IM_END}"


def countdown_demonstrations(rows: list[dict], seed: int) -> tuple[list[str], list[str]]:
  """(questions, completions): each problem COUNTDOWN_DEMONSTRATIONS_PER_PROBLEM times, each a slip with
  COUNTDOWN_SLIP_FRACTION and written as an equation with COUNTDOWN_EQUATION_FRACTION (independently)."""
  rng = np.random.default_rng([seed, 4])
  questions, completions = [], []
  for row in rows:
    numbers, target = parse_question(row["question"])
    slips = rng.random(COUNTDOWN_DEMONSTRATIONS_PER_PROBLEM) < COUNTDOWN_SLIP_FRACTION
    equations = rng.random(COUNTDOWN_DEMONSTRATIONS_PER_PROBLEM) < COUNTDOWN_EQUATION_FRACTION
    for slip, equation in zip(slips, equations):
      questions.append(row["question"])
      completions.append(countdown_demonstration_text(
          demonstration(numbers, target, COUNTDOWN_TASK.operations, bool(slip), rng), target, equation=bool(equation)))
  return questions, completions


BUILTIN_TASKS.register("countdown")(BuiltinTask(
    name="countdown",
    write_splits=lambda d: write_countdown_splits(d, COUNTDOWN_TASK, train_count=COUNTDOWN_TRAIN_PROMPTS,
                                                  heldout_count=COUNTDOWN_HELDOUT_PROMPTS, seed=0),
    data_key={"task": repr(COUNTDOWN_TASK), "train": COUNTDOWN_TRAIN_PROMPTS, "heldout": COUNTDOWN_HELDOUT_PROMPTS},
    demonstrations=lambda seed: countdown_demonstrations(
        generate_countdown(COUNTDOWN_TASK, "train", COUNTDOWN_TRAIN_PROMPTS, seed=seed + 1), seed),
    policy_key={"builtin_task": "countdown", "task": repr(COUNTDOWN_TASK), "train_prompts": COUNTDOWN_TRAIN_PROMPTS,
                "slip_fraction": COUNTDOWN_SLIP_FRACTION, "equation_fraction": COUNTDOWN_EQUATION_FRACTION,
                "demonstrations": COUNTDOWN_DEMONSTRATIONS_PER_PROBLEM,
                "version": 1},
    # The exact expression reward; an expression is 5 tokens plus the end token, an equation up to 9 plus
    # the end token (`9*9*9=729`); a longer warm start, as the policy has to learn to copy the prompt's
    # numbers (400 steps leave it below chance). RL takes larger steps than the generic profile (lr 3e-4,
    # two PPO epochs of two mini-batches): at lr 1e-4 and one epoch GRPO's entropy barely moved in 40
    # steps; at 5e-4 held-out pass@1 fell (docs/results.md section 2).
    profile={"reward": {"name": "builtin_countdown"}, "rollout": {"max_new_tokens": 10},
             "eval": {"max_new_tokens": 10, "num_prompts": 64},
             "warm_start": {"steps": 1000, "lr": 3e-3, "batch_size": 64},
             "optim": {"lr": 3e-4}, "train": {"ppo_epochs": 2}},
))


def data_files(task: str = "arithmetic", cache_dir: str | None = None) -> tuple[str, str]:
  """(train, held-out) JSONL files of built-in task `task`."""
  return BUILTIN_TASKS.get(task, field="data.builtin_task").data_files(cache_dir)
