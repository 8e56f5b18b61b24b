"""Emails: their templates and the providers that hand them on (the worker's delivery job is in scheduler/delivery/)."""
