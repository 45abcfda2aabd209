"""Watching runs: progress with ETA, and following the event log as it grows."""

from core.engine.monitoring.follow import follow_events
from core.engine.monitoring.progress import Progress, measure

__all__ = ["Progress", "follow_events", "measure"]
