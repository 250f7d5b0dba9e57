"""Feedback for the next prompt: reward reflection, the trajectory analyzer and the CARD trajectory check.

The analyzer (`analyzer.analyze`) puts together `findings` from `behaviour` and `hacking_signs`, rendered by
`critique`; the CARD trajectory check (`card_check`) scores stored episodes with a program in the sandboxed
`score_child` (not the reward critic of `eureka_kit.reward`, which checks a program before training).
"""
