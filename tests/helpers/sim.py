"""The one batch size and seed every fast simulation test shares, so the batched MJX step compiles once per
session (12-60 s here) and the persistent compilation cache serves the next session."""

BATCH = 32
SEED = 0
