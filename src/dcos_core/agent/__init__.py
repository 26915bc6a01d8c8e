"""The dcos-core agent: registers with the master, runs tasks through a containerizer, and
delivers their status updates reliably."""
