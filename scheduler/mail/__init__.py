"""Emails: templates, the providers that send them, and the worker's delivery job."""
