"""The metrics engine: revenue lines, MRR and movements, MRR by plan, customer snapshots.

- `revenue`: invoice lines (Stripe and imported) -> `revenue_lines`
- `manual_invoices`: imported invoices (validation, defaults, storage)
- `periods`, `engine`: the pure computation (rows and `as_of` in, rows out)
- `recompute`: reads lines, runs the engine, writes the snapshot tables
- `fx`: exchange rates for reporting-currency totals
- `bench`: `python -m benchmarks.metrics` prints speed and memory figures
"""
