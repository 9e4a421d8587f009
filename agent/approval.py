"""Approvers for runs with no person at hand to ask."""

from __future__ import annotations

from .protocols import ApprovalDecision, ApprovalRequest


class DenyApprover:
    """Headless `ask` mode: nobody can answer, so deny and tell the model why."""

    def decide(self, request: ApprovalRequest) -> ApprovalDecision:
        return ApprovalDecision(
            approved=False,
            note=(
                "this run is headless in 'ask' mode, so no one can approve it. "
                "Do not retry; explain what you would change instead "
                "(the user can rerun with --approval auto-edit or auto)"
            ),
        )
