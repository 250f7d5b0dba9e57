"""Reward programs: the contract (`program`), extraction from LLM answers (`extract`) and the critic.

The critic checks a program before training: `critic.check_program` (static checks in `static_checks`, the
smoke test in `smoke_test` on the batches of `smoke_batches`, warnings in `component_warnings`, the report in
`check_report`). The check runner (`check_runner.check_sandboxed`) runs it on untrusted code, with the smoke
test in the sandboxed check child (`check_child`). When the smoke test fails, `pinpoint` traces one call
(`shape_trace`) and names the operation that broke the contract with its line, shapes and fix
(`shape_findings`, `python_values`); `explain` prints the trace for a person. `normalize` holds the safe
mechanical edits, `example` the generated example program of the prompt. The CARD trajectory check is another
thing, in `eureka_kit.feedback.card_check`.
"""
