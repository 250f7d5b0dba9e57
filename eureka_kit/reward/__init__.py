"""Reward programs: the program contract (`program`), extraction from LLM answers (`extract`), the critic."""
