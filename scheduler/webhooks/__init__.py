"""Webhooks: endpoints subscribe to booking events; deliveries are outbox rows written with the
change that fires them and sent, signed per the Standard Webhooks specification, by the worker."""
