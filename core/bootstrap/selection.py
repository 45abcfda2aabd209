"""Choosing a profile for a repository: a score per profile, with the reasons behind it.

A profile's score adds the weight of each of its detection markers that a scanned file
matches (each marker counts once) and, per language, its weight times that language's share
of the code. The best score wins; confidence is its share of the two best scores (1.0 when no
other profile scores, 0.5 for a tie). When nothing scores, ``generic`` is chosen with
confidence 0.

Mixed repositories: each top-level folder with enough files is scored on its own files; a
folder whose best profile is another one than the repository's, by a clear margin, becomes an
override (``docs/**`` -> documentation).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.bootstrap.profiles import Profile
from core.engine.patches.policy import compile_glob

FALLBACK = "generic"
_FOLDER_MIN_FILES = 3  # fewer files in a top-level folder: no override for it
_FOLDER_MARGIN = 1.5  # a folder's own best must beat the primary profile there by this factor


@dataclass(frozen=True)
class Score:
    profile_id: str
    score: float
    reasons: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "profile_id": self.profile_id,
            "score": round(self.score, 3),
            "reasons": self.reasons,
        }


@dataclass(frozen=True)
class Selection:
    profile_id: str
    confidence: float
    forced: bool
    scores: list[Score]
    overrides: list[dict[str, Any]]  # [{"paths": ["docs/**"], "profile_id": ...}]
    override_reasons: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "profile_id": self.profile_id,
            "confidence": round(self.confidence, 3),
            "forced": self.forced,
            "scores": [score.document() for score in self.scores],
            "overrides": self.overrides,
        }


def score(
    profile: Profile,
    paths: Sequence[str],
    shares: Mapping[str, float],
) -> Score:
    detection = profile.document.get("detection", {})
    total = 0.0
    reasons: list[str] = []
    for marker in detection.get("markers", []):
        pattern = compile_glob(marker["glob"])
        hit = next((path for path in paths if pattern.match(path)), None)
        if hit is not None:
            total += float(marker["weight"])
            why = marker.get("reason") or marker["glob"]
            reasons.append(f"{why}: {hit} (+{marker['weight']:g})")
    for language, weight in detection.get("languages", {}).items():
        share = shares.get(language, 0.0)
        if share > 0:
            total += float(weight) * share
            reasons.append(f"{language} {share:.0%} of the code (+{float(weight) * share:.2f})")
    return Score(profile.id, total, reasons)


def select(
    profiles: Mapping[str, Profile],
    paths: Sequence[str],
    shares: Mapping[str, float],
    language_of: Callable[[str], str | None],
    sizes: Mapping[str, int] | None = None,
    forced: str | None = None,
) -> Selection:
    scores = sorted(
        (score(profile, paths, shares) for profile in profiles.values()),
        key=lambda s: (-s.score, s.profile_id),
    )
    if forced is not None:
        best = forced
        confidence = 1.0
    elif not scores or scores[0].score <= 0:
        best, confidence = FALLBACK, 0.0
    else:
        best = scores[0].profile_id
        runner_up = scores[1].score if len(scores) > 1 else 0.0
        confidence = scores[0].score / (scores[0].score + max(runner_up, 0.0))
    overrides, why = _overrides(profiles, best, paths, language_of, sizes or {})
    return Selection(best, confidence, forced is not None, scores, overrides, why)


def _overrides(
    profiles: Mapping[str, Profile],
    primary: str,
    paths: Sequence[str],
    language_of: Callable[[str], str | None],
    sizes: Mapping[str, int],
) -> tuple[list[dict[str, Any]], list[str]]:
    folders: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        head, sep, rest = path.partition("/")
        if sep:
            folders[head].append(rest)
    overrides: list[dict[str, Any]] = []
    reasons: list[str] = []
    for folder, inside in sorted(folders.items()):
        if len(inside) < _FOLDER_MIN_FILES or folder.startswith("."):
            continue
        shares = language_shares(
            inside, language_of, {p: sizes.get(f"{folder}/{p}", 1) for p in inside}
        )
        ranked = sorted(
            (score(profile, inside, shares) for profile in profiles.values()),
            key=lambda s: (-s.score, s.profile_id),
        )
        own = ranked[0]
        primary_there = next((s.score for s in ranked if s.profile_id == primary), 0.0)
        if (
            own.profile_id != primary
            and own.score > 0
            and own.score >= _FOLDER_MARGIN * primary_there
        ):
            overrides.append({"paths": [f"{folder}/**"], "profile_id": own.profile_id})
            reasons.append(f"{folder}/**: {own.profile_id} ({'; '.join(own.reasons[:3])})")
    return overrides, reasons


def language_shares(
    paths: Sequence[str], language_of: Callable[[str], str | None], sizes: Mapping[str, int]
) -> dict[str, float]:
    """Each language's share of the bytes of the files that have one."""
    counted: Counter[str] = Counter()
    for path in paths:
        language = language_of(path)
        if language is not None:
            counted[language] += max(sizes.get(path, 1), 1)
    total = sum(counted.values())
    return {language: size / total for language, size in counted.items()} if total else {}
