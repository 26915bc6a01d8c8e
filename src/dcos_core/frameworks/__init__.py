"""Frameworks: the scheduler SDK (`frameworks.sdk`) and, on top of it, Marathon and Chronos.

Frameworks talk to the master only over the v1 scheduler HTTP API; they never import the master,
agent, allocator, containerizer or state packages (an import-linter contract checks this).
"""
