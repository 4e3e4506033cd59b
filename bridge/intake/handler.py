"""The intake's entry point: the fast path when it can accept, else the full path.

Never raises for bad input. A database outage, or an API key that cannot be decrypted, answers
503 with nothing written, so Order Desk retries later.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import structlog
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bridge.crypto import SecretError
from bridge.db import session_scope
from bridge.intake.accept import accept_for_known_store
from bridge.intake.full import FullIntake
from bridge.intake.request import IntakeRequest
from bridge.intake.result import UNAVAILABLE, IntakeResult
from bridge.intake.rows import clean
from bridge.orderdesk.webhook import STORE_HEADER

log = structlog.get_logger(__name__)


def _is_database_outage(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated


def handle(
    request: IntakeRequest,
    transaction: Callable[[], AbstractContextManager[Session]] = session_scope,
) -> IntakeResult:
    """Verify, record and decide one webhook: in one statement, or in one transaction."""
    try:
        accepted = accept_for_known_store(request)
        if accepted is not None:
            return accepted
        with transaction() as session:
            return FullIntake(session, request).run()
    except DBAPIError as exc:
        if not _is_database_outage(exc):
            raise
        log.warning("intake_database_unavailable", error=type(exc).__name__)
        return IntakeResult(503, {"error": "database unavailable"}, UNAVAILABLE)
    except SecretError:
        log.error("intake_api_key_unreadable", store_id=clean(request.header(STORE_HEADER), 64))
        error = "the store's API key cannot be read; check BRIDGE_SECRET_KEY"
        return IntakeResult(503, {"error": error}, UNAVAILABLE)
