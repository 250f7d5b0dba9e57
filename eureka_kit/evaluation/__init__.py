"""Trusted evaluation: fitness and rollouts from plain policy weights (final retraining: ``eureka_kit.final_eval``)."""
