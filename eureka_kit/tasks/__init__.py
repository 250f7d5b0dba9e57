"""Tasks: specs (`spec`), the registry with task packs (`registry`) and state capture from a running env."""
