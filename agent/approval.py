"""Approvers for runs with no person at hand to ask."""

from __future__ import annotations

from .protocols import ApprovalDecision, ApprovalRequest


class DenyApprover:
    """Headless runs: nobody can answer, so deny and tell the model why."""

    def decide(self, request: ApprovalRequest) -> ApprovalDecision:
        return ApprovalDecision(
            approved=False,
            note=(
                f"it needs approval ({request.reason}) and this run is headless, so no one "
                "can give it. Do not retry; explain what you would do instead "
                "(the user can rerun with another --approval mode or run it themselves)"
            ),
        )
