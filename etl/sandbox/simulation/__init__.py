"""The seeded simulation behind a generated Stripe account, and its ground truth."""
