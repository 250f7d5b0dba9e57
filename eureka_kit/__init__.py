"""eureka-kit: an LLM writes reward functions, an evolutionary loop keeps the ones that work."""

__version__ = "0.1.0"
