"""`python -m evals`: run task suites against agents and report the figures."""

import sys

from evals.harness.cli import main

sys.exit(main())
