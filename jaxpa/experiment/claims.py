"""Claims: a verdict on a statement, with the numbers behind it (MODEL.md: the paper's claims are
hypotheses the engine must be able to confirm or refute)."""
from __future__ import annotations

import dataclasses

VERDICTS = ("supported", "not supported", "inconclusive")


@dataclasses.dataclass(frozen=True)
class Claim:
    """name and statement; verdict (one of VERDICTS); evidence: one sentence a reader can check
    against the numbers printed beside it; agree/total and ci: the fraction of instance draws
    whose own verdict agrees, with its 95% CI (None when judged on one instance)."""

    name: str
    statement: str
    verdict: str
    evidence: str
    agree: int | None = None
    total: int | None = None
    ci: tuple | None = None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.name}: verdict {self.verdict!r} not in {VERDICTS}")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)
