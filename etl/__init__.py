"""Stripe-to-metrics pipeline."""

__version__ = "0.1.0"
