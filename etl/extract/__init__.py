"""Extract, the first stage: reading Stripe (client, paced and retried pages), no writes."""
