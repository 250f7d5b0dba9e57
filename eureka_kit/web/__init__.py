"""Local web pages: the run dashboard (`dashboard`), the ranking page (`rank_server`), both on the token server of
`http_base`, and the self-contained report (`report`, with `run_view` and `svg_charts`)."""
