"""GLOSSARY.md is one alphabetical English ↔ 中文 table that holds the terms the notebooks use."""
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CELL = re.compile(r"(?<!\\)\|")                      # a column separator (not an escaped \| inside maths)

# Terms students looked for and did not find (issue 13), as the glossary names them.
LOOKED_FOR = ["bootstrapping", "Goodhart's law", "effective sample size", "nat", "logits", "headway / time gap",
              "jerk", "Boltzmann-rational labeler", "PPO-ptx", "alignment tax", "rejection sampling", "RLAIF",
              "λ-return", "temperature", "ceiling"]
# Technical words of the notebooks' prose (lower case, as they appear there) and the glossary entry for each.
USED_IN_PROSE = {"bootstrap": "bootstrapping", "goodhart": "Goodhart's law", "effective sample size": "effective sample size",
                 "nats": "nat", "logits": "logits", "time gap": "headway / time gap", "jerk": "jerk",
                 "boltzmann-rational": "Boltzmann-rational labeler", "ppo-ptx": "PPO-ptx", "alignment tax": "alignment tax",
                 "rejection sampling": "rejection sampling", "rlaif": "RLAIF", "temperature": "temperature",
                 "ceiling": "ceiling", "win rate": "win rate", "implicit reward": "implicit reward",
                 "clip fraction": "clip fraction", "explained variance": "explained variance", "best-of-n": "best-of-n",
                 "label smoothing": "label smoothing", "padding": "padding mask", "held-out": "held-out set",
                 "partition": "partition function", "sparse reward": "sparse / dense reward", "trust region": "trust region",
                 "importance sampling": "importance sampling", "catastrophic forgetting": "catastrophic forgetting",
                 "behaviour cloning": "behaviour cloning", "inverse rl": "inverse reinforcement learning",
                 "maddpg": "MADDPG", "lora": "LoRA", "gradient accumulation": "gradient accumulation"}


def glossary_rows():
    """The rows of the main (first) table; later tables hold the terms of one notebook each."""
    text = (ROOT / "GLOSSARY.md").read_text()
    table = text[text.index("| English | 中文 |"):].split("\n\n")[0]
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in CELL.split(line)[1:-1]] for line in lines[1:]]


def sort_key(english):
    return re.sub(r"[^a-z0-9]", "", english.lower().replace("ε", "epsilon").replace("λ", "lambda"))


def prose():
    text = []
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        text += [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"]
    return "\n".join(text).lower()


def test_every_row_has_four_filled_columns_and_rows_are_alphabetical_without_duplicates():
    rows = glossary_rows()
    assert all(len(row) == 4 and all(row) for row in rows), [row for row in rows if len(row) != 4 or not all(row)]
    keys = [sort_key(row[0]) for row in rows]
    assert keys == sorted(keys), "keep GLOSSARY.md in alphabetical order"
    assert len(keys) == len(set(keys)), "a term appears twice"


def test_terms_students_looked_for_are_there():
    english = {row[0] for row in glossary_rows()}
    missing = [term for term in LOOKED_FOR if not any(entry == term or entry.startswith(term + " ") for entry in english)]
    assert not missing, f"add to GLOSSARY.md: {missing}"


def test_technical_words_of_the_prose_have_an_entry():
    text, english = prose(), [row[0] for row in glossary_rows()]
    for word, entry in USED_IN_PROSE.items():
        assert word in text, f"{word!r} no longer appears in the notebooks: update this list"
        assert any(name.startswith(entry) for name in english), f"{word!r} is used in the notebooks but {entry!r} is not in GLOSSARY.md"
