"""Prompt templates: how a dataset question becomes the text the policy is conditioned on.

"qwen_math" writes the Qwen2.5-Math chat format with explicit `<|im_start|>` strings rather than through
a tokenizer's chat template, so the exact prompt the published runs used is produced with any tokenizer
(base-model tokenizers often ship no template, or one that injects a different default system message).
"qwen_code" is the same chat format for code tasks, whose answer is a program, not a `\\boxed{}` value.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, Union

from rlvr_jax._registry import Registry

# A question is plain text, or a list of chat messages ({"role", "content"}) as in verl parquet files.
Question = Union[str, Sequence[dict]]
PromptTemplate = Callable[[Question, Any], str]  # (question, tokenizer) -> prompt text

TEMPLATES: Registry[PromptTemplate] = Registry("prompt template")

QWEN_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
# Where the program goes is the question's to say (every code row ends with CODE_INSTRUCTION), so the
# system message only sets the role; it must not ask for \boxed{}, which a code grader ignores.
QWEN_CODE_SYSTEM = "You are an expert Python programmer."
CODE_INSTRUCTION = "Put your solution in a ```python code block."


def code_question(problem: str) -> str:
  """The prompt text of a code problem: the problem, then where the answer goes (what extraction reads).
  Every code source (the built-in task, HumanEval, MBPP, LiveCodeBench) asks for the same block."""
  return f"{problem.rstrip()}\n\n{CODE_INSTRUCTION}"


def question_text(question: Question) -> str:
  """The text of a question; for a message list, the content of the last user message."""
  if isinstance(question, str):
    return question
  for message in reversed(list(question)):
    if message.get("role") == "user":
      return str(message["content"])
  raise ValueError(f"chat-message question has no 'user' message: {question!r}")


def as_messages(question: Question) -> list[dict]:
  if isinstance(question, str):
    return [{"role": "user", "content": question}]
  return [dict(m) for m in question]


@TEMPLATES.register("qwen_math")
def qwen_math(question: Question, tokenizer: Any = None) -> str:
  """Qwen2.5-Math chat prompt: boxed-answer system message, the question, an open assistant turn."""
  del tokenizer
  return (f"<|im_start|>system\n{QWEN_MATH_SYSTEM}<|im_end|>\n"
          f"<|im_start|>user\n{question_text(question)}<|im_end|>\n"
          f"<|im_start|>assistant\n")


@TEMPLATES.register("qwen_code")
def qwen_code(question: Question, tokenizer: Any = None) -> str:
  """Qwen chat prompt for code: a programmer system message, the question, an open assistant turn."""
  del tokenizer
  return (f"<|im_start|>system\n{QWEN_CODE_SYSTEM}<|im_end|>\n"
          f"<|im_start|>user\n{question_text(question)}<|im_end|>\n"
          f"<|im_start|>assistant\n")


@TEMPLATES.register("raw")
def raw(question: Question, tokenizer: Any = None) -> str:
  """The question as is (base-model continuation prompts, or datasets that already hold full prompts)."""
  del tokenizer
  return question_text(question)


@TEMPLATES.register("chat_template")
def chat_template(question: Question, tokenizer: Any) -> str:
  """The tokenizer's own chat template with an open assistant turn (instruct models)."""
  if getattr(tokenizer, "chat_template", None) is None:
    raise ValueError("data.template='chat_template' but the tokenizer has no chat template; "
                     "use 'qwen_math' or 'raw'")
  return tokenizer.apply_chat_template(as_messages(question), tokenize=False, add_generation_prompt=True)


def render_prompt(template: str, question: Question, tokenizer: Any) -> str:
  return TEMPLATES.get(template, field="data.template")(question, tokenizer)
