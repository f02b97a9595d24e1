"""Human-facing outputs: status, the MRR table and the MRR chart (PNG and HTML)."""
