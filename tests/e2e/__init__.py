"""End-to-end tests: a real hub server driven by a real browser."""
