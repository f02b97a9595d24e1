"""Normalize: Stripe objects (plain dicts) to table rows, pure and without I/O."""
