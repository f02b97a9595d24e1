-- Revision 0001 (baseline) on postgresql: exactly the DDL `etl init-db` 0.1.0 ran
-- (SQLModel create_all, then the views). Frozen: never edit; add a revision instead.

-- table: raw_objects
CREATE TABLE raw_objects (
    id SERIAL NOT NULL,
    object_type VARCHAR(255) NOT NULL,
    stripe_id VARCHAR(255) NOT NULL,
    api_version VARCHAR(255),
    created TIMESTAMP WITHOUT TIME ZONE,
    fetched_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    sync_run_id INTEGER,
    source VARCHAR(16) NOT NULL,
    deleted BOOLEAN NOT NULL,
    malformed BOOLEAN NOT NULL,
    is_current BOOLEAN NOT NULL,
    content_hash VARCHAR(64) NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_raw_version UNIQUE (object_type, stripe_id, content_hash)
);
CREATE INDEX ix_raw_objects_type_id ON raw_objects (object_type, stripe_id);
COMMENT ON TABLE raw_objects IS 'Every Stripe object as received: one row per distinct version, with lineage.';
COMMENT ON COLUMN raw_objects.id IS 'surrogate key, assigned by the database';
COMMENT ON COLUMN raw_objects.object_type IS 'Stripe object type: customer, invoice, price, plan, …';
COMMENT ON COLUMN raw_objects.stripe_id IS 'the object''s Stripe id';
COMMENT ON COLUMN raw_objects.api_version IS 'Stripe API version the JSON is shaped by';
COMMENT ON COLUMN raw_objects.created IS 'the object''s `created` time';
COMMENT ON COLUMN raw_objects.fetched_at IS 'when this version was last received';
COMMENT ON COLUMN raw_objects.sync_run_id IS 'sync_runs.id of the run that fetched it';
COMMENT ON COLUMN raw_objects.source IS 'how it arrived: list, retrieve, event';
COMMENT ON COLUMN raw_objects.deleted IS 'the object was deleted in Stripe';
COMMENT ON COLUMN raw_objects.malformed IS 'the object could not be normalized (see sync_runs)';
COMMENT ON COLUMN raw_objects.is_current IS 'this is the latest version of the object';
COMMENT ON COLUMN raw_objects.content_hash IS 'SHA-256 of the JSON; identical versions are stored once';
COMMENT ON COLUMN raw_objects.data IS 'the object''s JSON as received';

-- table: customers
CREATE TABLE customers (
    id SERIAL NOT NULL,
    stripe_id VARCHAR(255),
    extra_id VARCHAR(255),
    email VARCHAR(320),
    email_key VARCHAR(320),
    name TEXT,
    currency VARCHAR(3),
    country VARCHAR(2),
    state VARCHAR(64),
    metadata_json TEXT,
    source VARCHAR(16) NOT NULL,
    deleted BOOLEAN NOT NULL,
    created TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (stripe_id),
    UNIQUE (email_key)
);
CREATE INDEX ix_customers_country ON customers (country);
CREATE INDEX ix_customers_extra_id ON customers (extra_id);
COMMENT ON TABLE customers IS 'Customers from Stripe and customers created through the API.';
COMMENT ON COLUMN customers.id IS 'integer customer id (the API''s `id`)';
COMMENT ON COLUMN customers.stripe_id IS 'Stripe customer id; NULL if created through the API';
COMMENT ON COLUMN customers.extra_id IS 'internal id from Stripe metadata or set through the API';
COMMENT ON COLUMN customers.email IS 'email as given';
COMMENT ON COLUMN customers.email_key IS 'lower-cased email, unique; NULL when absent or when an earlier Stripe customer has it';
COMMENT ON COLUMN customers.name IS 'customer name';
COMMENT ON COLUMN customers.currency IS 'customer currency (usd, eur, …)';
COMMENT ON COLUMN customers.country IS 'ISO 3166-1 alpha-2 country from the address, else the default card';
COMMENT ON COLUMN customers.state IS 'US state code; NULL outside the US';
COMMENT ON COLUMN customers.metadata_json IS 'Stripe metadata as JSON text';
COMMENT ON COLUMN customers.source IS 'stripe or api';
COMMENT ON COLUMN customers.deleted IS 'deleted in Stripe';
COMMENT ON COLUMN customers.created IS 'creation time';
COMMENT ON COLUMN customers.updated_at IS 'last time this row changed';

-- table: products
CREATE TABLE products (
    id VARCHAR(255) NOT NULL,
    name TEXT,
    active BOOLEAN NOT NULL,
    metadata_json TEXT,
    deleted BOOLEAN NOT NULL,
    created TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id)
);
COMMENT ON TABLE products IS 'Stripe products.';
COMMENT ON COLUMN products.id IS 'Stripe product id';
COMMENT ON COLUMN products.name IS 'product name';
COMMENT ON COLUMN products.active IS 'available for new purchases';
COMMENT ON COLUMN products.metadata_json IS 'metadata as JSON text';
COMMENT ON COLUMN products.deleted IS 'deleted in Stripe';
COMMENT ON COLUMN products.created IS 'creation time';
COMMENT ON COLUMN products.updated_at IS 'last time this row changed';

-- table: plans
CREATE TABLE plans (
    id VARCHAR(255) NOT NULL,
    source VARCHAR(16) NOT NULL,
    product_id VARCHAR(255),
    name TEXT,
    nickname TEXT,
    amount BIGINT,
    currency VARCHAR(3) NOT NULL,
    type VARCHAR(16) NOT NULL,
    interval VARCHAR(8),
    interval_count INTEGER NOT NULL,
    usage_type VARCHAR(16) NOT NULL,
    tax_behavior VARCHAR(16),
    active BOOLEAN NOT NULL,
    metadata_json TEXT,
    deleted BOOLEAN NOT NULL,
    created TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_plans_product_id ON plans (product_id);
COMMENT ON TABLE plans IS 'Stripe prices, legacy Stripe plans, and plans created through the API.';
COMMENT ON COLUMN plans.id IS 'price id, plan id, or the API plan id';
COMMENT ON COLUMN plans.source IS 'stripe_price, stripe_plan or api';
COMMENT ON COLUMN plans.product_id IS 'Stripe product id';
COMMENT ON COLUMN plans.name IS 'display name: nickname, else product name, else id';
COMMENT ON COLUMN plans.nickname IS 'Stripe''s nickname of the price or plan';
COMMENT ON COLUMN plans.amount IS 'unit amount in cents; NULL for tiered prices';
COMMENT ON COLUMN plans.currency IS 'currency';
COMMENT ON COLUMN plans.type IS 'recurring or one_time';
COMMENT ON COLUMN plans.interval IS 'day, week, month or year; NULL for one-time prices';
COMMENT ON COLUMN plans.interval_count IS 'number of intervals per billing period';
COMMENT ON COLUMN plans.usage_type IS 'licensed or metered';
COMMENT ON COLUMN plans.tax_behavior IS 'exclusive, inclusive or unspecified';
COMMENT ON COLUMN plans.active IS 'available for new subscriptions';
COMMENT ON COLUMN plans.metadata_json IS 'metadata as JSON text';
COMMENT ON COLUMN plans.deleted IS 'deleted in Stripe';
COMMENT ON COLUMN plans.created IS 'creation time';
COMMENT ON COLUMN plans.updated_at IS 'last time this row changed';

-- table: coupons
CREATE TABLE coupons (
    id VARCHAR(255) NOT NULL,
    name TEXT,
    percent_off NUMERIC(7, 4),
    amount_off BIGINT,
    currency VARCHAR(3),
    duration VARCHAR(16) NOT NULL,
    duration_in_months INTEGER,
    valid BOOLEAN NOT NULL,
    deleted BOOLEAN NOT NULL,
    created TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id)
);
COMMENT ON TABLE coupons IS 'Stripe coupons.';
COMMENT ON COLUMN coupons.id IS 'coupon id';
COMMENT ON COLUMN coupons.name IS 'coupon name';
COMMENT ON COLUMN coupons.percent_off IS 'percentage off, e.g. 25.5';
COMMENT ON COLUMN coupons.amount_off IS 'amount off in cents';
COMMENT ON COLUMN coupons.currency IS 'currency of amount_off';
COMMENT ON COLUMN coupons.duration IS 'once, repeating or forever';
COMMENT ON COLUMN coupons.duration_in_months IS 'months, for repeating coupons';
COMMENT ON COLUMN coupons.valid IS 'can still be applied';
COMMENT ON COLUMN coupons.deleted IS 'deleted in Stripe';
COMMENT ON COLUMN coupons.created IS 'creation time';
COMMENT ON COLUMN coupons.updated_at IS 'last time this row changed';

-- table: discounts
CREATE TABLE discounts (
    id VARCHAR(255) NOT NULL,
    coupon_id VARCHAR(255),
    customer_id INTEGER,
    subscription_id VARCHAR(255),
    invoice_id VARCHAR(255),
    starts_at TIMESTAMP WITHOUT TIME ZONE,
    ends_at TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_discounts_customer_id ON discounts (customer_id);
COMMENT ON TABLE discounts IS 'Discounts applied to customers, subscriptions or invoices.';
COMMENT ON COLUMN discounts.id IS 'discount id';
COMMENT ON COLUMN discounts.coupon_id IS 'coupons.id';
COMMENT ON COLUMN discounts.customer_id IS 'customers.id';
COMMENT ON COLUMN discounts.subscription_id IS 'subscription it applies to';
COMMENT ON COLUMN discounts.invoice_id IS 'invoice it applies to';
COMMENT ON COLUMN discounts.starts_at IS 'start of the discount';
COMMENT ON COLUMN discounts.ends_at IS 'end of the discount (NULL: forever)';
COMMENT ON COLUMN discounts.updated_at IS 'last time this row changed';

-- table: invoice_items
CREATE TABLE invoice_items (
    id VARCHAR(255) NOT NULL,
    customer_id INTEGER,
    invoice_id VARCHAR(255),
    subscription_id VARCHAR(255),
    plan_id VARCHAR(255),
    amount BIGINT NOT NULL,
    currency VARCHAR(3) NOT NULL,
    quantity INTEGER,
    proration BOOLEAN NOT NULL,
    description TEXT,
    period_start TIMESTAMP WITHOUT TIME ZONE,
    period_end TIMESTAMP WITHOUT TIME ZONE,
    deleted BOOLEAN NOT NULL,
    created TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_invoice_items_customer_id ON invoice_items (customer_id);
COMMENT ON TABLE invoice_items IS 'Stripe invoice items (one-off charges and prorations).';
COMMENT ON COLUMN invoice_items.id IS 'invoice item id';
COMMENT ON COLUMN invoice_items.customer_id IS 'customers.id';
COMMENT ON COLUMN invoice_items.invoice_id IS 'invoice it was billed on';
COMMENT ON COLUMN invoice_items.subscription_id IS 'subscription it belongs to';
COMMENT ON COLUMN invoice_items.plan_id IS 'price id';
COMMENT ON COLUMN invoice_items.amount IS 'amount';
COMMENT ON COLUMN invoice_items.currency IS 'currency';
COMMENT ON COLUMN invoice_items.quantity IS 'quantity';
COMMENT ON COLUMN invoice_items.proration IS 'a proration';
COMMENT ON COLUMN invoice_items.description IS 'description';
COMMENT ON COLUMN invoice_items.period_start IS 'period start';
COMMENT ON COLUMN invoice_items.period_end IS 'period end';
COMMENT ON COLUMN invoice_items.deleted IS 'deleted in Stripe';
COMMENT ON COLUMN invoice_items.created IS 'creation time (`date`)';
COMMENT ON COLUMN invoice_items.updated_at IS 'last time this row changed';

-- table: credit_notes
CREATE TABLE credit_notes (
    id VARCHAR(255) NOT NULL,
    invoice_id VARCHAR(255),
    customer_id INTEGER,
    amount BIGINT NOT NULL,
    tax_amount BIGINT NOT NULL,
    currency VARCHAR(3) NOT NULL,
    status VARCHAR(16) NOT NULL,
    reason VARCHAR(64),
    created TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_credit_notes_customer_id ON credit_notes (customer_id);
CREATE INDEX ix_credit_notes_invoice_id ON credit_notes (invoice_id);
COMMENT ON TABLE credit_notes IS 'Stripe credit notes; they reduce total contract value.';
COMMENT ON COLUMN credit_notes.id IS 'credit note id';
COMMENT ON COLUMN credit_notes.invoice_id IS 'invoice credited';
COMMENT ON COLUMN credit_notes.customer_id IS 'customers.id';
COMMENT ON COLUMN credit_notes.amount IS 'total credited, tax included';
COMMENT ON COLUMN credit_notes.tax_amount IS 'tax part of amount';
COMMENT ON COLUMN credit_notes.currency IS 'currency';
COMMENT ON COLUMN credit_notes.status IS 'issued or void';
COMMENT ON COLUMN credit_notes.reason IS 'reason given';
COMMENT ON COLUMN credit_notes.created IS 'creation time';
COMMENT ON COLUMN credit_notes.updated_at IS 'last time this row changed';

-- table: refunds
CREATE TABLE refunds (
    id VARCHAR(255) NOT NULL,
    charge_id VARCHAR(255),
    payment_intent_id VARCHAR(255),
    invoice_id VARCHAR(255),
    customer_id INTEGER,
    amount BIGINT NOT NULL,
    currency VARCHAR(3) NOT NULL,
    status VARCHAR(16) NOT NULL,
    reason VARCHAR(64),
    created TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_refunds_customer_id ON refunds (customer_id);
CREATE INDEX ix_refunds_invoice_id ON refunds (invoice_id);
COMMENT ON TABLE refunds IS 'Stripe refunds; succeeded ones reduce total contract value.';
COMMENT ON COLUMN refunds.id IS 'refund id';
COMMENT ON COLUMN refunds.charge_id IS 'charge refunded';
COMMENT ON COLUMN refunds.payment_intent_id IS 'payment intent refunded';
COMMENT ON COLUMN refunds.invoice_id IS 'invoice whose payment was refunded, when known';
COMMENT ON COLUMN refunds.customer_id IS 'customers.id, when known';
COMMENT ON COLUMN refunds.amount IS 'amount refunded';
COMMENT ON COLUMN refunds.currency IS 'currency';
COMMENT ON COLUMN refunds.status IS 'pending, succeeded, failed or canceled';
COMMENT ON COLUMN refunds.reason IS 'reason given';
COMMENT ON COLUMN refunds.created IS 'creation time';
COMMENT ON COLUMN refunds.updated_at IS 'last time this row changed';

-- table: customer_plan_mrr
CREATE TABLE customer_plan_mrr (
    customer_id INTEGER NOT NULL,
    plan_id VARCHAR(255) NOT NULL,
    month DATE NOT NULL,
    currency VARCHAR(3) NOT NULL,
    mrr BIGINT NOT NULL,
    previous_mrr BIGINT NOT NULL,
    movement VARCHAR(16),
    waiting_mrr BIGINT NOT NULL,
    PRIMARY KEY (customer_id, plan_id, month, currency)
);
CREATE INDEX ix_customer_plan_mrr_month_plan ON customer_plan_mrr (month, plan_id);
COMMENT ON TABLE customer_plan_mrr IS 'MRR per customer, plan and month, with the plan-level movement.';
COMMENT ON COLUMN customer_plan_mrr.customer_id IS 'customers.id';
COMMENT ON COLUMN customer_plan_mrr.plan_id IS 'plans.id';
COMMENT ON COLUMN customer_plan_mrr.month IS 'first day of the month';
COMMENT ON COLUMN customer_plan_mrr.currency IS 'currency';
COMMENT ON COLUMN customer_plan_mrr.mrr IS 'MRR at the end of the month, cents';
COMMENT ON COLUMN customer_plan_mrr.previous_mrr IS 'MRR at the end of the previous month';
COMMENT ON COLUMN customer_plan_mrr.movement IS 'new, lost, upgrade, downgrade, moved_in, moved_out or NULL';
COMMENT ON COLUMN customer_plan_mrr.waiting_mrr IS 'current month: expected MRR of renewals not yet paid';

-- table: customer_mrr
CREATE TABLE customer_mrr (
    customer_id INTEGER NOT NULL,
    month DATE NOT NULL,
    currency VARCHAR(3) NOT NULL,
    mrr BIGINT NOT NULL,
    previous_mrr BIGINT NOT NULL,
    movement VARCHAR(16),
    movement_mrr BIGINT NOT NULL,
    subscriptions INTEGER NOT NULL,
    waiting_mrr BIGINT NOT NULL,
    waiting_subscriptions INTEGER NOT NULL,
    PRIMARY KEY (customer_id, month, currency)
);
CREATE INDEX ix_customer_mrr_month ON customer_mrr (month, currency);
COMMENT ON TABLE customer_mrr IS 'MRR per customer and month, with the customer-level movement.';
COMMENT ON COLUMN customer_mrr.customer_id IS 'customers.id';
COMMENT ON COLUMN customer_mrr.month IS 'first day of the month';
COMMENT ON COLUMN customer_mrr.currency IS 'currency';
COMMENT ON COLUMN customer_mrr.mrr IS 'MRR at the end of the month, cents';
COMMENT ON COLUMN customer_mrr.previous_mrr IS 'MRR at the end of the previous month';
COMMENT ON COLUMN customer_mrr.movement IS 'new, reactivation, expansion, contraction, churn or NULL';
COMMENT ON COLUMN customer_mrr.movement_mrr IS 'size of the movement (positive)';
COMMENT ON COLUMN customer_mrr.subscriptions IS 'distinct subscriptions contributing MRR';
COMMENT ON COLUMN customer_mrr.waiting_mrr IS 'current month: expected MRR of renewals not yet paid';
COMMENT ON COLUMN customer_mrr.waiting_subscriptions IS 'current month: subscriptions waiting for payment';

-- table: mrr_monthly
CREATE TABLE mrr_monthly (
    month DATE NOT NULL,
    currency VARCHAR(3) NOT NULL,
    basis VARCHAR(16) NOT NULL,
    mrr BIGINT NOT NULL,
    subscriptions INTEGER NOT NULL,
    customers INTEGER NOT NULL,
    new_mrr BIGINT NOT NULL,
    new_customers INTEGER NOT NULL,
    reactivation_mrr BIGINT NOT NULL,
    reactivated_customers INTEGER NOT NULL,
    expansion_mrr BIGINT NOT NULL,
    contraction_mrr BIGINT NOT NULL,
    upgrade_mrr BIGINT NOT NULL,
    downgrade_mrr BIGINT NOT NULL,
    change_in_mrr BIGINT NOT NULL,
    lost_mrr BIGINT NOT NULL,
    lost_customers INTEGER NOT NULL,
    waiting_mrr BIGINT NOT NULL,
    waiting_subscriptions INTEGER NOT NULL,
    arr BIGINT NOT NULL,
    arpa BIGINT NOT NULL,
    fx_impact_mrr BIGINT NOT NULL,
    missing_rates TEXT,
    is_current BOOLEAN NOT NULL,
    PRIMARY KEY (month, currency, basis)
);
COMMENT ON TABLE mrr_monthly IS 'MRR and movements per month and currency; basis=reporting rows are converted totals.';
COMMENT ON COLUMN mrr_monthly.month IS 'first day of the month';
COMMENT ON COLUMN mrr_monthly.currency IS 'currency';
COMMENT ON COLUMN mrr_monthly.basis IS 'native (one currency) or reporting (all currencies converted)';
COMMENT ON COLUMN mrr_monthly.mrr IS 'MRR at the end of the month';
COMMENT ON COLUMN mrr_monthly.subscriptions IS 'subscriptions contributing MRR';
COMMENT ON COLUMN mrr_monthly.customers IS 'customers with MRR';
COMMENT ON COLUMN mrr_monthly.new_mrr IS 'new + reactivation (FirstOfficer''s new and returning)';
COMMENT ON COLUMN mrr_monthly.new_customers IS 'new and returning customers';
COMMENT ON COLUMN mrr_monthly.reactivation_mrr IS 'MRR of returning customers';
COMMENT ON COLUMN mrr_monthly.reactivated_customers IS 'returning customers';
COMMENT ON COLUMN mrr_monthly.expansion_mrr IS 'increases of customers paying in both months';
COMMENT ON COLUMN mrr_monthly.contraction_mrr IS 'decreases of customers paying in both months';
COMMENT ON COLUMN mrr_monthly.upgrade_mrr IS '= expansion_mrr';
COMMENT ON COLUMN mrr_monthly.downgrade_mrr IS '= contraction_mrr';
COMMENT ON COLUMN mrr_monthly.change_in_mrr IS 'expansion − contraction';
COMMENT ON COLUMN mrr_monthly.lost_mrr IS 'MRR of customers who stopped paying (churn)';
COMMENT ON COLUMN mrr_monthly.lost_customers IS 'customers who stopped paying';
COMMENT ON COLUMN mrr_monthly.waiting_mrr IS 'current month: expected MRR of renewals not yet paid';
COMMENT ON COLUMN mrr_monthly.waiting_subscriptions IS 'current month: subscriptions waiting for payment';
COMMENT ON COLUMN mrr_monthly.arr IS '12 × mrr';
COMMENT ON COLUMN mrr_monthly.arpa IS 'mrr / customers, rounded half up (0 without customers)';
COMMENT ON COLUMN mrr_monthly.fx_impact_mrr IS 'reporting basis: change of MRR due to exchange rates';
COMMENT ON COLUMN mrr_monthly.missing_rates IS 'reporting basis: currencies left out for lack of a rate';
COMMENT ON COLUMN mrr_monthly.is_current IS 'the month of as_of (not yet closed)';

-- table: mrr_by_plan
CREATE TABLE mrr_by_plan (
    month DATE NOT NULL,
    plan_id VARCHAR(255) NOT NULL,
    currency VARCHAR(3) NOT NULL,
    plan_name TEXT,
    total_mrr BIGINT NOT NULL,
    total_customers INTEGER NOT NULL,
    beginning_mrr BIGINT NOT NULL,
    beginning_customers INTEGER NOT NULL,
    new_mrr BIGINT NOT NULL,
    new_customers INTEGER NOT NULL,
    upgrade_mrr BIGINT NOT NULL,
    downgrade_mrr BIGINT NOT NULL,
    moved_in_mrr BIGINT NOT NULL,
    moved_in_customers INTEGER NOT NULL,
    moved_out_mrr BIGINT NOT NULL,
    moved_out_customers INTEGER NOT NULL,
    expansion_mrr BIGINT NOT NULL,
    contraction_mrr BIGINT NOT NULL,
    lost_mrr BIGINT NOT NULL,
    lost_customers INTEGER NOT NULL,
    waiting_mrr BIGINT NOT NULL,
    waiting_customers INTEGER NOT NULL,
    end_of_term_mrr BIGINT NOT NULL,
    end_of_term_customers INTEGER NOT NULL,
    PRIMARY KEY (month, plan_id, currency)
);
COMMENT ON TABLE mrr_by_plan IS 'MRR and movements per plan and month.';
COMMENT ON COLUMN mrr_by_plan.month IS 'first day of the month';
COMMENT ON COLUMN mrr_by_plan.plan_id IS 'plans.id (FirstOfficer''s plan_eid)';
COMMENT ON COLUMN mrr_by_plan.currency IS 'currency of the figures';
COMMENT ON COLUMN mrr_by_plan.plan_name IS 'plan name';
COMMENT ON COLUMN mrr_by_plan.total_mrr IS 'Σ MRR of the plan';
COMMENT ON COLUMN mrr_by_plan.total_customers IS 'customers with MRR on the plan';
COMMENT ON COLUMN mrr_by_plan.beginning_mrr IS 'the plan''s MRR at the end of the previous month';
COMMENT ON COLUMN mrr_by_plan.beginning_customers IS 'customers at the end of the previous month';
COMMENT ON COLUMN mrr_by_plan.new_mrr IS 'MRR of customers with no MRR last month';
COMMENT ON COLUMN mrr_by_plan.new_customers IS 'customers with no MRR last month';
COMMENT ON COLUMN mrr_by_plan.upgrade_mrr IS 'increases on the plan';
COMMENT ON COLUMN mrr_by_plan.downgrade_mrr IS 'decreases on the plan (still on it)';
COMMENT ON COLUMN mrr_by_plan.moved_in_mrr IS 'MRR of customers who came from another plan';
COMMENT ON COLUMN mrr_by_plan.moved_in_customers IS 'customers who came from another plan';
COMMENT ON COLUMN mrr_by_plan.moved_out_mrr IS 'MRR of customers who moved to another plan';
COMMENT ON COLUMN mrr_by_plan.moved_out_customers IS 'customers who moved to another plan';
COMMENT ON COLUMN mrr_by_plan.expansion_mrr IS 'upgrade + moved in';
COMMENT ON COLUMN mrr_by_plan.contraction_mrr IS 'downgrade + moved out';
COMMENT ON COLUMN mrr_by_plan.lost_mrr IS 'MRR of customers who stopped paying';
COMMENT ON COLUMN mrr_by_plan.lost_customers IS 'customers who stopped paying';
COMMENT ON COLUMN mrr_by_plan.waiting_mrr IS 'current month: waiting MRR of the plan';
COMMENT ON COLUMN mrr_by_plan.waiting_customers IS 'current month: customers waiting on the plan';
COMMENT ON COLUMN mrr_by_plan.end_of_term_mrr IS 'total_mrr + waiting_mrr';
COMMENT ON COLUMN mrr_by_plan.end_of_term_customers IS 'total_customers + waiting_customers';

-- table: dirty_customers
CREATE TABLE dirty_customers (
    customer_id INTEGER NOT NULL,
    marked_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (customer_id)
);
COMMENT ON TABLE dirty_customers IS 'Customers whose revenue lines changed since the last recompute.';
COMMENT ON COLUMN dirty_customers.customer_id IS 'customers.id';
COMMENT ON COLUMN dirty_customers.marked_at IS 'when the change was recorded';

-- table: fx_rates
CREATE TABLE fx_rates (
    currency VARCHAR(3) NOT NULL,
    month DATE NOT NULL,
    rate NUMERIC(20, 10) NOT NULL,
    PRIMARY KEY (currency, month)
);
COMMENT ON TABLE fx_rates IS 'Exchange rates: 1 unit of currency = rate units of the reporting currency.';
COMMENT ON COLUMN fx_rates.currency IS 'currency converted from';
COMMENT ON COLUMN fx_rates.month IS 'first day of the month the rate converts';
COMMENT ON COLUMN fx_rates.rate IS 'units of reporting currency per unit of currency';

-- table: sync_cursors
CREATE TABLE sync_cursors (
    resource VARCHAR(255) NOT NULL,
    cursor VARCHAR(255),
    phase VARCHAR(16) NOT NULL,
    state_json TEXT,
    sync_run_id INTEGER,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (resource)
);
COMMENT ON TABLE sync_cursors IS 'Where each resource''s sync resumes.';
COMMENT ON COLUMN sync_cursors.resource IS 'resource or slice name, e.g. invoices or events';
COMMENT ON COLUMN sync_cursors.cursor IS 'last object id (or event id) written';
COMMENT ON COLUMN sync_cursors.phase IS 'full, done or incremental';
COMMENT ON COLUMN sync_cursors.state_json IS 'extra resumable state as JSON';
COMMENT ON COLUMN sync_cursors.sync_run_id IS 'run that wrote it';
COMMENT ON COLUMN sync_cursors.updated_at IS 'when it moved';

-- table: sync_runs
CREATE TABLE sync_runs (
    id SERIAL NOT NULL,
    kind VARCHAR(16) NOT NULL,
    status VARCHAR(16) NOT NULL,
    started_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    finished_at TIMESTAMP WITHOUT TIME ZONE,
    objects INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    retries INTEGER NOT NULL,
    malformed INTEGER NOT NULL,
    counts_json TEXT,
    error TEXT,
    PRIMARY KEY (id)
);
COMMENT ON TABLE sync_runs IS 'One row per sync or backfill run.';
COMMENT ON COLUMN sync_runs.id IS 'run id';
COMMENT ON COLUMN sync_runs.kind IS 'full, incremental or backfill';
COMMENT ON COLUMN sync_runs.status IS 'running, ok, failed or interrupted';
COMMENT ON COLUMN sync_runs.started_at IS 'start';
COMMENT ON COLUMN sync_runs.finished_at IS 'end';
COMMENT ON COLUMN sync_runs.objects IS 'objects written';
COMMENT ON COLUMN sync_runs.requests IS 'HTTP requests made';
COMMENT ON COLUMN sync_runs.retries IS 'retried requests';
COMMENT ON COLUMN sync_runs.malformed IS 'objects stored raw but not normalized';
COMMENT ON COLUMN sync_runs.counts_json IS 'objects per resource as JSON';
COMMENT ON COLUMN sync_runs.error IS 'error message of a failed run';

-- table: locks
CREATE TABLE locks (
    name VARCHAR(255) NOT NULL,
    holder VARCHAR(255) NOT NULL,
    acquired_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    heartbeat_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (name)
);
COMMENT ON TABLE locks IS 'Advisory locks that keep two syncs from running at once.';
COMMENT ON COLUMN locks.name IS 'lock name';
COMMENT ON COLUMN locks.holder IS 'host:pid of the holder';
COMMENT ON COLUMN locks.acquired_at IS 'when taken';
COMMENT ON COLUMN locks.heartbeat_at IS 'last sign of life of the holder';

-- table: job_runs
CREATE TABLE job_runs (
    id SERIAL NOT NULL,
    job VARCHAR(32) NOT NULL,
    trigger VARCHAR(16) NOT NULL,
    status VARCHAR(16) NOT NULL,
    started_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    finished_at TIMESTAMP WITHOUT TIME ZONE,
    counts_json TEXT,
    error TEXT,
    PRIMARY KEY (id)
);
CREATE INDEX ix_job_runs_job_started ON job_runs (job, started_at);
COMMENT ON TABLE job_runs IS 'Every run of a scheduled or manual job.';
COMMENT ON COLUMN job_runs.id IS 'run id';
COMMENT ON COLUMN job_runs.job IS 'sync, recompute, reconcile, prune, …';
COMMENT ON COLUMN job_runs.trigger IS 'daemon, cron, cli or api';
COMMENT ON COLUMN job_runs.status IS 'running, ok, failed or skipped (another sync held the lock)';
COMMENT ON COLUMN job_runs.started_at IS 'start';
COMMENT ON COLUMN job_runs.finished_at IS 'end';
COMMENT ON COLUMN job_runs.counts_json IS 'what the job did, as JSON';
COMMENT ON COLUMN job_runs.error IS 'error message';

-- table: api_keys
CREATE TABLE api_keys (
    id VARCHAR(32) NOT NULL,
    name TEXT,
    key_hash VARCHAR(64) NOT NULL,
    prefix VARCHAR(16) NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    last_used_at TIMESTAMP WITHOUT TIME ZONE,
    revoked_at TIMESTAMP WITHOUT TIME ZONE,
    PRIMARY KEY (id),
    UNIQUE (key_hash)
);
COMMENT ON TABLE api_keys IS 'HTTP API keys; only a hash is stored.';
COMMENT ON COLUMN api_keys.id IS 'public key id, e.g. key_3f9a…';
COMMENT ON COLUMN api_keys.name IS 'label';
COMMENT ON COLUMN api_keys.key_hash IS 'SHA-256 of the key';
COMMENT ON COLUMN api_keys.prefix IS 'first characters of the key, to recognise it';
COMMENT ON COLUMN api_keys.created_at IS 'creation time';
COMMENT ON COLUMN api_keys.last_used_at IS 'last successful use';
COMMENT ON COLUMN api_keys.revoked_at IS 'revocation time';

-- table: subscriptions
CREATE TABLE subscriptions (
    id VARCHAR(255) NOT NULL,
    customer_id INTEGER,
    stripe_customer_id VARCHAR(255),
    status VARCHAR(32) NOT NULL,
    currency VARCHAR(3),
    start_date TIMESTAMP WITHOUT TIME ZONE,
    current_period_start TIMESTAMP WITHOUT TIME ZONE,
    current_period_end TIMESTAMP WITHOUT TIME ZONE,
    trial_start TIMESTAMP WITHOUT TIME ZONE,
    trial_end TIMESTAMP WITHOUT TIME ZONE,
    cancel_at_period_end BOOLEAN NOT NULL,
    cancel_at TIMESTAMP WITHOUT TIME ZONE,
    canceled_at TIMESTAMP WITHOUT TIME ZONE,
    ended_at TIMESTAMP WITHOUT TIME ZONE,
    coupon_id VARCHAR(255),
    metadata_json TEXT,
    created TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(customer_id) REFERENCES customers (id)
);
CREATE INDEX ix_subscriptions_customer_id ON subscriptions (customer_id);
CREATE INDEX ix_subscriptions_status ON subscriptions (status);
COMMENT ON TABLE subscriptions IS 'Stripe subscriptions (all statuses).';
COMMENT ON COLUMN subscriptions.id IS 'Stripe subscription id';
COMMENT ON COLUMN subscriptions.customer_id IS 'customers.id';
COMMENT ON COLUMN subscriptions.stripe_customer_id IS 'Stripe customer id';
COMMENT ON COLUMN subscriptions.status IS 'trialing, active, past_due, canceled, unpaid, incomplete, …';
COMMENT ON COLUMN subscriptions.currency IS 'currency';
COMMENT ON COLUMN subscriptions.start_date IS 'when the subscription started';
COMMENT ON COLUMN subscriptions.current_period_start IS 'start of the current period';
COMMENT ON COLUMN subscriptions.current_period_end IS 'end of the current period';
COMMENT ON COLUMN subscriptions.trial_start IS 'trial start';
COMMENT ON COLUMN subscriptions.trial_end IS 'trial end';
COMMENT ON COLUMN subscriptions.cancel_at_period_end IS 'cancels when the period ends';
COMMENT ON COLUMN subscriptions.cancel_at IS 'scheduled cancellation time';
COMMENT ON COLUMN subscriptions.canceled_at IS 'when cancellation was requested';
COMMENT ON COLUMN subscriptions.ended_at IS 'when the subscription ended';
COMMENT ON COLUMN subscriptions.coupon_id IS 'coupon of the subscription''s discount, if any';
COMMENT ON COLUMN subscriptions.metadata_json IS 'metadata as JSON text';
COMMENT ON COLUMN subscriptions.created IS 'creation time';
COMMENT ON COLUMN subscriptions.updated_at IS 'last time this row changed';

-- table: invoices
CREATE TABLE invoices (
    id VARCHAR(255) NOT NULL,
    source VARCHAR(16) NOT NULL,
    customer_id INTEGER,
    stripe_customer_id VARCHAR(255),
    subscription_id VARCHAR(255),
    status VARCHAR(16) NOT NULL,
    billing_reason VARCHAR(32),
    currency VARCHAR(3) NOT NULL,
    subtotal BIGINT NOT NULL,
    discount BIGINT NOT NULL,
    tax BIGINT NOT NULL,
    total BIGINT NOT NULL,
    amount_due BIGINT NOT NULL,
    amount_paid BIGINT NOT NULL,
    plan_id VARCHAR(255),
    quantity INTEGER,
    description TEXT,
    number VARCHAR(255),
    created TIMESTAMP WITHOUT TIME ZONE,
    due_date TIMESTAMP WITHOUT TIME ZONE,
    paid_at TIMESTAMP WITHOUT TIME ZONE,
    period_start TIMESTAMP WITHOUT TIME ZONE,
    period_end TIMESTAMP WITHOUT TIME ZONE,
    payment_intent_id VARCHAR(255),
    lines_complete BOOLEAN NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(customer_id) REFERENCES customers (id)
);
CREATE INDEX ix_invoices_status ON invoices (status);
CREATE INDEX ix_invoices_subscription_id ON invoices (subscription_id);
CREATE INDEX ix_invoices_source_created ON invoices (source, created);
CREATE INDEX ix_invoices_payment_intent_id ON invoices (payment_intent_id);
CREATE INDEX ix_invoices_customer ON invoices (customer_id);
COMMENT ON TABLE invoices IS 'Invoices from Stripe (source=stripe) and imported ones (source=manual).';
COMMENT ON COLUMN invoices.id IS 'Stripe invoice id, or the imported invoice''s id';
COMMENT ON COLUMN invoices.source IS 'stripe or manual';
COMMENT ON COLUMN invoices.customer_id IS 'customers.id';
COMMENT ON COLUMN invoices.stripe_customer_id IS 'Stripe customer id';
COMMENT ON COLUMN invoices.subscription_id IS 'Stripe subscription id, or the imported subscription_id';
COMMENT ON COLUMN invoices.status IS 'draft, open, paid, void or uncollectible';
COMMENT ON COLUMN invoices.billing_reason IS 'subscription_create, subscription_cycle, manual, …';
COMMENT ON COLUMN invoices.currency IS 'currency';
COMMENT ON COLUMN invoices.subtotal IS 'sum of line amounts before discounts, tax excluded';
COMMENT ON COLUMN invoices.discount IS 'total discount amount';
COMMENT ON COLUMN invoices.tax IS 'total tax amount';
COMMENT ON COLUMN invoices.total IS 'subtotal − discount + exclusive tax';
COMMENT ON COLUMN invoices.amount_due IS 'amount due';
COMMENT ON COLUMN invoices.amount_paid IS 'amount paid';
COMMENT ON COLUMN invoices.plan_id IS 'imported invoices: the plan (NULL: one-time revenue)';
COMMENT ON COLUMN invoices.quantity IS 'imported invoices: quantity';
COMMENT ON COLUMN invoices.description IS 'free text';
COMMENT ON COLUMN invoices.number IS 'Stripe invoice number';
COMMENT ON COLUMN invoices.created IS 'invoice date (`date` for imported invoices)';
COMMENT ON COLUMN invoices.due_date IS 'due date';
COMMENT ON COLUMN invoices.paid_at IS 'when it was paid (`date_paid`)';
COMMENT ON COLUMN invoices.period_start IS 'service period start';
COMMENT ON COLUMN invoices.period_end IS 'service period end';
COMMENT ON COLUMN invoices.payment_intent_id IS 'payment intent that paid it (links refunds to the invoice)';
COMMENT ON COLUMN invoices.lines_complete IS 'all lines are stored (beyond the embedded first page)';
COMMENT ON COLUMN invoices.updated_at IS 'last time this row changed';

-- table: revenue_lines
CREATE TABLE revenue_lines (
    id SERIAL NOT NULL,
    customer_id INTEGER NOT NULL,
    source VARCHAR(16) NOT NULL,
    invoice_id VARCHAR(255) NOT NULL,
    line_id VARCHAR(255) NOT NULL,
    plan_id VARCHAR(255),
    subscription_id VARCHAR(255),
    kind VARCHAR(16) NOT NULL,
    currency VARCHAR(3) NOT NULL,
    amount BIGINT NOT NULL,
    discount_amount BIGINT NOT NULL,
    tax_amount BIGINT NOT NULL,
    net_amount BIGINT NOT NULL,
    quantity INTEGER,
    interval VARCHAR(8),
    interval_count INTEGER,
    period_start TIMESTAMP WITHOUT TIME ZONE,
    period_end TIMESTAMP WITHOUT TIME ZONE,
    invoice_status VARCHAR(16) NOT NULL,
    due_date TIMESTAMP WITHOUT TIME ZONE,
    paid_at TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_revenue_line UNIQUE (source, line_id),
    FOREIGN KEY(customer_id) REFERENCES customers (id)
);
CREATE INDEX ix_revenue_lines_customer ON revenue_lines (customer_id);
CREATE INDEX ix_revenue_lines_updated ON revenue_lines (updated_at);
CREATE INDEX ix_revenue_lines_invoice_id ON revenue_lines (invoice_id);
COMMENT ON TABLE revenue_lines IS 'One row per invoice line, Stripe and imported alike: the input of every metric.';
COMMENT ON COLUMN revenue_lines.id IS 'surrogate key';
COMMENT ON COLUMN revenue_lines.customer_id IS 'customers.id';
COMMENT ON COLUMN revenue_lines.source IS 'stripe or manual';
COMMENT ON COLUMN revenue_lines.invoice_id IS 'invoices.id';
COMMENT ON COLUMN revenue_lines.line_id IS 'invoice_lines.id';
COMMENT ON COLUMN revenue_lines.plan_id IS 'plan/price id; NULL for one-time lines without a plan';
COMMENT ON COLUMN revenue_lines.subscription_id IS 'subscription the line belongs to';
COMMENT ON COLUMN revenue_lines.kind IS 'subscription, proration, metered or one_time';
COMMENT ON COLUMN revenue_lines.currency IS 'currency';
COMMENT ON COLUMN revenue_lines.amount IS 'line amount before discounts, tax excluded';
COMMENT ON COLUMN revenue_lines.discount_amount IS 'discounts on the line';
COMMENT ON COLUMN revenue_lines.tax_amount IS 'tax on the line';
COMMENT ON COLUMN revenue_lines.net_amount IS 'amount − discount_amount (tax excluded)';
COMMENT ON COLUMN revenue_lines.quantity IS 'quantity';
COMMENT ON COLUMN revenue_lines.interval IS 'plan interval: day, week, month, year';
COMMENT ON COLUMN revenue_lines.interval_count IS 'plan interval count';
COMMENT ON COLUMN revenue_lines.period_start IS 'service period start (inclusive)';
COMMENT ON COLUMN revenue_lines.period_end IS 'service period end (exclusive)';
COMMENT ON COLUMN revenue_lines.invoice_status IS 'status of the invoice: paid, open, …';
COMMENT ON COLUMN revenue_lines.due_date IS 'invoice due date';
COMMENT ON COLUMN revenue_lines.paid_at IS 'when the invoice was paid';
COMMENT ON COLUMN revenue_lines.updated_at IS 'last time this row changed';

-- table: customer_snapshots
CREATE TABLE customer_snapshots (
    customer_id INTEGER NOT NULL,
    month DATE NOT NULL,
    currency VARCHAR(3),
    current_mrr BIGINT NOT NULL,
    current_subscription_count INTEGER NOT NULL,
    total_contract_value BIGINT NOT NULL,
    waiting_mrr BIGINT NOT NULL,
    as_of TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (customer_id),
    FOREIGN KEY(customer_id) REFERENCES customers (id) ON DELETE CASCADE
);
COMMENT ON TABLE customer_snapshots IS 'Per-customer figures served by the API.';
COMMENT ON COLUMN customer_snapshots.customer_id IS 'customers.id';
COMMENT ON COLUMN customer_snapshots.month IS 'the current month when computed';
COMMENT ON COLUMN customer_snapshots.currency IS 'currency of the figures';
COMMENT ON COLUMN customer_snapshots.current_mrr IS 'MRR in the current month';
COMMENT ON COLUMN customer_snapshots.current_subscription_count IS 'subscriptions contributing MRR this month (0 = lost)';
COMMENT ON COLUMN customer_snapshots.total_contract_value IS 'all counted line net amounts ever, minus refunds and credit notes';
COMMENT ON COLUMN customer_snapshots.waiting_mrr IS 'expected MRR of renewals not yet paid this month';
COMMENT ON COLUMN customer_snapshots.as_of IS 'the `as_of` instant of the computation';

-- table: subscription_items
CREATE TABLE subscription_items (
    id VARCHAR(255) NOT NULL,
    subscription_id VARCHAR(255) NOT NULL,
    plan_id VARCHAR(255),
    quantity INTEGER NOT NULL,
    current_period_start TIMESTAMP WITHOUT TIME ZONE,
    current_period_end TIMESTAMP WITHOUT TIME ZONE,
    created TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(subscription_id) REFERENCES subscriptions (id) ON DELETE CASCADE
);
CREATE INDEX ix_subscription_items_subscription_id ON subscription_items (subscription_id);
COMMENT ON TABLE subscription_items IS 'Items (price × quantity) of Stripe subscriptions.';
COMMENT ON COLUMN subscription_items.id IS 'subscription item id';
COMMENT ON COLUMN subscription_items.subscription_id IS 'subscriptions.id';
COMMENT ON COLUMN subscription_items.plan_id IS 'price or plan id (plans.id)';
COMMENT ON COLUMN subscription_items.quantity IS 'quantity (seats)';
COMMENT ON COLUMN subscription_items.current_period_start IS 'start of the item''s current period';
COMMENT ON COLUMN subscription_items.current_period_end IS 'end of the item''s current period';
COMMENT ON COLUMN subscription_items.created IS 'creation time';
COMMENT ON COLUMN subscription_items.updated_at IS 'last time this row changed';

-- table: invoice_lines
CREATE TABLE invoice_lines (
    id VARCHAR(255) NOT NULL,
    invoice_id VARCHAR(255) NOT NULL,
    position INTEGER NOT NULL,
    customer_id INTEGER,
    subscription_id VARCHAR(255),
    subscription_item_id VARCHAR(255),
    invoice_item_id VARCHAR(255),
    plan_id VARCHAR(255),
    line_type VARCHAR(16) NOT NULL,
    proration BOOLEAN NOT NULL,
    currency VARCHAR(3) NOT NULL,
    amount BIGINT NOT NULL,
    discount_amount BIGINT NOT NULL,
    tax_amount BIGINT NOT NULL,
    inclusive_tax_amount BIGINT NOT NULL,
    quantity INTEGER,
    period_start TIMESTAMP WITHOUT TIME ZONE,
    period_end TIMESTAMP WITHOUT TIME ZONE,
    description TEXT,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(invoice_id) REFERENCES invoices (id) ON DELETE CASCADE
);
CREATE INDEX ix_invoice_lines_customer_id ON invoice_lines (customer_id);
CREATE INDEX ix_invoice_lines_invoice_id ON invoice_lines (invoice_id);
COMMENT ON TABLE invoice_lines IS 'Lines of Stripe and imported invoices.';
COMMENT ON COLUMN invoice_lines.id IS 'Stripe line id, or `<invoice id>:1` for imported invoices';
COMMENT ON COLUMN invoice_lines.invoice_id IS 'invoices.id';
COMMENT ON COLUMN invoice_lines.position IS 'order of the line within its invoice';
COMMENT ON COLUMN invoice_lines.customer_id IS 'customers.id';
COMMENT ON COLUMN invoice_lines.subscription_id IS 'subscription the line bills';
COMMENT ON COLUMN invoice_lines.subscription_item_id IS 'subscription item the line bills';
COMMENT ON COLUMN invoice_lines.invoice_item_id IS 'invoice item the line comes from';
COMMENT ON COLUMN invoice_lines.plan_id IS 'price or plan id (plans.id)';
COMMENT ON COLUMN invoice_lines.line_type IS 'subscription or invoiceitem, as Stripe says';
COMMENT ON COLUMN invoice_lines.proration IS 'a proration line';
COMMENT ON COLUMN invoice_lines.currency IS 'currency';
COMMENT ON COLUMN invoice_lines.amount IS 'line amount before discounts (tax excluded unless the price is tax-inclusive)';
COMMENT ON COLUMN invoice_lines.discount_amount IS 'sum of the line''s discount amounts';
COMMENT ON COLUMN invoice_lines.tax_amount IS 'tax on the line (exclusive and inclusive)';
COMMENT ON COLUMN invoice_lines.inclusive_tax_amount IS 'the part of tax_amount included in amount';
COMMENT ON COLUMN invoice_lines.quantity IS 'quantity';
COMMENT ON COLUMN invoice_lines.period_start IS 'service period start';
COMMENT ON COLUMN invoice_lines.period_end IS 'service period end';
COMMENT ON COLUMN invoice_lines.description IS 'line description';
COMMENT ON COLUMN invoice_lines.updated_at IS 'last time this row changed';

-- view: customer_overview
CREATE VIEW customer_overview AS
SELECT c.id, c.stripe_id, c.extra_id, c.email, c.name, c.currency, c.country, c.state,
       c.deleted,
       COALESCE(s.current_mrr, 0) AS current_mrr,
       COALESCE(s.current_subscription_count, 0) AS current_subscription_count,
       COALESCE(s.total_contract_value, 0) AS total_contract_value
FROM customers c
LEFT JOIN customer_snapshots s ON s.customer_id = c.id;

-- view: mrr_movements
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

-- view: customer_mrr_monthly
CREATE VIEW customer_mrr_monthly AS
SELECT cm.month, cm.customer_id, c.stripe_id, c.email, c.name, cm.currency, cm.mrr,
       cm.previous_mrr, cm.movement, cm.movement_mrr, cm.subscriptions, cm.waiting_mrr,
       12 * cm.mrr AS arr
FROM customer_mrr cm
JOIN customers c ON c.id = cm.customer_id;

-- view: plan_mrr_monthly
CREATE VIEW plan_mrr_monthly AS
SELECT b.month, b.plan_id, COALESCE(b.plan_name, p.name) AS plan_name, b.currency,
       p.amount, p.interval, p.interval_count, b.beginning_mrr, b.new_mrr, b.upgrade_mrr,
       b.downgrade_mrr, b.moved_in_mrr, b.moved_out_mrr, b.lost_mrr, b.total_mrr,
       b.total_customers, b.waiting_mrr, b.end_of_term_mrr
FROM mrr_by_plan b
LEFT JOIN plans p ON p.id = b.plan_id;
