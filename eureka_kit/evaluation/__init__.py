"""Trusted evaluation: fitness from plain policy weights, and the final retraining evaluation of a run."""
