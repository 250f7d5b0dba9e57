"""A tiny third-party task pack for eureka-kit's tests."""
