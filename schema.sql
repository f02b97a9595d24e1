-- schema.sql — every table and view of the Stripe metrics pipeline.
--
-- Generated from the models in etl/db/models/ and etl/db/views.py by
--     python -m etl.db.schema > schema.sql
-- and kept equal to what `etl init-db` creates by tests/test_schema.py, on SQLite
-- and PostgreSQL. The DDL runs on both.
--
-- Conventions: money is an integer in the currency's smallest unit (cents);
-- timestamps are UTC; `month` columns hold the first day of the month in the
-- reporting time zone (ETL_TIMEZONE); currencies are lower-case ISO codes;
-- *_json columns hold JSON text.


-- HTTP API keys; only a hash is stored.
CREATE TABLE api_keys (
    id VARCHAR(32) PRIMARY KEY,  -- public key id, e.g. key_3f9a…
    name TEXT,  -- label
    key_hash VARCHAR(64) NOT NULL UNIQUE,  -- SHA-256 of the key
    prefix VARCHAR(16) NOT NULL,  -- first characters of the key, to recognise it
    created_at TIMESTAMP NOT NULL,  -- creation time
    last_used_at TIMESTAMP,  -- last successful use
    revoked_at TIMESTAMP  -- revocation time
);

-- Stripe coupons.
CREATE TABLE coupons (
    id VARCHAR(255) PRIMARY KEY,  -- coupon id
    name TEXT,  -- coupon name
    percent_off NUMERIC(7, 4),  -- percentage off, e.g. 25.5
    amount_off BIGINT,  -- amount off in cents
    currency VARCHAR(3),  -- currency of amount_off
    duration VARCHAR(16) NOT NULL,  -- once, repeating or forever
    duration_in_months INTEGER,  -- months, for repeating coupons
    valid BOOLEAN NOT NULL,  -- can still be applied
    deleted BOOLEAN NOT NULL,  -- deleted in Stripe
    created TIMESTAMP,  -- creation time
    updated_at TIMESTAMP NOT NULL  -- last time this row changed
);

-- Stripe credit notes; they reduce total contract value.
CREATE TABLE credit_notes (
    id VARCHAR(255) PRIMARY KEY,  -- credit note id
    invoice_id VARCHAR(255),  -- invoice credited
    customer_id INTEGER,  -- customers.id
    amount BIGINT NOT NULL,  -- total credited, tax included
    tax_amount BIGINT NOT NULL,  -- tax part of amount
    currency VARCHAR(3) NOT NULL,  -- currency
    status VARCHAR(16) NOT NULL,  -- issued or void
    reason VARCHAR(64),  -- reason given
    created TIMESTAMP,  -- creation time
    updated_at TIMESTAMP NOT NULL  -- last time this row changed
);
CREATE INDEX ix_credit_notes_customer_id ON credit_notes (customer_id);
CREATE INDEX ix_credit_notes_invoice_id ON credit_notes (invoice_id);

-- MRR per customer and month, with the customer-level movement.
CREATE TABLE customer_mrr (
    customer_id INTEGER NOT NULL,  -- customers.id
    month DATE NOT NULL,  -- first day of the month
    currency VARCHAR(3) NOT NULL,  -- currency
    mrr BIGINT NOT NULL,  -- MRR at the end of the month, cents
    previous_mrr BIGINT NOT NULL,  -- MRR at the end of the previous month
    movement VARCHAR(16),  -- new, reactivation, expansion, contraction, churn or NULL
    movement_mrr BIGINT NOT NULL,  -- size of the movement (positive)
    subscriptions INTEGER NOT NULL,  -- distinct subscriptions contributing MRR
    waiting_mrr BIGINT NOT NULL,  -- current month: expected MRR of renewals not yet paid
    waiting_subscriptions INTEGER NOT NULL,  -- current month: subscriptions waiting for payment
    PRIMARY KEY (customer_id, month, currency)
);
CREATE INDEX ix_customer_mrr_month ON customer_mrr (month, currency);

-- MRR per customer, plan and month, with the plan-level movement.
CREATE TABLE customer_plan_mrr (
    customer_id INTEGER NOT NULL,  -- customers.id
    plan_id VARCHAR(255) NOT NULL,  -- plans.id
    month DATE NOT NULL,  -- first day of the month
    currency VARCHAR(3) NOT NULL,  -- currency
    mrr BIGINT NOT NULL,  -- MRR at the end of the month, cents
    previous_mrr BIGINT NOT NULL,  -- MRR at the end of the previous month
    movement VARCHAR(16),  -- new, lost, upgrade, downgrade, moved_in, moved_out or NULL
    waiting_mrr BIGINT NOT NULL,  -- current month: expected MRR of renewals not yet paid
    PRIMARY KEY (customer_id, plan_id, month, currency)
);
CREATE INDEX ix_customer_plan_mrr_month_plan ON customer_plan_mrr (month, plan_id);

-- Customers from Stripe and customers created through the API.
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,  -- integer customer id (the API's `id`)
    stripe_id VARCHAR(255) UNIQUE,  -- Stripe customer id; NULL if created through the API
    extra_id VARCHAR(255),  -- internal id from Stripe metadata or set through the API
    email VARCHAR(320),  -- email as given
    email_key VARCHAR(320) UNIQUE,  -- lower-cased email, unique; NULL when absent or when an earlier Stripe customer has it
    name TEXT,  -- customer name
    currency VARCHAR(3),  -- customer currency (usd, eur, …)
    country VARCHAR(2),  -- ISO 3166-1 alpha-2 country from the address, else the default card
    state VARCHAR(64),  -- US state code; NULL outside the US
    metadata_json TEXT,  -- Stripe metadata as JSON text
    source VARCHAR(16) NOT NULL,  -- stripe or api
    deleted BOOLEAN NOT NULL,  -- deleted in Stripe
    created TIMESTAMP,  -- creation time
    updated_at TIMESTAMP NOT NULL  -- last time this row changed
);
CREATE INDEX ix_customers_country ON customers (country);
CREATE INDEX ix_customers_extra_id ON customers (extra_id);

-- Customers whose revenue lines changed since the last recompute.
CREATE TABLE dirty_customers (
    customer_id INTEGER PRIMARY KEY,  -- customers.id
    marked_at TIMESTAMP NOT NULL  -- when the change was recorded
);

-- Discounts applied to customers, subscriptions or invoices.
CREATE TABLE discounts (
    id VARCHAR(255) PRIMARY KEY,  -- discount id
    coupon_id VARCHAR(255),  -- coupons.id
    customer_id INTEGER,  -- customers.id
    subscription_id VARCHAR(255),  -- subscription it applies to
    invoice_id VARCHAR(255),  -- invoice it applies to
    starts_at TIMESTAMP,  -- start of the discount
    ends_at TIMESTAMP,  -- end of the discount (NULL: forever)
    updated_at TIMESTAMP NOT NULL  -- last time this row changed
);
CREATE INDEX ix_discounts_customer_id ON discounts (customer_id);

-- Exchange rates: 1 unit of currency = rate units of the reporting currency.
CREATE TABLE fx_rates (
    currency VARCHAR(3) NOT NULL,  -- currency converted from
    month DATE NOT NULL,  -- first day of the month the rate converts
    rate NUMERIC(20, 10) NOT NULL,  -- units of reporting currency per unit of currency
    PRIMARY KEY (currency, month)
);

-- Stripe invoice items (one-off charges and prorations).
CREATE TABLE invoice_items (
    id VARCHAR(255) PRIMARY KEY,  -- invoice item id
    customer_id INTEGER,  -- customers.id
    invoice_id VARCHAR(255),  -- invoice it was billed on
    subscription_id VARCHAR(255),  -- subscription it belongs to
    plan_id VARCHAR(255),  -- price id
    amount BIGINT NOT NULL,  -- amount
    currency VARCHAR(3) NOT NULL,  -- currency
    quantity INTEGER,  -- quantity
    proration BOOLEAN NOT NULL,  -- a proration
    description TEXT,  -- description
    period_start TIMESTAMP,  -- period start
    period_end TIMESTAMP,  -- period end
    deleted BOOLEAN NOT NULL,  -- deleted in Stripe
    created TIMESTAMP,  -- creation time (`date`)
    updated_at TIMESTAMP NOT NULL  -- last time this row changed
);
CREATE INDEX ix_invoice_items_customer_id ON invoice_items (customer_id);

-- Every run of a scheduled or manual job.
CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY,  -- run id
    job VARCHAR(32) NOT NULL,  -- sync, recompute, reconcile, prune, …
    trigger VARCHAR(16) NOT NULL,  -- daemon, cron, cli or api
    status VARCHAR(16) NOT NULL,  -- running, ok, failed or skipped (another sync held the lock)
    started_at TIMESTAMP NOT NULL,  -- start
    finished_at TIMESTAMP,  -- end
    counts_json TEXT,  -- what the job did, as JSON
    error TEXT  -- error message
);
CREATE INDEX ix_job_runs_job_started ON job_runs (job, started_at);

-- Advisory locks that keep two syncs from running at once.
CREATE TABLE locks (
    name VARCHAR(255) PRIMARY KEY,  -- lock name
    holder VARCHAR(255) NOT NULL,  -- host:pid of the holder
    acquired_at TIMESTAMP NOT NULL,  -- when taken
    heartbeat_at TIMESTAMP NOT NULL  -- last sign of life of the holder
);

-- MRR and movements per plan and month.
CREATE TABLE mrr_by_plan (
    month DATE NOT NULL,  -- first day of the month
    plan_id VARCHAR(255) NOT NULL,  -- plans.id (FirstOfficer's plan_eid)
    currency VARCHAR(3) NOT NULL,  -- currency of the figures
    plan_name TEXT,  -- plan name
    total_mrr BIGINT NOT NULL,  -- Σ MRR of the plan
    total_customers INTEGER NOT NULL,  -- customers with MRR on the plan
    beginning_mrr BIGINT NOT NULL,  -- the plan's MRR at the end of the previous month
    beginning_customers INTEGER NOT NULL,  -- customers at the end of the previous month
    new_mrr BIGINT NOT NULL,  -- MRR of customers with no MRR last month
    new_customers INTEGER NOT NULL,  -- customers with no MRR last month
    upgrade_mrr BIGINT NOT NULL,  -- increases on the plan
    downgrade_mrr BIGINT NOT NULL,  -- decreases on the plan (still on it)
    moved_in_mrr BIGINT NOT NULL,  -- MRR of customers who came from another plan
    moved_in_customers INTEGER NOT NULL,  -- customers who came from another plan
    moved_out_mrr BIGINT NOT NULL,  -- MRR of customers who moved to another plan
    moved_out_customers INTEGER NOT NULL,  -- customers who moved to another plan
    expansion_mrr BIGINT NOT NULL,  -- upgrade + moved in
    contraction_mrr BIGINT NOT NULL,  -- downgrade + moved out
    lost_mrr BIGINT NOT NULL,  -- MRR of customers who stopped paying
    lost_customers INTEGER NOT NULL,  -- customers who stopped paying
    waiting_mrr BIGINT NOT NULL,  -- current month: waiting MRR of the plan
    waiting_customers INTEGER NOT NULL,  -- current month: customers waiting on the plan
    end_of_term_mrr BIGINT NOT NULL,  -- total_mrr + waiting_mrr
    end_of_term_customers INTEGER NOT NULL,  -- total_customers + waiting_customers
    PRIMARY KEY (month, plan_id, currency)
);

-- MRR and movements per month and currency; basis=reporting rows are converted totals.
CREATE TABLE mrr_monthly (
    month DATE NOT NULL,  -- first day of the month
    currency VARCHAR(3) NOT NULL,  -- currency
    basis VARCHAR(16) NOT NULL,  -- native (one currency) or reporting (all currencies converted)
    mrr BIGINT NOT NULL,  -- MRR at the end of the month
    subscriptions INTEGER NOT NULL,  -- subscriptions contributing MRR
    customers INTEGER NOT NULL,  -- customers with MRR
    new_mrr BIGINT NOT NULL,  -- new + reactivation (FirstOfficer's new and returning)
    new_customers INTEGER NOT NULL,  -- new and returning customers
    reactivation_mrr BIGINT NOT NULL,  -- MRR of returning customers
    reactivated_customers INTEGER NOT NULL,  -- returning customers
    expansion_mrr BIGINT NOT NULL,  -- increases of customers paying in both months
    contraction_mrr BIGINT NOT NULL,  -- decreases of customers paying in both months
    upgrade_mrr BIGINT NOT NULL,  -- = expansion_mrr
    downgrade_mrr BIGINT NOT NULL,  -- = contraction_mrr
    change_in_mrr BIGINT NOT NULL,  -- expansion − contraction
    lost_mrr BIGINT NOT NULL,  -- MRR of customers who stopped paying (churn)
    lost_customers INTEGER NOT NULL,  -- customers who stopped paying
    waiting_mrr BIGINT NOT NULL,  -- current month: expected MRR of renewals not yet paid
    waiting_subscriptions INTEGER NOT NULL,  -- current month: subscriptions waiting for payment
    arr BIGINT NOT NULL,  -- 12 × mrr
    arpa BIGINT NOT NULL,  -- mrr / customers, rounded half up (0 without customers)
    fx_impact_mrr BIGINT NOT NULL,  -- reporting basis: change of MRR due to exchange rates
    missing_rates TEXT,  -- reporting basis: currencies left out for lack of a rate
    is_current BOOLEAN NOT NULL,  -- the month of as_of (not yet closed)
    PRIMARY KEY (month, currency, basis)
);

-- Stripe prices, legacy Stripe plans, and plans created through the API.
CREATE TABLE plans (
    id VARCHAR(255) PRIMARY KEY,  -- price id, plan id, or the API plan id
    source VARCHAR(16) NOT NULL,  -- stripe_price, stripe_plan or api
    product_id VARCHAR(255),  -- Stripe product id
    name TEXT,  -- display name: nickname, else product name, else id
    nickname TEXT,  -- Stripe's nickname of the price or plan
    amount BIGINT,  -- unit amount in cents; NULL for tiered prices
    currency VARCHAR(3) NOT NULL,  -- currency
    type VARCHAR(16) NOT NULL,  -- recurring or one_time
    interval VARCHAR(8),  -- day, week, month or year; NULL for one-time prices
    interval_count INTEGER NOT NULL,  -- number of intervals per billing period
    usage_type VARCHAR(16) NOT NULL,  -- licensed or metered
    tax_behavior VARCHAR(16),  -- exclusive, inclusive or unspecified
    active BOOLEAN NOT NULL,  -- available for new subscriptions
    metadata_json TEXT,  -- metadata as JSON text
    deleted BOOLEAN NOT NULL,  -- deleted in Stripe
    created TIMESTAMP,  -- creation time
    updated_at TIMESTAMP NOT NULL  -- last time this row changed
);
CREATE INDEX ix_plans_product_id ON plans (product_id);

-- Stripe products.
CREATE TABLE products (
    id VARCHAR(255) PRIMARY KEY,  -- Stripe product id
    name TEXT,  -- product name
    active BOOLEAN NOT NULL,  -- available for new purchases
    metadata_json TEXT,  -- metadata as JSON text
    deleted BOOLEAN NOT NULL,  -- deleted in Stripe
    created TIMESTAMP,  -- creation time
    updated_at TIMESTAMP NOT NULL  -- last time this row changed
);

-- Every Stripe object as received: one row per distinct version, with lineage.
CREATE TABLE raw_objects (
    id INTEGER PRIMARY KEY,  -- surrogate key, assigned by the database
    object_type VARCHAR(255) NOT NULL,  -- Stripe object type: customer, invoice, price, plan, …
    stripe_id VARCHAR(255) NOT NULL,  -- the object's Stripe id
    api_version VARCHAR(255),  -- Stripe API version the JSON is shaped by
    created TIMESTAMP,  -- the object's `created` time
    fetched_at TIMESTAMP NOT NULL,  -- when this version was last received
    sync_run_id INTEGER,  -- sync_runs.id of the run that fetched it
    source VARCHAR(16) NOT NULL,  -- how it arrived: list, retrieve, event
    deleted BOOLEAN NOT NULL,  -- the object was deleted in Stripe
    malformed BOOLEAN NOT NULL,  -- the object could not be normalized (see sync_runs)
    is_current BOOLEAN NOT NULL,  -- this is the latest version of the object
    content_hash VARCHAR(64) NOT NULL,  -- SHA-256 of the JSON; identical versions are stored once
    data TEXT NOT NULL,  -- the object's JSON as received
    CONSTRAINT uq_raw_version UNIQUE (object_type, stripe_id, content_hash)
);
CREATE INDEX ix_raw_objects_type_id ON raw_objects (object_type, stripe_id);

-- The last successful recompute (one row): the settings it ran with, which decide whether the next run may be incremental, and since when inputs count as changed.
CREATE TABLE recompute_state (
    id INTEGER PRIMARY KEY,  -- always 1: the table holds one row
    started_at TIMESTAMP NOT NULL,  -- start of the last successful recompute; inputs updated since are recomputed
    as_of TIMESTAMP NOT NULL,  -- the `as_of` instant that run computed the metrics at
    month DATE NOT NULL,  -- the current month of that run; a new month forces a full run
    timezone VARCHAR(64) NOT NULL,  -- reporting time zone of that run
    include_tax BOOLEAN NOT NULL,  -- whether that run counted tax as revenue
    past_due_grace_days INTEGER NOT NULL,  -- grace days for open invoices of that run
    reporting_currency VARCHAR(3) NOT NULL,  -- reporting currency of that run's converted totals
    full_run BOOLEAN NOT NULL,  -- that run recomputed every customer
    job_run_id INTEGER  -- job_runs.id of that run
);

-- Stripe refunds; succeeded ones reduce total contract value.
CREATE TABLE refunds (
    id VARCHAR(255) PRIMARY KEY,  -- refund id
    charge_id VARCHAR(255),  -- charge refunded
    payment_intent_id VARCHAR(255),  -- payment intent refunded
    invoice_id VARCHAR(255),  -- invoice whose payment was refunded, when known
    customer_id INTEGER,  -- customers.id, when known
    amount BIGINT NOT NULL,  -- amount refunded
    currency VARCHAR(3) NOT NULL,  -- currency
    status VARCHAR(16) NOT NULL,  -- pending, succeeded, failed or canceled
    reason VARCHAR(64),  -- reason given
    created TIMESTAMP,  -- creation time
    updated_at TIMESTAMP NOT NULL  -- last time this row changed
);
CREATE INDEX ix_refunds_customer_id ON refunds (customer_id);
CREATE INDEX ix_refunds_invoice_id ON refunds (invoice_id);

-- Where each resource's sync resumes.
CREATE TABLE sync_cursors (
    resource VARCHAR(255) PRIMARY KEY,  -- resource or slice name, e.g. invoices or events
    cursor VARCHAR(255),  -- last object id (or event id) written
    phase VARCHAR(16) NOT NULL,  -- full, done or incremental
    state_json TEXT,  -- extra resumable state as JSON
    sync_run_id INTEGER,  -- run that wrote it
    updated_at TIMESTAMP NOT NULL  -- when it moved
);

-- One row per sync or backfill run.
CREATE TABLE sync_runs (
    id INTEGER PRIMARY KEY,  -- run id
    kind VARCHAR(16) NOT NULL,  -- full, incremental or backfill
    status VARCHAR(16) NOT NULL,  -- running, ok, failed or interrupted
    started_at TIMESTAMP NOT NULL,  -- start
    finished_at TIMESTAMP,  -- end
    objects INTEGER NOT NULL,  -- objects written
    requests INTEGER NOT NULL,  -- HTTP requests made
    retries INTEGER NOT NULL,  -- retried requests
    malformed INTEGER NOT NULL,  -- objects stored raw but not normalized
    counts_json TEXT,  -- objects per resource as JSON
    error TEXT  -- error message of a failed run
);

-- Per-customer figures served by the API.
CREATE TABLE customer_snapshots (
    customer_id INTEGER PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,  -- customers.id
    month DATE NOT NULL,  -- the current month when computed
    currency VARCHAR(3),  -- currency of the figures
    current_mrr BIGINT NOT NULL,  -- MRR in the current month
    current_subscription_count INTEGER NOT NULL,  -- subscriptions contributing MRR this month (0 = lost)
    total_contract_value BIGINT NOT NULL,  -- all counted line net amounts ever, minus refunds and credit notes
    waiting_mrr BIGINT NOT NULL,  -- expected MRR of renewals not yet paid this month
    as_of TIMESTAMP NOT NULL  -- the `as_of` instant of the computation
);

-- Invoices from Stripe (source=stripe) and imported ones (source=manual).
CREATE TABLE invoices (
    id VARCHAR(255) PRIMARY KEY,  -- Stripe invoice id, or the imported invoice's id
    source VARCHAR(16) NOT NULL,  -- stripe or manual
    customer_id INTEGER REFERENCES customers (id),  -- customers.id
    stripe_customer_id VARCHAR(255),  -- Stripe customer id
    subscription_id VARCHAR(255),  -- Stripe subscription id, or the imported subscription_id
    status VARCHAR(16) NOT NULL,  -- draft, open, paid, void or uncollectible
    billing_reason VARCHAR(32),  -- subscription_create, subscription_cycle, manual, …
    currency VARCHAR(3) NOT NULL,  -- currency
    subtotal BIGINT NOT NULL,  -- sum of line amounts before discounts, tax excluded
    discount BIGINT NOT NULL,  -- total discount amount
    tax BIGINT NOT NULL,  -- total tax amount
    total BIGINT NOT NULL,  -- subtotal − discount + exclusive tax
    amount_due BIGINT NOT NULL,  -- amount due
    amount_paid BIGINT NOT NULL,  -- amount paid
    plan_id VARCHAR(255),  -- imported invoices: the plan (NULL: one-time revenue)
    quantity INTEGER,  -- imported invoices: quantity
    description TEXT,  -- free text
    number VARCHAR(255),  -- Stripe invoice number
    created TIMESTAMP,  -- invoice date (`date` for imported invoices)
    due_date TIMESTAMP,  -- due date
    paid_at TIMESTAMP,  -- when it was paid (`date_paid`)
    period_start TIMESTAMP,  -- service period start
    period_end TIMESTAMP,  -- service period end
    payment_intent_id VARCHAR(255),  -- payment intent that paid it (links refunds to the invoice)
    lines_complete BOOLEAN NOT NULL,  -- all lines are stored (beyond the embedded first page)
    updated_at TIMESTAMP NOT NULL,  -- last time this row changed
    finalized_at TIMESTAMP  -- when it was finalized; an automatically charged invoice falls due then
);
CREATE INDEX ix_invoices_customer ON invoices (customer_id);
CREATE INDEX ix_invoices_payment_intent_id ON invoices (payment_intent_id);
CREATE INDEX ix_invoices_source_created ON invoices (source, created);
CREATE INDEX ix_invoices_source_id ON invoices (source, id);
CREATE INDEX ix_invoices_status ON invoices (status);
CREATE INDEX ix_invoices_subscription_id ON invoices (subscription_id);

-- One row per invoice line, Stripe and imported alike: the input of every metric.
CREATE TABLE revenue_lines (
    id INTEGER PRIMARY KEY,  -- surrogate key
    customer_id INTEGER NOT NULL REFERENCES customers (id),  -- customers.id
    source VARCHAR(16) NOT NULL,  -- stripe or manual
    invoice_id VARCHAR(255) NOT NULL,  -- invoices.id
    line_id VARCHAR(255) NOT NULL,  -- invoice_lines.id
    plan_id VARCHAR(255),  -- plan/price id; NULL for one-time lines without a plan
    subscription_id VARCHAR(255),  -- subscription the line belongs to
    kind VARCHAR(16) NOT NULL,  -- subscription, proration, metered or one_time
    currency VARCHAR(3) NOT NULL,  -- currency
    amount BIGINT NOT NULL,  -- line amount before discounts, tax excluded
    discount_amount BIGINT NOT NULL,  -- discounts on the line
    tax_amount BIGINT NOT NULL,  -- tax on the line
    net_amount BIGINT NOT NULL,  -- amount − discount_amount (tax excluded)
    quantity INTEGER,  -- quantity
    interval VARCHAR(8),  -- plan interval: day, week, month, year
    interval_count INTEGER,  -- plan interval count
    period_start TIMESTAMP,  -- service period start (inclusive)
    period_end TIMESTAMP,  -- service period end (exclusive)
    invoice_status VARCHAR(16) NOT NULL,  -- status of the invoice: paid, open, …
    due_date TIMESTAMP,  -- when the invoice falls due: its due_date, else when it was finalized
    paid_at TIMESTAMP,  -- when the invoice was paid
    updated_at TIMESTAMP NOT NULL,  -- last time this row changed
    CONSTRAINT uq_revenue_line UNIQUE (source, invoice_id, line_id)
);
CREATE INDEX ix_revenue_lines_customer ON revenue_lines (customer_id);
CREATE INDEX ix_revenue_lines_invoice_id ON revenue_lines (invoice_id);
CREATE INDEX ix_revenue_lines_updated ON revenue_lines (updated_at);

-- Stripe subscriptions (all statuses).
CREATE TABLE subscriptions (
    id VARCHAR(255) PRIMARY KEY,  -- Stripe subscription id
    customer_id INTEGER REFERENCES customers (id),  -- customers.id
    stripe_customer_id VARCHAR(255),  -- Stripe customer id
    status VARCHAR(32) NOT NULL,  -- trialing, active, past_due, canceled, unpaid, incomplete, …
    currency VARCHAR(3),  -- currency
    start_date TIMESTAMP,  -- when the subscription started
    current_period_start TIMESTAMP,  -- start of the current period
    current_period_end TIMESTAMP,  -- end of the current period
    trial_start TIMESTAMP,  -- trial start
    trial_end TIMESTAMP,  -- trial end
    cancel_at_period_end BOOLEAN NOT NULL,  -- cancels when the period ends
    cancel_at TIMESTAMP,  -- scheduled cancellation time
    canceled_at TIMESTAMP,  -- when cancellation was requested
    ended_at TIMESTAMP,  -- when the subscription ended
    coupon_id VARCHAR(255),  -- coupon of the subscription's discount, if any
    metadata_json TEXT,  -- metadata as JSON text
    created TIMESTAMP,  -- creation time
    updated_at TIMESTAMP NOT NULL  -- last time this row changed
);
CREATE INDEX ix_subscriptions_customer_id ON subscriptions (customer_id);
CREATE INDEX ix_subscriptions_status ON subscriptions (status);

-- Lines of Stripe and imported invoices.
CREATE TABLE invoice_lines (
    id VARCHAR(255) NOT NULL,  -- Stripe line id, or `<invoice id>:1` for imported invoices
    invoice_id VARCHAR(255) NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,  -- invoices.id
    position INTEGER NOT NULL,  -- order of the line within its invoice
    customer_id INTEGER,  -- customers.id
    subscription_id VARCHAR(255),  -- subscription the line bills
    subscription_item_id VARCHAR(255),  -- subscription item the line bills
    invoice_item_id VARCHAR(255),  -- invoice item the line comes from
    plan_id VARCHAR(255),  -- price or plan id (plans.id)
    line_type VARCHAR(16) NOT NULL,  -- subscription or invoiceitem, as Stripe says
    proration BOOLEAN NOT NULL,  -- a proration line
    currency VARCHAR(3) NOT NULL,  -- currency
    amount BIGINT NOT NULL,  -- line amount before discounts (tax excluded unless the price is tax-inclusive)
    discount_amount BIGINT NOT NULL,  -- sum of the line's discount amounts
    tax_amount BIGINT NOT NULL,  -- tax on the line (exclusive and inclusive)
    inclusive_tax_amount BIGINT NOT NULL,  -- the part of tax_amount included in amount
    quantity INTEGER,  -- quantity
    period_start TIMESTAMP,  -- service period start
    period_end TIMESTAMP,  -- service period end
    description TEXT,  -- line description
    updated_at TIMESTAMP NOT NULL,  -- last time this row changed
    PRIMARY KEY (invoice_id, id)
);
CREATE INDEX ix_invoice_lines_customer_id ON invoice_lines (customer_id);
CREATE INDEX ix_invoice_lines_invoice_id ON invoice_lines (invoice_id);

-- Items (price × quantity) of Stripe subscriptions.
CREATE TABLE subscription_items (
    id VARCHAR(255) PRIMARY KEY,  -- subscription item id
    subscription_id VARCHAR(255) NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,  -- subscriptions.id
    plan_id VARCHAR(255),  -- price or plan id (plans.id)
    quantity INTEGER NOT NULL,  -- quantity (seats)
    current_period_start TIMESTAMP,  -- start of the item's current period
    current_period_end TIMESTAMP,  -- end of the item's current period
    created TIMESTAMP,  -- creation time
    updated_at TIMESTAMP NOT NULL  -- last time this row changed
);
CREATE INDEX ix_subscription_items_subscription_id ON subscription_items (subscription_id);

-- ---------------------------------------------------------------- views

-- Customers with their current figures, as the API serves them.
-- Columns:
--   id: customers.id
--   stripe_id: Stripe customer id
--   extra_id: internal id
--   email: email
--   name: name
--   currency: customer currency
--   country: country code
--   state: US state
--   deleted: deleted in Stripe
--   current_mrr: MRR in the current month (cents)
--   current_subscription_count: subscriptions contributing MRR (0 = lost)
--   total_contract_value: net revenue ever, minus refunds and credit notes (cents)
CREATE VIEW customer_overview AS
SELECT c.id, c.stripe_id, c.extra_id, c.email, c.name, c.currency, c.country, c.state,
       c.deleted,
       COALESCE(s.current_mrr, 0) AS current_mrr,
       COALESCE(s.current_subscription_count, 0) AS current_subscription_count,
       COALESCE(s.total_contract_value, 0) AS total_contract_value
FROM customers c
LEFT JOIN customer_snapshots s ON s.customer_id = c.id;

-- The MRR bridge per month and currency: starting MRR, each movement, ending MRR.
-- Columns:
--   month: first day of the month
--   currency: currency; basis=reporting rows are converted totals
--   basis: native (one currency) or reporting (converted)
--   starting_mrr: MRR at the end of the previous month
--   new_mrr: MRR of customers paying for the first time
--   reactivation_mrr: MRR of customers returning after a gap
--   expansion_mrr: increases of customers paying in both months
--   contraction_mrr: decreases of customers paying in both months
--   churned_mrr: MRR of customers who stopped paying
--   fx_impact_mrr: reporting basis: change due to exchange rates (0 for native)
--   ending_mrr: MRR at the end of the month, including waiting renewals
--   net_new_mrr: ending_mrr − starting_mrr
--   mrr: MRR charged (without waiting renewals)
--   waiting_mrr: current month: renewals expected but not yet paid
--   customers: customers with MRR
--   is_current: the month is not over yet
CREATE VIEW mrr_movements AS
SELECT m.month, m.currency, m.basis,
       m.mrr + m.waiting_mrr - (m.new_mrr + m.expansion_mrr - m.contraction_mrr
                                - m.lost_mrr + m.fx_impact_mrr) AS starting_mrr,
       m.new_mrr - m.reactivation_mrr AS new_mrr,
       m.reactivation_mrr, m.expansion_mrr, m.contraction_mrr,
       m.lost_mrr AS churned_mrr, m.fx_impact_mrr,
       m.mrr + m.waiting_mrr AS ending_mrr,
       m.new_mrr + m.expansion_mrr - m.contraction_mrr - m.lost_mrr + m.fx_impact_mrr
           AS net_new_mrr,
       m.mrr, m.waiting_mrr, m.customers, m.is_current
FROM mrr_monthly m;

-- MRR of each customer per month and currency, with who the customer is.
-- Columns:
--   month: first day of the month
--   customer_id: customers.id
--   stripe_id: Stripe customer id
--   email: email
--   name: name
--   currency: currency
--   mrr: MRR at the end of the month (cents)
--   previous_mrr: MRR at the end of the previous month
--   movement: new, reactivation, expansion, contraction, churn or NULL
--   movement_mrr: size of the movement (positive)
--   subscriptions: distinct subscriptions contributing MRR
--   waiting_mrr: current month: renewals expected but not yet paid
--   arr: 12 × mrr
CREATE VIEW customer_mrr_monthly AS
SELECT cm.month, cm.customer_id, c.stripe_id, c.email, c.name, cm.currency, cm.mrr,
       cm.previous_mrr, cm.movement, cm.movement_mrr, cm.subscriptions, cm.waiting_mrr,
       12 * cm.mrr AS arr
FROM customer_mrr cm
JOIN customers c ON c.id = cm.customer_id;

-- MRR by plan per month, with the plan's price and billing interval.
-- Columns:
--   month: first day of the month
--   plan_id: plans.id
--   plan_name: plan name
--   currency: currency of the figures
--   amount: the plan's unit amount (cents)
--   interval: day, week, month or year
--   interval_count: intervals per billing period
--   beginning_mrr: the plan's MRR at the end of the previous month
--   new_mrr: MRR of new and returning customers
--   upgrade_mrr: increases on the plan
--   downgrade_mrr: decreases on the plan
--   moved_in_mrr: MRR of customers who came from another plan
--   moved_out_mrr: MRR of customers who left for another plan
--   lost_mrr: MRR of customers who stopped paying
--   total_mrr: the plan's MRR at the end of the month
--   total_customers: customers with MRR on the plan
--   waiting_mrr: current month: renewals expected but not yet paid
--   end_of_term_mrr: total_mrr + waiting_mrr
CREATE VIEW plan_mrr_monthly AS
SELECT b.month, b.plan_id, COALESCE(b.plan_name, p.name) AS plan_name, b.currency,
       p.amount, p.interval, p.interval_count, b.beginning_mrr, b.new_mrr, b.upgrade_mrr,
       b.downgrade_mrr, b.moved_in_mrr, b.moved_out_mrr, b.lost_mrr, b.total_mrr,
       b.total_customers, b.waiting_mrr, b.end_of_term_mrr
FROM mrr_by_plan b
LEFT JOIN plans p ON p.id = b.plan_id;
