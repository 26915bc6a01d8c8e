"""The master: registry of agents and frameworks, offers, task lifecycle, and its HTTP APIs."""
