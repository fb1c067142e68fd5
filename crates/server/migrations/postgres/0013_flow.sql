-- Issue #24: a checkout may launch its study when Stripe confirms the payment (api.md §11).
ALTER TABLE study_payments ADD COLUMN launch_on_payment BOOLEAN NOT NULL DEFAULT FALSE;
