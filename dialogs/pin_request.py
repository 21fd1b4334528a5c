"""PIN re-mail: explain, offer the helpline, and take a request (SSN, date of birth, ZIP).

The last reply is the same whether or not the details match, so it carries no request number.
"""

from __future__ import annotations

import datetime as dt
import re

from dialogs.context import DialogContext, State
from dialogs.shapes import TYPED_ZIP
from dialogs.text import HELPLINE, TTY
from dialogs.verification import read_ssn

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})\Z", re.ASCII)
_SLASHED = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})\Z", re.ASCII)


def parse_birth_date(text: str, locale: str, today: dt.date) -> dt.date | None:
    """YYYY-MM-DD always; MM/DD/YYYY in English, DD/MM/YYYY in French."""
    cleaned = text.strip()
    try:
        if match := _ISO.match(cleaned):
            year, month, day = (int(g) for g in match.groups())
        elif match := _SLASHED.match(cleaned):
            first, second, year = (int(g) for g in match.groups())
            month, day = (second, first) if locale == "fr" else (first, second)
        else:
            return None
        born = dt.date(year, month, day)
    except ValueError:
        return None
    if born > today or born.year < 1900:
        return None
    return born


def start(ctx: DialogContext) -> None:
    _ = ctx.t.gettext
    ctx.go(State.PIN_REQUEST_SSN)
    ctx.result.say(
        _(
            "Your PIN is on a notice mailed to you after your child support order was recorded."
            " To have it mailed again, call {helpline} (TTY {tty}), or ask here: send your"
            " 9-digit Social Security number (SSN)."
        ).format(helpline=HELPLINE, tty=TTY)
    )


def take_ssn(ctx: DialogContext, text: str) -> None:
    _ = ctx.t.gettext
    token = read_ssn(ctx, text)
    if token is None:
        return
    ctx.go(State.PIN_REQUEST_DOB, ssn_token=token)
    ctx.result.say(_("Now send your date of birth, for example 1985-07-31 or 07/31/1985."))


def take_birth_date(ctx: DialogContext, text: str) -> None:
    _ = ctx.t.gettext
    born = parse_birth_date(text, ctx.locale, ctx.now.date())
    if born is None:
        ctx.result.say(_("Please send your date of birth like 1985-07-31 or 07/31/1985."))
        return
    ctx.go(State.PIN_REQUEST_ZIP, ssn_token=ctx.conversation.data.get("ssn_token"), born=born.isoformat())
    ctx.result.say(_("Last step: send the 5-digit ZIP code of your mailing address."))


def take_zip(ctx: DialogContext, text: str) -> None:
    _ = ctx.t.gettext
    match = TYPED_ZIP.match(text.strip())
    if match is None:
        ctx.result.say(_("Please send the 5-digit ZIP code, for example 10027."))
        return
    data = ctx.conversation.data
    ctx.services.request_pin_remail(
        ctx.chat,
        str(data.get("ssn_token", "")),
        dt.date.fromisoformat(str(data.get("born"))),
        match.group(1),
    )
    ctx.go(State.IDLE)
    ctx.result.say(
        _(
            "Thank you. If these details match our records, a new PIN notice will be mailed to"
            " the address we have on file within 10 business days. Questions: {helpline}"
            " (TTY {tty})."
        ).format(helpline=HELPLINE, tty=TTY)
    )
