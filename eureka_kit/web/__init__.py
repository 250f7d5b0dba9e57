"""Local web pages: the ranking page and dashboard server, and the self-contained report."""
