"""Marathon: a long-running service scheduler speaking Marathon 1.x's REST API v2."""
