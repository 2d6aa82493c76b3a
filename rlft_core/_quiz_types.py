"""The record of one multiple-choice question (shared by the question modules and rlft_core.quiz)."""
from __future__ import annotations

from typing import NamedTuple


class Question(NamedTuple):
    text: str
    options: tuple[str, ...]
    answer: int               # index into options
    explanation: str
