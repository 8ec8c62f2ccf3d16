"""Recursive self-improvement: evoforge improving the machinery that improves programs.

- `strategy_initial`: the default search strategy written out as an evolvable program.
- `sandboxed`: strategies run in the sandbox behind the ordinary Strategy interface.
- `fitness`, `outer`: ``evoforge self-improve`` — an outer evoforge run whose programs are
  strategies, scored by the inner engine's improvement on training tasks.
- the no-model outer run searches with the ``coordinate`` proposal kind (`evoforge.mutate.coordinate`):
  every knob screened one level up and down first, then the moves that paid combined and extended.
- `stats`, `promotion`: verified promotion on held-out tasks (paired permutation test), every
  decision recorded; optional human approval (``evoforge audit OUT``).
- `prompt_evolution`: an evolving, bandit-chosen system prompt inside an ordinary run.
- `dgm`: Darwin Gödel Machine mode — an archive of self-modifying coding agents (``evoforge dgm``).

See docs/self_improvement.md.
"""
