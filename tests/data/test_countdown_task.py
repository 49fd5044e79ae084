"""The countdown task: generator (exact, deterministic by seed, disjoint splits), verifier (exact, hand-checked
cases, malformed input), demonstrator (correct unless it slips) and its reward."""

import itertools

import numpy as np
import pytest

from rlvr_jax.embedded import _tasks as tasks
from rlvr_jax.embedded._countdown import (CountdownTask, all_expressions, answer_key, check_expression,
                                         demonstration, evaluate, generate_countdown, parse_answer_key,
                                         parse_question, question, solutions)
from rlvr_jax.rewards import RewardConfig, build_reward

SMALL = CountdownTask(num_numbers=3, max_number=5, operations="+-*", heldout_fraction=0.3)


def test_generator_is_deterministic_by_seed_and_exact():
  a = generate_countdown(SMALL, "train", 40, seed=3)
  assert a == generate_countdown(SMALL, "train", 40, seed=3)
  assert a != generate_countdown(SMALL, "train", 40, seed=4)
  assert len({r["question"] for r in a}) == 40
  for row in a:
    numbers, target = parse_question(row["question"])
    assert row["answer"] == answer_key(numbers, target)
    assert list(numbers) == sorted(numbers) and all(1 <= n <= 5 for n in numbers) and target >= 0
    assert solutions(numbers, target, "+-*"), row  # the target is reachable


def test_splits_never_share_a_problem():
  train = {r["question"] for r in generate_countdown(SMALL, "train", 60, seed=0)}
  heldout = {r["question"] for r in generate_countdown(SMALL, "heldout", 30, seed=0)}
  assert train and heldout and not train & heldout


@pytest.mark.parametrize("text, expected", [
    ("3*5-2", (13, (2, 3, 5))), ("2+3*5", (17, (2, 3, 5))), ("(2+3)*5", (25, (2, 3, 5))),
    (" 5 - 3 - 2 ", (0, (2, 3, 5))), ("9-8*2", (-7, (2, 8, 9))), ("12+3", (15, (3, 12))),
])
def test_evaluate_hand_computed(text, expected):
  assert evaluate(text) == expected


@pytest.mark.parametrize("text", ["", "3*", "-2+5", "3 5", "(3+5", "3+5)", "3/5", "3+x", "2**3", "()", "3.5+1"])
def test_evaluate_rejects_malformed(text):
  assert evaluate(text) is None


@pytest.mark.parametrize("completion, correct", [
    ("3*5-2", True), ("5*3-2", True), ("-2+3*5", False),  # unary minus is not an expression here
    ("3*5-2 ", True), ("3*5+2", False),  # wrong value
    ("3*5-2+0", False), ("15-2", False), ("3*5-3", False),  # numbers not exactly {2, 3, 5}
    ("(5-2)*3+4", False), ("The answer is 3*5-2", False),
])
def test_verifier_hand_checked(completion, correct):
  ok, extracted = check_expression(completion, "13:2,3,5")
  assert ok is correct
  assert (extracted is None) == (evaluate(completion.strip()) is None)


def test_verifier_agrees_with_brute_force_numpy_evaluation():
  """Every parenthesis-free expression over (2, 3, 5) checked against Python's own integer arithmetic."""
  for order in itertools.permutations((2, 3, 5)):
    for ops in itertools.product("+-*", repeat=2):
      text = f"{order[0]}{ops[0]}{order[1]}{ops[1]}{order[2]}"
      value = int(np.round(eval(text)))  # noqa: S307  (test oracle over generated digits and operators)
      assert evaluate(text) == (value, (2, 3, 5))
      assert check_expression(text, f"{value}:2,3,5") == (True, text)
      assert check_expression(text, f"{value + 1}:2,3,5") == (False, text)


def test_answer_key_round_trip_and_bad_keys():
  assert parse_answer_key(answer_key((5, 2, 3), 13)) == (13, (2, 3, 5))
  with pytest.raises(ValueError, match="countdown answer"):
    parse_answer_key("13")
  with pytest.raises(ValueError, match="not a countdown question"):
    parse_question("Compute 3+4.")
  assert question((5, 2, 3), 13) == "Use 2 3 5 to make 13."


def test_task_knobs_are_checked():
  with pytest.raises(ValueError, match="num_numbers"):
    CountdownTask(num_numbers=1)
  with pytest.raises(ValueError, match="operations"):
    CountdownTask(operations="+/")


def test_demonstrator_is_right_unless_it_slips_and_spreads_over_solutions():
  rng = np.random.default_rng(0)
  numbers, target = (2, 3, 5), 13
  right = [demonstration(numbers, target, "+-*", False, rng) for _ in range(200)]
  assert all(check_expression(e, "13:2,3,5")[0] for e in right)
  assert set(right) == set(solutions(numbers, target, "+-*"))  # several correct answers, all used
  slips = [demonstration(numbers, target, "+-*", True, rng) for _ in range(300)]
  assert set(slips) <= set(all_expressions(numbers, "+-*")) and len(set(slips)) > 20


def test_registered_task_demonstrations_and_reward():
  rows = generate_countdown(tasks.COUNTDOWN_TASK, "train", 500, seed=1)
  questions, completions = tasks.countdown_demonstrations(rows, seed=0)
  assert len(questions) == 500 * tasks.COUNTDOWN_DEMONSTRATIONS_PER_PROBLEM
  assert questions == tasks.countdown_demonstrations(rows, seed=0)[0]
  answers = {r["question"]: r["answer"] for r in rows}
  correct = [check_expression(c.removesuffix("<|im_end|>"), answers[q])[0] for q, c in zip(questions, completions)]
  # A demonstration is verifiably right unless it slips or is written as an equation (independent
  # draws); a slip is right with the problem's share of correct expressions among all of them
  # (hand-derived expectation; 2,000 draws: 3 standard errors ~0.03).
  ops = tasks.COUNTDOWN_TASK.operations
  chance = np.mean([len(solutions(*parse_question(r["question"]), ops)) /
                    len(all_expressions(parse_question(r["question"])[0], ops)) for r in rows])
  slip, equation = tasks.COUNTDOWN_SLIP_FRACTION, tasks.COUNTDOWN_EQUATION_FRACTION
  assert abs(np.mean(correct) - (1 - equation) * (1 - slip + slip * chance)) < 0.035
  equations = [c.removesuffix("<|im_end|>").partition("=") for c in completions]
  assert abs(np.mean([bool(eq) for _, eq, _ in equations]) - equation) < 0.035
  for q, (expression, eq, target) in zip(questions, equations):  # an equation states the true target
    assert not eq or int(target) == parse_question(q)[1]
  reward = build_reward("builtin_countdown", RewardConfig(correct=1.0, incorrect=-1.0))
  result = reward(["3*5-2", "3*5+2", "oops", ""], ["13:2,3,5"] * 4)
  assert result.correct.tolist() == [True, False, False, False]
  assert result.scores.tolist() == [1.0, -1.0, -1.0, -1.0]
  assert result.extracted == ("3*5-2", "3*5+2", None, None)
  assert result.metrics["no_answer"] == 2


def test_registered_splits_have_their_sizes_and_never_overlap():
  """The registered task's problem space holds the configured split sizes (`+ *` over 1..9 allows
  only ~520 training problems), and the splits are disjoint."""
  task = tasks.COUNTDOWN_TASK
  train = generate_countdown(task, "train", tasks.COUNTDOWN_TRAIN_PROMPTS, seed=0)
  heldout = generate_countdown(task, "heldout", tasks.COUNTDOWN_HELDOUT_PROMPTS, seed=0)
  assert len({r["question"] for r in train}) == tasks.COUNTDOWN_TRAIN_PROMPTS
  assert len({r["question"] for r in heldout}) == tasks.COUNTDOWN_HELDOUT_PROMPTS
  assert not {r["question"] for r in train} & {r["question"] for r in heldout}
  for row in train[:50] + heldout[:50]:
    numbers, target = parse_question(row["question"])
    first = solutions(numbers, target, task.operations)[0]  # the target is reachable
    assert check_expression(first, row["answer"]) == (True, first)


def test_equation_demonstration_is_rejected_and_the_expression_accepted():
  assert tasks.countdown_demonstration_text("3*5+2", 17, equation=False) == "3*5+2<|im_end|>"
  assert tasks.countdown_demonstration_text("3*5+2", 17, equation=True) == "3*5+2=17<|im_end|>"
  assert check_expression("3*5+2", "17:2,3,5") == (True, "3*5+2")
  assert check_expression("3*5+2=17", "17:2,3,5") == (False, None)
