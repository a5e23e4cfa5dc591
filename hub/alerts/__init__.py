"""Alerts: the transactional outbox written with every sharing act, and its fan-out."""
