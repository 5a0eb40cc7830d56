"""Suppressions: addresses that must not be mailed again in this account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.models import Suppression
from connector.services.contacts import normalize_email


def suppress(session: Session, account_id: int, email: str, reason: str, now: datetime) -> bool:
    """Add the address; returns False when it was already suppressed."""
    email = normalize_email(email) or ""
    query = select(Suppression.id).where(
        Suppression.account_id == account_id, Suppression.email == email
    )
    if session.scalar(query) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                Suppression(account_id=account_id, email=email, reason=reason, created_at=now)
            )
    except IntegrityError:
        return False
    return True
