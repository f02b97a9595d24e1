"""Data that does not come from Stripe: imported invoices and exchange rates, validated."""
