"""The process boundary for untrusted reward code: limits, child runner, bubblewrap and seccomp isolation."""
