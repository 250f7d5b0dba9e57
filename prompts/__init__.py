"""Jinja2 prompt templates (`*.j2`), installed as the package data of `eureka_kit.templates`."""
