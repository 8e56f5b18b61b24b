"""The worker's side of sending: the RQ jobs that drain the email outbox (emails.py), make one
webhook attempt (webhooks.py) or write one booking to one calendar (calendars.py), and what they
share (leases.py): a row is claimed under a lease before it is sent, and periodic sweeps enqueue
jobs for due rows nobody took. Each finds its process's runtime through
runtime.worker_runtime()."""
