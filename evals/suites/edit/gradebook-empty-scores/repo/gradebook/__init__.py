"""A tiny grade report."""
