"""The metrics stage: revenue lines, MRR and movements, MRR by plan, customer snapshots.

- `revenue`: invoice lines (Stripe and imported) -> `revenue_lines`
- `engine`: the pure computation (rows and `as_of` in, rows out; calendar in etl.periods)
- `recompute`: reads lines, runs the engine, writes the snapshot and aggregate tables
- `workers`: the full recompute's worker processes on SQLite

Imported invoices and exchange rates come from `etl.imports`; `python -m
benchmarks.metrics` prints speed and memory figures.
"""
