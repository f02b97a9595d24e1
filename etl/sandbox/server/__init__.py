"""A Stripe-compatible HTTP server over a generated account: `SandboxServer`."""

from etl.sandbox.server.app import SandboxServer

__all__ = ["SandboxServer"]
