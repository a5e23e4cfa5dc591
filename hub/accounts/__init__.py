"""Organisations, users, roles, sharing groups, API tokens, MFA and sign-in."""
