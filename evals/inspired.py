"""INSPIRED dialogues (Hayati et al., EMNLP 2020) as ReDial-style recommendation lines.

INSPIRED's ``dialog_data/*.tsv`` has one row per utterance: ``dialog_id``, ``speaker``
(RECOMMENDER / SEEKER), ``text``, ``text_with_placeholder`` (titles replaced by
``[MOVIE_TITLE_n]``) and ``movie_dict`` (``{"Title (Year)": n, ...}`` for the dialogue). The
conversion, so that ``marquee eval redial`` scores INSPIRED the same way as ReDial:

- consecutive utterances of one speaker are one turn; a dialogue that opens with the
  recommender gets an empty seeker turn first (the iEvaLM context starts with the seeker);
- titles are written back as "Title (Year)" from the placeholders, which is how the ReDial
  replay finds mentions;
- every recommender turn that names a movie becomes a line: its context is every earlier
  turn, its gold (``rec``) the movies that turn names, its ``resp`` the turn's text.
"""

from __future__ import annotations

import ast
import csv
import re
from pathlib import Path

from marquee.errors import BadInput

_PLACEHOLDER = re.compile(r"\[MOVIE_TITLE_(\d+)\]")


def _movie_names(raw: str) -> dict[int, str]:
    """``{"Title (Year)": n}`` as written in the file -> ``{n: "Title (Year)"}``."""
    try:
        value = ast.literal_eval(raw) if raw and raw.strip() else {}
    except (ValueError, SyntaxError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {int(n): str(title) for title, n in value.items() if isinstance(n, int)}


def _with_titles(row: dict[str, str], names: dict[int, str]) -> tuple[str, list[str]]:
    """The utterance with each placeholder written "Title (Year)", and the titles it names."""
    template = row.get("text_with_placeholder") or row.get("text") or ""
    named: list[str] = []

    def put(match: re.Match) -> str:
        title = names.get(int(match.group(1)))
        if title is None:
            return match.group(0)
        named.append(title)
        return title

    text = _PLACEHOLDER.sub(put, template).replace("QUOTATION_MARK", '"')
    return " ".join(text.split()), list(dict.fromkeys(named))


def read_inspired_lines(path: Path) -> tuple[list[dict], int]:
    """ReDial-style lines (``dialog_id``, ``context``, ``rec``, ``resp``) from an INSPIRED TSV file,
    and the number of rows that could not be read. Raises ``BadInput`` when the file is not INSPIRED."""
    try:
        handle = Path(path).open(encoding="utf-8", newline="")
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if not {"dialog_id", "speaker", "text"} <= set(reader.fieldnames or []):
            raise BadInput(f"{path}: not an INSPIRED dialogue file (needs dialog_id, speaker, text columns)")
        dialogues: dict[str, list[tuple[str, str, list[str]]]] = {}
        skipped = 0
        for row in reader:
            speaker = (row.get("speaker") or "").strip().upper()
            if speaker not in ("SEEKER", "RECOMMENDER") or not row.get("dialog_id"):
                skipped += 1
                continue
            text, named = _with_titles(row, _movie_names(row.get("movie_dict", "")))
            turns = dialogues.setdefault(row["dialog_id"], [])
            if turns and turns[-1][0] == speaker:
                last = turns[-1]
                turns[-1] = (speaker, f"{last[1]} {text}".strip(), list(dict.fromkeys(last[2] + named)))
            else:
                turns.append((speaker, text, named))
    lines: list[dict] = []
    for dialog_id, turns in dialogues.items():
        if turns and turns[0][0] == "RECOMMENDER":
            turns.insert(0, ("SEEKER", "", []))
        for position, (speaker, text, named) in enumerate(turns):
            if speaker == "RECOMMENDER" and named and position > 0:
                lines.append({"dialog_id": dialog_id, "turn_id": position,
                              "context": [t for _, t, _ in turns[:position]], "rec": named, "resp": text})
    return lines, skipped
