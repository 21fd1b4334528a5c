"""StoreAlertConsent: dialogs.ports.AlertConsent over one session (bot/alerts/consent.py), in
the engine's transaction: consent and its withdrawal commit with the step that asked."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.alerts.consent import Withdrawal, give, in_force, withdraw_chat
from dialogs.ports import ChatRef


class StoreAlertConsent:
    def __init__(self, session: Session, now: dt.datetime) -> None:
        self._session = session
        self._now = now

    def alerts_on(self, person_id: str, chat: ChatRef) -> bool:
        return in_force(self._session, person_id, chat.channel, chat.sender) is not None

    def turn_alerts_on(self, person_id: str, chat: ChatRef, locale: str, words_shown: str) -> bool:
        return give(self._session, person_id=person_id, channel=chat.channel, recipient=chat.sender,
                    locale=locale, words_shown=words_shown, now=self._now)

    def turn_alerts_off(self, chat: ChatRef, reason: str) -> int:
        return withdraw_chat(self._session, chat.channel, chat.sender, Withdrawal(reason), self._now)
