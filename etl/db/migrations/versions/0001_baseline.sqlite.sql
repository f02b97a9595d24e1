-- Revision 0001 (baseline) on sqlite: exactly the DDL `etl init-db` 0.1.0 ran
-- (SQLModel create_all, then the views). Frozen: never edit; add a revision instead.

-- table: raw_objects
CREATE TABLE raw_objects (
    id INTEGER NOT NULL,
    object_type VARCHAR(255) NOT NULL,
    stripe_id VARCHAR(255) NOT NULL,
    api_version VARCHAR(255),
    created DATETIME,
    fetched_at DATETIME NOT NULL,
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

-- table: customers
CREATE TABLE customers (
    id INTEGER NOT NULL,
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
    created DATETIME,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (stripe_id),
    UNIQUE (email_key)
);
CREATE INDEX ix_customers_country ON customers (country);
CREATE INDEX ix_customers_extra_id ON customers (extra_id);

-- table: products
CREATE TABLE products (
    id VARCHAR(255) NOT NULL,
    name TEXT,
    active BOOLEAN NOT NULL,
    metadata_json TEXT,
    deleted BOOLEAN NOT NULL,
    created DATETIME,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id)
);

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
    created DATETIME,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_plans_product_id ON plans (product_id);

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
    created DATETIME,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id)
);

-- table: discounts
CREATE TABLE discounts (
    id VARCHAR(255) NOT NULL,
    coupon_id VARCHAR(255),
    customer_id INTEGER,
    subscription_id VARCHAR(255),
    invoice_id VARCHAR(255),
    starts_at DATETIME,
    ends_at DATETIME,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_discounts_customer_id ON discounts (customer_id);

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
    period_start DATETIME,
    period_end DATETIME,
    deleted BOOLEAN NOT NULL,
    created DATETIME,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_invoice_items_customer_id ON invoice_items (customer_id);

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
    created DATETIME,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_credit_notes_customer_id ON credit_notes (customer_id);
CREATE INDEX ix_credit_notes_invoice_id ON credit_notes (invoice_id);

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
    created DATETIME,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_refunds_customer_id ON refunds (customer_id);
CREATE INDEX ix_refunds_invoice_id ON refunds (invoice_id);

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

-- table: dirty_customers
CREATE TABLE dirty_customers (
    customer_id INTEGER NOT NULL,
    marked_at DATETIME NOT NULL,
    PRIMARY KEY (customer_id)
);

-- table: fx_rates
CREATE TABLE fx_rates (
    currency VARCHAR(3) NOT NULL,
    month DATE NOT NULL,
    rate NUMERIC(20, 10) NOT NULL,
    PRIMARY KEY (currency, month)
);

-- table: sync_cursors
CREATE TABLE sync_cursors (
    resource VARCHAR(255) NOT NULL,
    cursor VARCHAR(255),
    phase VARCHAR(16) NOT NULL,
    state_json TEXT,
    sync_run_id INTEGER,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (resource)
);

-- table: sync_runs
CREATE TABLE sync_runs (
    id INTEGER NOT NULL,
    kind VARCHAR(16) NOT NULL,
    status VARCHAR(16) NOT NULL,
    started_at DATETIME NOT NULL,
    finished_at DATETIME,
    objects INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    retries INTEGER NOT NULL,
    malformed INTEGER NOT NULL,
    counts_json TEXT,
    error TEXT,
    PRIMARY KEY (id)
);

-- table: locks
CREATE TABLE locks (
    name VARCHAR(255) NOT NULL,
    holder VARCHAR(255) NOT NULL,
    acquired_at DATETIME NOT NULL,
    heartbeat_at DATETIME NOT NULL,
    PRIMARY KEY (name)
);

-- table: job_runs
CREATE TABLE job_runs (
    id INTEGER NOT NULL,
    job VARCHAR(32) NOT NULL,
    "trigger" VARCHAR(16) NOT NULL,
    status VARCHAR(16) NOT NULL,
    started_at DATETIME NOT NULL,
    finished_at DATETIME,
    counts_json TEXT,
    error TEXT,
    PRIMARY KEY (id)
);
CREATE INDEX ix_job_runs_job_started ON job_runs (job, started_at);

-- table: api_keys
CREATE TABLE api_keys (
    id VARCHAR(32) NOT NULL,
    name TEXT,
    key_hash VARCHAR(64) NOT NULL,
    prefix VARCHAR(16) NOT NULL,
    created_at DATETIME NOT NULL,
    last_used_at DATETIME,
    revoked_at DATETIME,
    PRIMARY KEY (id),
    UNIQUE (key_hash)
);

-- table: subscriptions
CREATE TABLE subscriptions (
    id VARCHAR(255) NOT NULL,
    customer_id INTEGER,
    stripe_customer_id VARCHAR(255),
    status VARCHAR(32) NOT NULL,
    currency VARCHAR(3),
    start_date DATETIME,
    current_period_start DATETIME,
    current_period_end DATETIME,
    trial_start DATETIME,
    trial_end DATETIME,
    cancel_at_period_end BOOLEAN NOT NULL,
    cancel_at DATETIME,
    canceled_at DATETIME,
    ended_at DATETIME,
    coupon_id VARCHAR(255),
    metadata_json TEXT,
    created DATETIME,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(customer_id) REFERENCES customers (id)
);
CREATE INDEX ix_subscriptions_customer_id ON subscriptions (customer_id);
CREATE INDEX ix_subscriptions_status ON subscriptions (status);

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
    created DATETIME,
    due_date DATETIME,
    paid_at DATETIME,
    period_start DATETIME,
    period_end DATETIME,
    payment_intent_id VARCHAR(255),
    lines_complete BOOLEAN NOT NULL,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(customer_id) REFERENCES customers (id)
);
CREATE INDEX ix_invoices_status ON invoices (status);
CREATE INDEX ix_invoices_subscription_id ON invoices (subscription_id);
CREATE INDEX ix_invoices_source_created ON invoices (source, created);
CREATE INDEX ix_invoices_payment_intent_id ON invoices (payment_intent_id);
CREATE INDEX ix_invoices_customer ON invoices (customer_id);

-- table: revenue_lines
CREATE TABLE revenue_lines (
    id INTEGER NOT NULL,
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
    period_start DATETIME,
    period_end DATETIME,
    invoice_status VARCHAR(16) NOT NULL,
    due_date DATETIME,
    paid_at DATETIME,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_revenue_line UNIQUE (source, line_id),
    FOREIGN KEY(customer_id) REFERENCES customers (id)
);
CREATE INDEX ix_revenue_lines_customer ON revenue_lines (customer_id);
CREATE INDEX ix_revenue_lines_updated ON revenue_lines (updated_at);
CREATE INDEX ix_revenue_lines_invoice_id ON revenue_lines (invoice_id);

-- table: customer_snapshots
CREATE TABLE customer_snapshots (
    customer_id INTEGER NOT NULL,
    month DATE NOT NULL,
    currency VARCHAR(3),
    current_mrr BIGINT NOT NULL,
    current_subscription_count INTEGER NOT NULL,
    total_contract_value BIGINT NOT NULL,
    waiting_mrr BIGINT NOT NULL,
    as_of DATETIME NOT NULL,
    PRIMARY KEY (customer_id),
    FOREIGN KEY(customer_id) REFERENCES customers (id) ON DELETE CASCADE
);

-- table: subscription_items
CREATE TABLE subscription_items (
    id VARCHAR(255) NOT NULL,
    subscription_id VARCHAR(255) NOT NULL,
    plan_id VARCHAR(255),
    quantity INTEGER NOT NULL,
    current_period_start DATETIME,
    current_period_end DATETIME,
    created DATETIME,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(subscription_id) REFERENCES subscriptions (id) ON DELETE CASCADE
);
CREATE INDEX ix_subscription_items_subscription_id ON subscription_items (subscription_id);

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
    period_start DATETIME,
    period_end DATETIME,
    description TEXT,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(invoice_id) REFERENCES invoices (id) ON DELETE CASCADE
);
CREATE INDEX ix_invoice_lines_customer_id ON invoice_lines (customer_id);
CREATE INDEX ix_invoice_lines_invoice_id ON invoice_lines (invoice_id);

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
