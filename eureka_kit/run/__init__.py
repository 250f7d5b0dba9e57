"""The run store: atomic writes and the run layout, candidate records, progress display."""
