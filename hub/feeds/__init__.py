"""Blocklist feeds: per-organisation exports (plain text, CSV, Suricata rules) for firewalls."""
