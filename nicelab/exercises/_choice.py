"""Checkers for multiple-choice answers: a letter, with a diagnosis for each wrong option.

Used by the "predict, then run" questions: the learner answers with a letter before the cell that shows the
result, and hears at once why a wrong option is wrong. Accepted spellings of option ``b``: ``"b"``, ``"B"``,
``"(b)"``, ``" b) "``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def _letter(value: Any) -> str | None:
    """``value`` as a lower-case option letter, or ``None`` if it is not a one-letter string."""
    if not isinstance(value, str):
        return None
    letter = value.strip().strip("()").strip().lower()
    return letter if len(letter) == 1 and letter.isalpha() else None


@dataclass(frozen=True)
class Choice:
    """A checker for one letter: ``checker(answer) -> None`` if right, else the feedback message.

    Build it with :func:`choice`. ``options`` maps each letter to its text; ``diagnoses`` maps wrong
    letters to why they are wrong (a wrong letter without one hears only that it is not right).
    """

    answer: str
    options: Mapping[str, str]
    diagnoses: Mapping[str, str]

    def __call__(self, answer: Any) -> str | None:
        letter = _letter(answer)
        if letter is None or letter not in self.options:
            return f"answer with one letter: {', '.join(sorted(self.options))} (got {answer!r})"
        if letter == self.answer:
            return None
        why = self.diagnoses.get(letter, "that is not it; think it through once more")
        return f"({letter}) {self.options[letter]}: {why}"

    def render(self) -> str:
        """The options, one per line, as the prompt shows them."""
        return "\n".join(f"  ({letter}) {text}" for letter, text in sorted(self.options.items()))


def choice(answer: str, options: Mapping[str, str], diagnoses: Mapping[str, str] | None = None) -> Choice:
    """A multiple-choice checker whose right option is ``answer``.

    Args:
        answer: the right letter; must be a key of ``options``.
        options: letter -> option text; at least two single lower-case letters.
        diagnoses: wrong letter -> what that choice misses; keys must be wrong options.
    """
    diagnoses = dict(diagnoses or {})
    if len(options) < 2 or any(_letter(key) != key for key in options):
        raise ValueError(f"options must map at least two lower-case letters to texts, got {list(options)}")
    if answer not in options:
        raise ValueError(f"answer must be one of the option letters {sorted(options)}, got {answer!r}")
    stray = set(diagnoses) - (set(options) - {answer})
    if stray:
        raise ValueError(f"diagnoses must be for wrong options only, got {sorted(stray)}")
    return Choice(answer, dict(options), diagnoses)


__all__ = ["Choice", "choice"]
