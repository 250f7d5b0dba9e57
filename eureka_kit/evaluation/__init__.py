"""Trusted evaluation: fitness and rollouts from plain policy weights (the run's final retraining is eureka_kit.final_eval)."""
