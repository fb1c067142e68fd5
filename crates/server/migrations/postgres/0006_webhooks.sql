-- Outbound webhooks: a business's endpoints and every delivery attempt's outcome.
CREATE TABLE webhook_endpoints (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    url              TEXT NOT NULL,
    events           TEXT NOT NULL,              -- space-separated event types
    secret           TEXT NOT NULL,              -- whsec_…; needed to sign, so kept (never returned again)
    description      TEXT,
    created_at       BIGINT NOT NULL,
    deleted_at       BIGINT
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints(organization_id);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,            -- msg_…, the webhook-id header
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id),
    organization_id  TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    last_status      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    delivered_at     BIGINT
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, created_at);
