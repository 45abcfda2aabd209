"""How many queued patches the merge queue gates at once.

Adaptive by default, the way Zuul's dependent pipelines size theirs: start wide, grow by one
for each patch that lands, halve when a patch fails on its combination (never below one). A
window of one is serial re-gating: each patch is gated on the integration head only after the
patch ahead of it has landed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ADAPTIVE_START = 20
ADAPTIVE_FLOOR = 1


@dataclass(slots=True)
class Window:
    size: int
    adaptive: bool = True
    floor: int = ADAPTIVE_FLOOR

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Window:
        """``{"window": N}`` is a fixed window of N; absent or ``"adaptive"``, the adaptive
        one."""
        value = (config or {}).get("window", "adaptive")
        if value == "adaptive":
            return cls(ADAPTIVE_START)
        return cls(int(value), adaptive=False)

    def landed(self) -> None:
        if self.adaptive:
            self.size += 1

    def failed(self) -> None:
        if self.adaptive:
            self.size = max(self.floor, self.size // 2)

    def document(self) -> dict[str, Any]:
        return {"size": self.size, "adaptive": self.adaptive}
