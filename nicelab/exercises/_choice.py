"""The multiple-choice checker of the course: a letter, with a diagnosis for each wrong option.

Used by every "predict, then run" question (lessons 00-07): the learner answers with a letter before the
cell that shows the result, and hears at once why a wrong option is wrong. This module is the one place
that parses the letter, says right or wrong and gives the diagnosis; ``lesson01.choice`` and
``lesson05.multiple_choice`` are thin wrappers over :func:`choice`.

Accepted spellings of option ``b``: ``"b"``, ``"B"``, ``"(b)"``, ``" b) "``. Feedback:

* right: ``None``;
* a wrong option: ``"(b) <option text>: <diagnosis>"`` (``"(b): <diagnosis>"`` when the option texts live
  only in the prompt);
* anything else: ``answer with one letter, as a string: "a", "b" or "c" (got ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: what a wrong option without its own diagnosis hears
FALLBACK_DIAGNOSIS = "that is not it; think it through once more"


def _letter(value: Any) -> str | None:
    """``value`` as a lower-case option letter, or ``None`` if it is not a one-letter string."""
    if not isinstance(value, str):
        return None
    letter = value.strip().strip("()").strip().lower()
    return letter if len(letter) == 1 and letter.isalpha() else None


def render_options(options: Mapping[str, str], *, inline: bool = False) -> str:
    """The options as a prompt lists them, sorted by letter: ``"(a) text"``, one per line (indented by two
    spaces) or, with ``inline``, on one line separated by spaces."""
    items = [f"({letter}) {text}" for letter, text in sorted(options.items())]
    return " ".join(items) if inline else "\n".join(f"  {item}" for item in items)


def _letters_hint(letters: list[str]) -> str:
    """``'"a", "b" or "c"'``: the valid answers, spelled as the learner should type them."""
    quoted = [f'"{letter}"' for letter in letters]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


@dataclass(frozen=True)
class Choice:
    """A checker for one letter: ``checker(answer) -> None`` if right, else the feedback message.

    Build it with :func:`choice`. ``options`` maps each letter to its text (``""`` where the prompt alone
    shows it); ``diagnoses`` maps wrong letters to why they are wrong (a wrong letter without one hears
    :data:`FALLBACK_DIAGNOSIS`). Invariant (checked by :func:`choice`): ``answer`` is a key of ``options``,
    and no diagnosis is keyed by ``answer`` or by a letter that is not an option.
    """

    answer: str
    options: Mapping[str, str]
    diagnoses: Mapping[str, str]

    def __call__(self, answer: Any) -> str | None:
        letter = _letter(answer)
        if letter is None or letter not in self.options:
            hint = _letters_hint(sorted(self.options))
            return f"answer with one letter, as a string: {hint} (got {answer!r})"
        if letter == self.answer:
            return None
        text = self.options[letter]
        label = f"({letter}) {text}" if text else f"({letter})"
        return f"{label}: {self.diagnoses.get(letter, FALLBACK_DIAGNOSIS)}"

    def render(self) -> str:
        """The options, one per line, as the prompt shows them."""
        return render_options(self.options)


def choice(answer: str, options: Mapping[str, str], diagnoses: Mapping[str, str] | None = None) -> Choice:
    """A multiple-choice checker whose right option is ``answer``.

    Args:
        answer: the right letter; must be a key of ``options``.
        options: letter -> option text; at least two single lower-case letters. A text may be ``""`` when
            the prompt states the options itself (the feedback then names only the letter).
        diagnoses: wrong letter -> what that choice misses; keys must be wrong options.

    Raises:
        ValueError: an option key that is not a single lower-case letter, ``answer`` not among them, a
            diagnosis for the right option or for a letter that is no option, or fewer than two options.
    """
    diagnoses = dict(diagnoses or {})
    if any(_letter(key) != key for key in options):
        raise ValueError(f"options must be keyed by single lower-case letters, got {list(options)}")
    if answer not in options:
        raise ValueError(f"answer must be one of the option letters {sorted(options)}, got {answer!r}")
    stray = set(diagnoses) - (set(options) - {answer})
    if stray:
        raise ValueError(
            f"diagnoses must be for wrong options only (the right option {answer!r} must not have one, and "
            f"each must be an option), got {sorted(stray)}"
        )
    if len(options) < 2:
        raise ValueError(f"options must hold at least two letters, got {list(options)}")
    return Choice(answer, dict(options), diagnoses)


__all__ = ["FALLBACK_DIAGNOSIS", "Choice", "choice", "render_options"]
