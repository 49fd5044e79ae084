"""Parsing model-written answers into sympy without running them as Python.

The reference graders call `sympy.parse_expr` (and, for pi, plain `eval`) on text the policy model wrote.
`parse_expr` is `eval` over sympy's namespace plus every builtin function, so an "answer" such as
`__import__('os').system(...)` would run in the verifier process (verl-project/verl#5331). These helpers
keep the references' parsing (same transformations, same sympy names) and refuse what no math answer
contains: string literals (sympy re-parses a string argument with its default, unsafe namespace, so
`f("open('x','w')")` would run), attribute access (`(1).real`, `x.name`), double-underscore names, and
the builtins that run code or make strings (`eval`, `open`, `__import__`, `chr`, `repr`, ...). A refused
answer fails to parse, as unparseable text does in the references; no real answer changes verdict.

This blocks direct payloads; it is not a sandbox (the verifier workers are ordinary processes), so
adversarially chained sympy printers could still build a string in principle.
"""

from __future__ import annotations

import ast
import builtins
import io
import operator
import tokenize
import types
from typing import Any

import sympy
from sympy.parsing import sympy_parser

_DANGEROUS_BUILTINS = frozenset({
    "__import__", "__build_class__", "eval", "exec", "compile", "open", "input", "breakpoint", "globals",
    "locals", "vars", "getattr", "setattr", "delattr", "help", "exit", "quit", "memoryview",
    "chr", "repr", "ascii", "format", "hex", "oct", "bin",
})


def _namespace() -> dict[str, Any]:
  """sympy's own default `parse_expr` namespace (sympy names, builtin functions, Max/Min as max/min)
  without the dangerous builtins, and with no `__builtins__` for `eval` to fall back to."""
  namespace: dict[str, Any] = {}
  exec("from sympy import *", namespace)  # noqa: S102 -- a fixed, trusted statement
  for name, value in vars(builtins).items():
    if isinstance(value, types.BuiltinFunctionType) and name not in _DANGEROUS_BUILTINS:
      namespace[name] = value
  namespace["max"], namespace["min"] = sympy.Max, sympy.Min
  namespace["__builtins__"] = {}
  return namespace


_NAMESPACE = _namespace()


def _refusal(text: str) -> str | None:
  """Why `text` may not be evaluated (None: it may), judged on the tokens sympy itself would read."""
  if "__" in text:
    return "a double underscore"
  try:
    tokens = list(tokenize.generate_tokens(io.StringIO(text.strip()).readline))  # as sympy reads it
  except (tokenize.TokenError, SyntaxError) as e:
    return f"it does not tokenize ({e})"
  for token in tokens:
    if token.type == tokenize.STRING:
      return "a string literal"
    if token.type == tokenize.OP and token.string in (".", "..."):
      return "attribute access"
  return None


def parse_expr(text: str, transformations=sympy_parser.standard_transformations) -> Any:
  """`sympy.parse_expr(text, transformations=...)` with the default namespace made safe (see module doc).

  Raises ValueError for text with string literals, attribute access or "__" (no math answer has them).
  """
  reason = _refusal(text)
  if reason is not None:
    raise ValueError(f"refusing to evaluate {text[:80]!r}: {reason}")
  return sympy_parser.parse_expr(text, global_dict=dict(_NAMESPACE), transformations=transformations)


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def eval_arithmetic(text: str) -> Any:
  """`eval(text)` for numeric literals joined by + - * / // % ** and parentheses, and tuples, lists and
  sets of such, with Python's own semantics (int/float results, ZeroDivisionError); anything else
  (names, calls, attributes) raises ValueError instead of running."""

  def value(node: ast.AST):
    if isinstance(node, ast.Expression):
      return value(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, complex):
      return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
      return _BINARY[type(node.op)](value(node.left), value(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
      return _UNARY[type(node.op)](value(node.operand))
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
      return {ast.Tuple: tuple, ast.List: list, ast.Set: set}[type(node)](value(e) for e in node.elts)
    raise ValueError(f"not plain arithmetic: {ast.dump(node)[:80]}")

  return value(ast.parse(text.strip(), mode="eval"))
