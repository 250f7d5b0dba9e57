"""Training a candidate: the job contract, the sandboxed runner, training backends and algorithms."""
