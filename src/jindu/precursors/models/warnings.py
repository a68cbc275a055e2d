"""Diversion warnings (预警): the rule catalogue's findings and their lifecycle."""
