-- Billing (issue #11): a study's payment through Stripe Checkout, testers' Connect accounts,
-- the Stripe events received, and the payout ledger. Money is integer minor units of the
-- row's ISO 4217 `currency`; never a float.

-- One payment per study: the Checkout Session opened for it, then Stripe's confirmation.
CREATE TABLE study_payments (
    study_id             TEXT PRIMARY KEY REFERENCES studies(id),
    organization_id      TEXT NOT NULL REFERENCES organizations(id),
    status               TEXT NOT NULL CHECK (status IN ('pending', 'paid')),
    currency             TEXT NOT NULL,             -- ISO 4217, upper case
    unit_amount          BIGINT NOT NULL,           -- compensation per session
    fee_per_session      BIGINT NOT NULL,           -- platform fee per session, on top
    quantity             BIGINT NOT NULL,           -- testerCount
    amount_total         BIGINT NOT NULL CHECK (amount_total = quantity * (unit_amount + fee_per_session)),
    checkout_session_id  TEXT,                      -- cs_…
    checkout_url         TEXT,
    idempotency_key      TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    paid_at              BIGINT
);

-- A tester's Stripe Connect (Express) account and what account.updated last said of it.
CREATE TABLE stripe_connect_accounts (
    user_id            TEXT PRIMARY KEY REFERENCES users(id),
    account_id         TEXT NOT NULL UNIQUE,        -- acct_…
    payouts_enabled    BOOLEAN NOT NULL DEFAULT FALSE,
    charges_enabled    BOOLEAN NOT NULL DEFAULT FALSE,
    details_submitted  BOOLEAN NOT NULL DEFAULT FALSE,
    stripe_updated_at  BIGINT NOT NULL DEFAULT 0,   -- `created` (s) of the newest event applied
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

-- Every verified Stripe event, once: a redelivery finds its row and changes nothing.
CREATE TABLE stripe_events (
    id            TEXT PRIMARY KEY,                 -- Stripe's evt_…
    type          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created       BIGINT NOT NULL,                  -- Stripe's `created` (epoch seconds)
    received_at   BIGINT NOT NULL,
    processed_at  BIGINT
);

-- The payout ledger: one payout per study, one line per confirmed session.
CREATE TABLE payouts (
    id               TEXT PRIMARY KEY,              -- pay_…
    study_id         TEXT NOT NULL UNIQUE REFERENCES studies(id),
    organization_id  TEXT NOT NULL,
    currency         TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- No foreign key to users or sessions: financial rows outlive erasure and retention.
CREATE TABLE payout_line_items (
    id               TEXT PRIMARY KEY,              -- pli_…
    payout_id        TEXT NOT NULL REFERENCES payouts(id),
    study_id         TEXT NOT NULL,
    organization_id  TEXT NOT NULL,
    session_id       TEXT NOT NULL UNIQUE,          -- a session is in the ledger at most once
    tester_id        TEXT NOT NULL,
    currency         TEXT NOT NULL,
    gross_amount     BIGINT NOT NULL,               -- the session's compensation
    fee_amount       BIGINT NOT NULL,               -- the platform fee kept
    amount           BIGINT NOT NULL CHECK (amount = gross_amount - fee_amount AND amount > 0),
    status           TEXT NOT NULL CHECK (status IN ('reserved', 'transferring', 'paid', 'skipped', 'failed')),
    idempotency_key  TEXT NOT NULL UNIQUE,          -- sent with every transfer attempt of the line
    lease_until      BIGINT,                        -- while transferring: when another worker may take over
    attempts         BIGINT NOT NULL DEFAULT 0,
    transfer_id      TEXT UNIQUE,                   -- tr_…
    destination      TEXT,                          -- acct_…
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    paid_at          BIGINT
);
CREATE INDEX payout_line_items_payout ON payout_line_items(payout_id);
CREATE INDEX payout_line_items_tester ON payout_line_items(tester_id, status);
CREATE INDEX payout_line_items_org ON payout_line_items(organization_id, created_at);

-- Bank payouts of connected accounts, as payout.paid / payout.failed report them.
CREATE TABLE bank_payouts (
    id               TEXT PRIMARY KEY,              -- po_…
    account_id       TEXT,                          -- acct_… (absent on the platform's own payouts)
    tester_id        TEXT,
    amount           BIGINT NOT NULL,
    currency         TEXT NOT NULL,                 -- as Stripe sends it (lower case)
    stripe_status    TEXT NOT NULL,                 -- Stripe's word: paid, failed, …
    failure_code     TEXT,
    failure_message  TEXT,
    event_created    BIGINT NOT NULL,               -- `created` (s) of the newest event applied
    retried_by       TEXT,                          -- po_… of our retry
    updated_at       BIGINT NOT NULL
);
CREATE INDEX bank_payouts_tester ON bank_payouts(tester_id);
