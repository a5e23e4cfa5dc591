"""Incident reports with human impact, NIS2 reporting clocks and law-enforcement case review.

An incident is shared intelligence like any other (its STIX `incident` and `impact` objects are
SharedItems, read through hub/policy.py), plus the hospital-side records kept beside it:
revisions of the report, NIS2 submissions, consents to law enforcement and the cases they open,
evidence with its custody log, and anonymised summaries.
"""
