"""Containerizers: run a task's command in an isolated container and report how it ended.

`base.Containerizer` is the seam; `registry.create_containerizer(name)` picks an implementation
(`posix`: one process group per task; `simulated`: bookkeeping only, for scale tests).
"""
