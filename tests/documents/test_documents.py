"""Printable documents: content and amounts read back with pypdf, who may open what, audit,
and the GET /d/{token} route (valid, expired, tampered, unknown, not yours)."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.documents.access import (
    DocumentNotFound,
    agency_today,
    open_document,
    render_document,
)
from bot.documents.links import make_document_token
from bot.runtime import Runtime, open_runtime
from bot.store.models import (
    AuditRecord,
    Case,
    Coupon,
    Disbursement,
    Notice,
    Office,
    Payment,
    Person,
    Statement,
)
from dialogs.replies import DocumentKind, DocumentRef

NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 20)


def seed_example(runtime: Runtime, extract: dict) -> None:
    """Load tests/example-import.json through the models (the importer has its own tests)."""
    hasher = runtime.hasher
    with runtime.sessions() as s, s.begin():
        for o in extract["offices"]:
            s.add(Office(code=o["code"], name=o["name"], email=o["email"], phone=o["phone"], address=o["address"]))
        for p in extract["people"]:
            address = p["mailing_address"]
            s.add(
                Person(
                    id=p["id"], first_name=p["first_name"], last_name=p["last_name"],
                    ssn_hash=hasher.ssn(p["ssn"].replace("-", "")), pin_hash=hasher.pin(p["id"], p["pin"]),
                    date_of_birth=dt.date.fromisoformat(p["date_of_birth"]), phone=p.get("phone"),
                    language=p.get("language", "en"), address_line1=address["line1"],
                    address_line2=address.get("line2"), address_city=address["city"],
                    address_state=address["state"], address_zip=address["zip"],
                )
            )
        s.flush()
        for c in extract["cases"]:
            s.add(
                Case(
                    case_number=c["case_number"], office_code=c["office"],
                    custodial_parent_id=c["custodial_parent"], noncustodial_parent_id=c["noncustodial_parent"],
                    support_amount=Decimal(c["current_support"]["amount"]),
                    support_frequency=c["current_support"]["frequency"],
                    arrears_balance=Decimal(c["arrears_balance"]),
                    next_due_date=dt.date.fromisoformat(c["next_due_date"]) if c.get("next_due_date") else None,
                    as_of=dt.date.fromisoformat(extract["as_of"]),
                )
            )
        s.flush()
        day = dt.date.fromisoformat
        for r in extract["payments"]:
            s.add(Payment(id=r["id"], case_number=r["case_number"], date=day(r["date"]),
                          amount=Decimal(r["amount"]), source=r["source"]))
        for r in extract["disbursements"]:
            s.add(Disbursement(id=r["id"], case_number=r["case_number"], date=day(r["date"]),
                               amount=Decimal(r["amount"]), method=r["method"]))
        for r in extract["coupons"]:
            s.add(Coupon(id=r["id"], case_number=r["case_number"], due_date=day(r["due_date"]),
                         amount=Decimal(r["amount"])))
        for r in extract["statements"]:
            s.add(
                Statement(
                    id=r["id"], case_number=r["case_number"], period_start=day(r["period_start"]),
                    period_end=day(r["period_end"]), opening_balance=Decimal(r["opening_balance"]),
                    support_due=Decimal(r["support_due"]), payments_received=Decimal(r["payments_received"]),
                    closing_balance=Decimal(r["closing_balance"]),
                )
            )
        for r in extract["notices"]:
            s.add(
                Notice(
                    id=r["id"], case_number=r["case_number"], month=r["month"],
                    collected=Decimal(r["collected"]), disbursed=Decimal(r["disbursed"]),
                    balance_owed=Decimal(r["balance_owed"]),
                )
            )


def pdf_text(pdf: bytes) -> str:
    """The PDF's text with every kind of space folded to one plain space."""
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return re.sub(r"[ \u00a0\u202f\u2009]+", " ", text)



def _render(runtime: Runtime, kind: DocumentKind, person: str, record: str, locale: str = "en"):
    ref = DocumentRef(kind=kind, person_id=person, record_id=record, locale=locale)
    with runtime.sessions() as session:
        return render_document(session, ref, settings=runtime.settings, today=TODAY)


def _assert_private(text: str, extract: dict, person_id: str, other_id: str) -> None:
    people = {p["id"]: p for p in extract["people"]}
    for p in people.values():
        digits = p["ssn"].replace("-", "")
        assert p["ssn"] not in text and digits not in text
        assert f"{digits[:3]} {digits[3:5]} {digits[5:]}" not in text
        assert p["pin"] not in text
    other = people[other_id]
    assert other["first_name"] not in text and other["last_name"] not in text
    assert other["mailing_address"]["line1"] not in text
    # Not even the parent's own mailing address: a document may be printed anywhere.
    assert people[person_id]["mailing_address"]["line1"] not in text


# --- content ---------------------------------------------------------------------------------


def test_statement_english(loaded_runtime, example_extract):
    filename, pdf = _render(loaded_runtime, DocumentKind.STATEMENT, "P-1002", "CS10000001-S1")
    assert filename == "statement-CS10000001-2026-10.pdf"
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf)
    for expected in (
        "NYS Child Support", "Account statement", "James Carter", "CS10000001",
        "Date produced", "Nov 20, 2026", "Oct 1, 2026", "Oct 31, 2026",
        "Opening balance", "$1,475.75", "Support due", "$450.00",
        "Payments received", "$675.00", "Closing balance", "$1,250.75",
        "888-208-4485",
    ):
        assert expected in text, expected
    _assert_private(text, example_extract, "P-1002", "P-1001")


def test_statement_for_the_receiving_parent_too(loaded_runtime, example_extract):
    _, pdf = _render(loaded_runtime, DocumentKind.STATEMENT, "P-1001", "CS10000001-S1")
    text = pdf_text(pdf)
    assert "Maria Lopez" in text and "$1,250.75" in text
    _assert_private(text, example_extract, "P-1001", "P-1002")


def test_payment_history_newest_first_with_total(loaded_runtime, example_extract):
    filename, pdf = _render(loaded_runtime, DocumentKind.PAYMENT_HISTORY, "P-1001", "CS10000001")
    assert filename == "payment-history-CS10000001.pdf"
    text = pdf_text(pdf)
    assert "Payment history" in text and "Maria Lopez" in text
    expected_rows = [  # newest first, as in the extract
        ("Nov 14, 2026", "$225.00", "Income withholding"),
        ("Oct 28, 2026", "$450.00", "Direct payment"),
        ("Oct 14, 2026", "$225.00", "Income withholding"),
        ("Sep 14, 2026", "$450.00", "Income withholding"),
        ("Aug 14, 2026", "$450.00", "Income withholding"),
    ]
    positions = [text.index(date) for date, _, _ in expected_rows]
    assert positions == sorted(positions)
    for date, amount, source in expected_rows:
        line = next(line for line in text.splitlines() if date in line)
        assert amount in line and source in line, line
    assert "5 payments" in text and "Total: $1,800.00" in text
    # Other cases' payments are not in it.
    assert "$125.50" not in text and "$200.00" not in text
    _assert_private(text, example_extract, "P-1001", "P-1002")


def test_payment_history_of_a_case_without_payments(loaded_runtime, example_extract):
    with loaded_runtime.sessions() as s, s.begin():
        for payment in s.scalars(select(Payment).where(Payment.case_number == "CS10000003")):
            s.delete(payment)
    _, pdf = _render(loaded_runtime, DocumentKind.PAYMENT_HISTORY, "P-1005", "CS10000003")
    assert "No payments are on record for this case." in pdf_text(pdf)


def test_payment_history_spans_pages(loaded_runtime):
    with loaded_runtime.sessions() as s, s.begin():
        for n in range(150):
            s.add(
                Payment(
                    id=f"BULK-{n}", case_number="CS10000003",
                    date=dt.date(2020, 1, 1) + dt.timedelta(days=n), amount=Decimal("10.00"), source="other",
                )
            )
    _, pdf = _render(loaded_runtime, DocumentKind.PAYMENT_HISTORY, "P-1005", "CS10000003")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 3
    text = pdf_text(pdf)
    assert "151 payments" in text and "Total: $1,700.00" in text
    assert f"Page 1 of {len(reader.pages)}" in text


def test_coupon_has_everything_to_pay_and_a_cut_line(loaded_runtime, example_extract):
    filename, pdf = _render(loaded_runtime, DocumentKind.COUPON, "P-1002", "CS10000001-K1")
    assert filename == "coupon-CS10000001-2026-12-01.pdf"
    text = pdf_text(pdf)
    for expected in (
        "Payment coupon", "James Carter", "Coupon number", "CS10000001-K1", "CS10000001",
        "Amount due", "$450.00", "Due date", "Dec 1, 2026", "Mail to",
        "Make your check or money order payable to:", "Payable to", "Cut here",
        "return this stub with your payment", "Amount enclosed",
    ):
        assert expected in text, expected
    # The remit-to address as an envelope needs it: one line each, city, state and ZIP together.
    lines = [line.strip() for line in text.splitlines()]
    payee = lines.index("Make your check or money order payable to:")
    assert lines[payee + 1] == "NYS Child Support Processing Center"
    mail_to = lines.index("Mail it to:")
    assert lines[mail_to + 1 : mail_to + 4] == ["NYS Child Support Processing Center", "PO Box 15363", "Albany, NY 12212-5363"]
    assert "Amount enclosed $____________" in text
    # The stub repeats what the processing center needs.
    assert text.count("CS10000001-K1") == 2 and text.count("$450.00") == 2
    # A dashed line is drawn (PDF operator "d" with a non-empty dash array).
    content = PdfReader(io.BytesIO(pdf)).pages[0].get_contents().get_data()
    assert re.search(rb"\[[0-9. ]+\] [0-9.]+ d", content)
    _assert_private(text, example_extract, "P-1002", "P-1001")


def test_coupon_remit_to_address_comes_from_settings(make_settings, sqlite_url, example_extract):
    settings = make_settings(
        sqlite_url, CSBOT_REMIT_TO_ADDRESS="Example Payments Unit, 1 Main St, Albany, NY 12207",
        CSBOT_PROGRAM_NAME="Example County Child Support",
    )
    rt = open_runtime(settings)
    try:
        seed_example(rt, example_extract)
        text = pdf_text(_render(rt, DocumentKind.COUPON, "P-1002", "CS10000001-K1")[1])
    finally:
        rt.dispose()
    lines = [line.strip() for line in text.splitlines()]
    assert "Example Payments Unit" in lines and "1 Main St" in lines and "Albany, NY 12207" in lines
    assert "Example County Child Support" in text
    assert "PO Box 15363" not in text


def test_french_coupon_writes_its_blanks_and_payee_the_french_way(loaded_runtime):
    _, pdf = _render(loaded_runtime, DocumentKind.COUPON, "P-1002", "CS10000001-K1", locale="fr")
    text = pdf_text(pdf)
    assert "____________ $US" in text and "$ ____" not in text
    assert "Libellez votre chèque ou mandat à l'ordre de :" in text and "Adresse d'envoi" in text


def test_monthly_notice(loaded_runtime, example_extract):
    filename, pdf = _render(loaded_runtime, DocumentKind.NOTICE, "P-1001", "CS10000001-N1")
    assert filename == "notice-CS10000001-2026-10.pdf"
    text = pdf_text(pdf)
    for expected in (
        "Monthly notice", "Maria Lopez", "CS10000001", "October 2026",
        "Collected", "$675.00", "Sent to you", "Balance owed", "$1,250.75",
    ):
        assert expected in text, expected
    _assert_private(text, example_extract, "P-1001", "P-1002")


def test_french_amounts_and_dates(loaded_runtime, example_extract):
    """Amounts and dates in French formats. (The French labels need the lead's catalog; the
    words checked here are formatted by Babel, not translated.)"""
    _, pdf = _render(loaded_runtime, DocumentKind.STATEMENT, "P-1004", "CS10000002-S1", locale="fr")
    text = pdf_text(pdf)
    assert "Claude Mercier" in text and "CS10000002" in text
    assert "3 169,00 $US" in text and "3 420,00 $US" in text and "502,00 $US" in text
    assert "31 oct. 2026" in text and "20 nov. 2026" in text
    _, pdf = _render(loaded_runtime, DocumentKind.NOTICE, "P-1003", "CS10000002-N1", locale="fr")
    assert "octobre 2026" in pdf_text(pdf)


@pytest.mark.parametrize(
    "kind,record,title",
    [
        (DocumentKind.STATEMENT, "CS10000002-S1", "Relevé de compte"),
        (DocumentKind.COUPON, "CS10000002-K1", "Coupon de paiement"),
        (DocumentKind.PAYMENT_HISTORY, "CS10000002", "Historique des paiements"),
    ],
)
def test_french_titles_with_accents(loaded_runtime, kind, record, title):
    """Needs the lead's French catalog with this part's msgids (listed in the report)."""
    _, pdf = _render(loaded_runtime, kind, "P-1004", record, locale="fr")
    text = pdf_text(pdf)
    assert title in text
    assert "Date d'établissement" in text or "Date d’établissement" in text


# --- who may open what ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,person,record",
    [
        (DocumentKind.COUPON, "P-1001", "CS10000001-K1"),  # the receiving parent: no coupon
        (DocumentKind.NOTICE, "P-1002", "CS10000001-N1"),  # the paying parent: no notice
        (DocumentKind.STATEMENT, "P-1005", "CS10000001-S1"),  # not a party to the case
        (DocumentKind.PAYMENT_HISTORY, "P-1005", "CS10000001"),
        (DocumentKind.COUPON, "P-1003", "CS10000002-K1"),  # receiving on this case
        (DocumentKind.NOTICE, "P-1003", "CS10000003-N1"),  # paying on this case
        (DocumentKind.STATEMENT, "P-9999", "CS10000001-S1"),  # nobody
        (DocumentKind.STATEMENT, "P-1002", "CS10000001-S9"),  # no such record
        (DocumentKind.PAYMENT_HISTORY, "P-1002", "CS99999999"),
        (DocumentKind.COUPON, "P-1002", "CS10000001-S1"),  # a statement id as a coupon
    ],
)
def test_refused_unless_a_party_in_the_right_role(loaded_runtime, kind, person, record):
    with pytest.raises(DocumentNotFound):
        _render(loaded_runtime, kind, person, record)


def test_a_parent_in_both_roles_gets_each_in_its_role(loaded_runtime):
    # P-1003 receives on CS10000002 and pays on CS10000003.
    assert _render(loaded_runtime, DocumentKind.NOTICE, "P-1003", "CS10000002-N1")[1]
    assert _render(loaded_runtime, DocumentKind.COUPON, "P-1003", "CS10000003-K1")[1]


def test_open_document_writes_an_audit_record(loaded_runtime):
    ref = DocumentRef(DocumentKind.COUPON, "P-1002", "CS10000001-K1", "en")
    open_document(loaded_runtime, ref, channel="telegram", sender="4242", now=NOW)
    with loaded_runtime.sessions() as s:
        records = s.scalars(select(AuditRecord)).all()
    assert [(r.person_id, r.channel, r.sender, r.record_kind) for r in records] == [
        ("P-1002", "telegram", "4242", "coupon_pdf")
    ]
    assert records[0].at == NOW


def test_a_refused_document_writes_no_audit_record(loaded_runtime):
    with pytest.raises(DocumentNotFound):
        open_document(loaded_runtime, DocumentRef(DocumentKind.COUPON, "P-1001", "CS10000001-K1", "en"),
                      channel="telegram", sender="1", now=NOW)
    with loaded_runtime.sessions() as s:
        assert s.scalars(select(AuditRecord)).all() == []


def test_agency_day_is_new_york_time():
    late_evening = dt.datetime(2026, 11, 21, 3, 30, tzinfo=dt.UTC)  # 22:30 in New York
    assert agency_today(late_evening) == dt.date(2026, 11, 20)


# --- GET /d/{token} ---------------------------------------------------------------------------------



def _token(loaded_runtime, kind, person, record, locale="en", now=NOW):
    return make_document_token(loaded_runtime.settings, DocumentRef(kind, person, record, locale), now)


def test_link_serves_the_pdf(loaded_runtime, link_client):
    client, _ = link_client
    response = client.get("/d/" + _token(loaded_runtime, DocumentKind.STATEMENT, "P-1002", "CS10000001-S1"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'inline; filename="statement-CS10000001-2026-10.pdf"'
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "$1,250.75" in pdf_text(response.content)
    with loaded_runtime.sessions() as s:
        kinds = [(r.person_id, r.channel, r.record_kind) for r in s.scalars(select(AuditRecord))]
    assert kinds == [("P-1002", "link", "statement_pdf")]


def test_link_in_french_serves_french_formats(loaded_runtime, link_client):
    client, _ = link_client
    response = client.get("/d/" + _token(loaded_runtime, DocumentKind.NOTICE, "P-1003", "CS10000002-N1", "fr"))
    assert response.status_code == 200
    assert "3 420,00 $US" in pdf_text(response.content)


def test_expired_tampered_unknown_and_foreign_links_are_the_same_404(loaded_runtime, link_client):
    client, clock = link_client
    good = _token(loaded_runtime, DocumentKind.STATEMENT, "P-1002", "CS10000001-S1")
    tampered = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    forged = ["/d/" + tampered, "/d/" + good[:-1], "/d/" + good + "A", "/d/not-a-token"]
    # Genuine tokens (they decrypt) that open nothing: the page in the link's language.
    genuine = [
        "/d/" + _token(loaded_runtime, DocumentKind.STATEMENT, "P-1002", "CS10000001-S9"),  # no such record
        "/d/" + _token(loaded_runtime, DocumentKind.STATEMENT, "P-1005", "CS10000001-S1"),  # not a party
    ]
    not_the_payer = "/d/" + _token(loaded_runtime, DocumentKind.COUPON, "P-1001", "CS10000001-K1")
    bodies = {}
    for url in [*forged, *genuine, not_the_payer]:
        response = client.get(url)
        assert response.status_code == 404, url
        bodies[url] = response.text
    assert len({bodies[url] for url in forged}) == 1  # forged and malformed: all alike
    clock.now = NOW + dt.timedelta(minutes=15, seconds=1)
    expired = client.get("/d/" + good)
    assert expired.status_code == 404
    # Expired, unknown and not yours look the same for one kind of document.
    assert {bodies[url] for url in genuine} == {expired.text}
    assert "expired or is not valid" in bodies[not_the_payer] and "coupon" in bodies[not_the_payer]
    # Fresh again: the same token was fine before it expired.
    clock.now = NOW + dt.timedelta(minutes=14)
    assert client.get("/d/" + good).status_code == 200
    with loaded_runtime.sessions() as s:
        assert len(s.scalars(select(AuditRecord)).all()) == 1  # only the one real view
