"""Domain values shared by the master, the agents and the frameworks (pure, no I/O)."""
