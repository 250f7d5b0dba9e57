"""Shipped examples (installed as `eureka_kit.examples`): a reward program, bad programs, demo answers, prices."""
