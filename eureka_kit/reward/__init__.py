"""Reward programs: the contract (`program`), extraction from LLM answers (`extract`) and the critic.

The critic checks a program before training: `critic.check_program` (static checks in `static_checks`, the
smoke test in `smoke_test` on the batches of `smoke_batches`, warnings in `component_warnings`, the report in
`check_report`). The check runner (`check_runner.check_sandboxed`) runs it on untrusted code, with the smoke
test in the sandboxed check child (`check_child`). The CARD trajectory check is another thing, in
`eureka_kit.feedback.card_check`.
"""
