"""A generated Stripe account, its ground truth, and a Stripe-compatible server over it.

`generator.generate_account(...)` builds the account (plain dicts in the current API's
shapes), `truth.ground_truth(account)` derives the expected metrics from the
simulation's subscription timeline, and the server serves the account over HTTP.
"""
