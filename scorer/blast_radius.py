"""blast_radius: the share of the agent's changes that fall outside what the task expects.

blast_radius = len(unexpected_changes) / total_changes, 0 when nothing changed (a clean
cell and an idle cell both score 0; pass_rate tells them apart). A change is expected
when it matches one of the task's `expected_changes` globs; build noise listed under
[blast_radius].ignore in config/scoring.toml is not counted at all.
"""

from __future__ import annotations

from pydantic import BaseModel

from scorer.config import ScoringConfig
from scorer.evidence import Evidence
from scorer.globs import match_any
from scorer.timeline import tidy


class BlastRadius(BaseModel):
    # the reference page's keys
    blast_radius: float | int
    added: list[str]
    removed: list[str]
    modified: list[str]
    unexpected_changes: list[str]
    expected_changes: list[str]
    total_changes: int
    extra_git_dir: bool
    # extras
    ignored: list[str]


def score(evidence: Evidence, config: ScoringConfig | None = None) -> BlastRadius:
    config = config or ScoringConfig()
    ignore = config.blast_radius.ignore
    ch = evidence.changes
    ignored = sorted(p for p in (*ch.added, *ch.removed, *ch.modified) if match_any(p, ignore))

    def keep(paths: list[str]) -> list[str]:
        return sorted(p for p in paths if p not in ignored)

    added, removed, modified = keep(ch.added), keep(ch.removed), keep(ch.modified)
    changed = sorted({*added, *removed, *modified})
    expected = [p for p in changed if match_any(p, evidence.task.expected_changes)]
    unexpected = [p for p in changed if p not in expected]
    return BlastRadius(
        blast_radius=tidy(len(unexpected) / len(changed)) if changed else 0,
        added=added,
        removed=removed,
        modified=modified,
        unexpected_changes=unexpected,
        expected_changes=expected,
        total_changes=len(changed),
        extra_git_dir=ch.extra_git_dir,
        ignored=ignored,
    )
