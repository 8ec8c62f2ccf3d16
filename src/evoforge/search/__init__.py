"""Search: islands and archives, parent selection, proposal kinds, novelty, best-first refinement."""
