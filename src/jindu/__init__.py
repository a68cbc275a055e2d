"""Jindu (禁毒): integrated drug-control governance platform."""

__version__ = "0.1.0"
