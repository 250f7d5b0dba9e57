"""Feedback for the next prompt: reward reflection, the trajectory analyzer and the CARD trajectory check."""
