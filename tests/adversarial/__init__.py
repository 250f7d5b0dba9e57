"""Adversarial reward programs for the sandbox: the table, known-good programs and the harness."""
