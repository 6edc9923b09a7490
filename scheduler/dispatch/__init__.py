"""A dispatch run: evaluate, claim, send and record (`pipeline.run_dispatch` is the entry point)."""
