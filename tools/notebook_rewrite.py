"""The loop the authoring scripts share: rewrite every notebook of solutions/ through a function,
or only report (``--check``) which ones would change."""
from __future__ import annotations

from pathlib import Path

import nbformat


def rewrite_notebooks(solutions_dir: Path, transform, check: bool, up_to_date: str) -> int:
    """``transform(notebook, path) -> notebook`` for each ``solutions_dir/*.ipynb``; write the changed ones
    unless ``check``. Prints what changed; returns 1 when ``check`` finds a notebook to change, else 0."""
    changed = []
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        before = path.read_text()
        after = nbformat.writes(transform(nbformat.read(path, as_version=4), path)) + "\n"
        if after != before:
            changed.append(path.name)
            if not check:
                path.write_text(after)
    verb = "would change" if check else "updated"
    print(f"{verb}: {', '.join(changed)}" if changed else up_to_date)
    return 1 if check and changed else 0
