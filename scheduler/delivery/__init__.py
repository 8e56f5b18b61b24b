"""The worker's side of sending: the RQ jobs that send one email (emails.py) or make one
webhook attempt (webhooks.py), and what they share (leases.py): a row is claimed under a lease
before it is sent, and a periodic sweep enqueues due rows that have no live job. Each finds its
process's runtime through runtime.worker_runtime()."""
