"""Summaries of bank statement CSV files."""
