"""The eval harness: task suites, the agents that attempt them, hidden checks and reports.

`python -m evals run|report|setup` is the entry point (see evals/README.md).
"""
