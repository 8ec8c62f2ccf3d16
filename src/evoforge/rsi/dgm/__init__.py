"""Darwin Gödel Machine mode: an open-ended archive of self-modifying coding agents.

- `agent_process`: run an agent folder in the sandbox; the trusted process brokers its model calls.
- `bench`: coding benchmarks whose hidden tests are data that never enter an agent's sandbox.
- `archive`: the archive and DGM's parent weight ``sigmoid(10·(score − 0.5)) / (1 + children)``.
- `loop`: self-modification, staged evaluation and the ``evoforge dgm`` loop.
"""
