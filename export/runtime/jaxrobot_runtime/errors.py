"""The runtime's error types (kept apart so every module, backends included, can raise them)."""

from __future__ import annotations

from typing import Dict  # noqa: UP035 (runs on Python 3.8, JetPack 5)


class BundleError(ValueError):
    """The bundle is incomplete, damaged, or lacks what was asked for; or a model file cannot be run."""


class BundleIntegrityError(BundleError):
    """A bundle failed verification against its ``MANIFEST.json``: a file changed, went missing, or the
    manifest itself is missing or damaged.

    ``path``: the bundle folder; ``problems``: ``{file inside the bundle: what is wrong}`` (every problem
    found, the most fundamental first); ``file``: the first of them. The message names that file and
    what is wrong with it, on one line.
    """

    def __init__(self, path: str, problems: Dict[str, str]):  # noqa: UP006
        self.path = str(path)
        self.problems = dict(problems)
        self.file = next(iter(self.problems), "")
        others = list(self.problems)[1:]
        more = ""
        if others:
            shown = ", ".join(others[:4]) + (f" and {len(others) - 4} more" if len(others) > 4 else "")
            more = f" (also failing: {shown})"
        super().__init__(f"bundle {self.path} failed verification: {self.file}: {self.problems.get(self.file, '')}"
                         f"{more}")
