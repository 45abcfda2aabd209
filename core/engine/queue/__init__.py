"""The merge queue: verified patches land in order, each only on a tree its gates passed on."""

from core.engine.queue.merge import Item, MergeQueue, Plan, QueueJob, passed_trees
from core.engine.queue.window import Window

__all__ = ["Item", "MergeQueue", "Plan", "QueueJob", "Window", "passed_trees"]
