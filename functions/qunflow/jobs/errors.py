"""What a job says when it cannot do what it was asked: a plain sentence, and the exit code for the CLI."""
from __future__ import annotations


class Refused(Exception):
    """The job stopped before doing anything harmful; `str(exc)` says why and what to do instead.

    `code` is the CLI's exit code: 2 when the request cannot be carried out (an unknown group, a missing
    webhook, a malformed option), 1 when it was carried out and the platform said no.
    """

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code
