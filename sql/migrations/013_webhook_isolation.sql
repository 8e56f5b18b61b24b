-- Webhook delivery isolated per endpoint (scheduler/delivery/webhooks.py): at most one attempt
-- in flight per endpoint, and an endpoint that keeps timing out is backed off.
ALTER TABLE webhook_endpoints
    -- The attempt in flight, taken by the claim's conditional UPDATE of this row; it lapses at
    -- in_flight_until (a worker that died mid-attempt holds the endpoint no longer than that).
    ADD COLUMN in_flight_delivery_id bigint,
    ADD COLUMN in_flight_until timestamptz,
    -- Attempts in a row that got no answer in time; any answer resets it.
    ADD COLUMN timeouts integer NOT NULL DEFAULT 0,
    -- No attempt to this endpoint before then.
    ADD COLUMN backoff_until timestamptz;
