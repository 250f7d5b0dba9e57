"""Preferences (ICPL): policy videos, rankers (a person on the ranking page, synthetic) and ranking files."""
