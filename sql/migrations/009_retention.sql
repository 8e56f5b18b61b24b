-- What the retention job (scheduler/retention.py) deletes, found by index in small batches.
CREATE INDEX IF NOT EXISTS email_outbox_finished_idx ON email_outbox ((coalesce(sent_at, send_after)))
    WHERE status IN ('sent', 'failed', 'void');
CREATE INDEX IF NOT EXISTS notifications_read_created_idx ON notifications (created_at) WHERE is_read;
CREATE INDEX IF NOT EXISTS webhook_deliveries_finished_idx ON webhook_deliveries ((coalesce(delivered_at, next_attempt_at)))
    WHERE status IN ('delivered', 'failed');
