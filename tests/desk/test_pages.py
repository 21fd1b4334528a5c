"""The desk's pages over HTTP: office scoping, answering through the CLI's code path, refusals
(huge answers, other offices, non-supervisors), escaping, the PIN CSV, unlock, audit search,
import runs, and the audit record each staff action leaves."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from bot.desk.render import environment
from bot.store.models import AccountLock, AuditRecord, OfficeAnswer, OfficeMessage, OutboundMessage, PinRequest
from tests.desk.conftest import BKN_REF, MAN_REF, token_from


def _status(runtime, reference):
    with runtime.sessions() as session:
        return session.scalar(select(OfficeMessage.status).where(OfficeMessage.reference == reference))


def _audit(runtime, kind):
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditRecord).where(AuditRecord.record_kind == kind)))


def test_a_clerk_sees_only_their_offices_messages(desk):
    client = desk.signed_in("clerk")
    page = client.get("/staff/messages")
    assert MAN_REF in page.text and BKN_REF not in page.text
    assert "BKN" not in page.text  # not even as a filter choice
    assert client.get(f"/staff/messages/{BKN_REF}").status_code == 404
    refused = client.get("/staff/messages?office=BKN")
    assert refused.status_code == 403 and "You do not work for office BKN." in refused.text


def test_a_supervisor_sees_every_office_and_filters_by_office_and_status(desk):
    client = desk.signed_in("boss")
    page = client.get("/staff/messages")
    assert MAN_REF in page.text and BKN_REF in page.text
    only_bkn = client.get("/staff/messages?office=BKN&status=all").text
    assert BKN_REF in only_bkn and MAN_REF not in only_bkn
    assert MAN_REF not in client.get("/staff/messages?status=answered").text


def test_answering_records_it_marks_the_message_answered_and_queues_the_parents_notice(desk):
    client = desk.signed_in("clerk")
    token = token_from(client, f"/staff/messages/{MAN_REF}")
    answer = "Votre paiement a été envoyé le 3 décembre."
    response = client.post(f"/staff/messages/{MAN_REF}/answer", data={"csrf_token": token, "answer": answer})
    assert (response.status_code, response.headers["location"]) == (303, f"/staff/messages/{MAN_REF}")
    page = client.get(f"/staff/messages/{MAN_REF}").text
    assert "was recorded; the parent is told by sms" in page
    assert answer in page and 'id="message-status">answered<' in page
    with desk.runtime.sessions() as session:
        [recorded] = session.scalars(select(OfficeAnswer)).all()
        [notice] = session.scalars(select(OutboundMessage)).all()
    assert (recorded.body, recorded.source, recorded.author) == (answer, "staff", "desk:clerk")
    assert (notice.kind, notice.channel, notice.recipient) == ("notice", "sms", "+12125550100")
    assert MAN_REF in str(notice.payload) and "décembre" not in str(notice.payload)  # the reference, never the text
    [audited] = _audit(desk.runtime, "desk answer")
    assert (audited.sender, audited.person_id, audited.detail) == ("clerk", "P-1001", MAN_REF)
    assert MAN_REF not in client.get("/staff/messages").text  # no longer awaiting an answer


def test_another_offices_message_cannot_be_answered_by_url(desk):
    client = desk.signed_in("clerk")
    token = token_from(client, "/staff/messages")
    response = client.post(f"/staff/messages/{BKN_REF}/answer", data={"csrf_token": token, "answer": "Hello"})
    assert response.status_code == 404 and "No such message" in response.text
    assert _status(desk.runtime, BKN_REF) == "mailed"
    assert _audit(desk.runtime, "desk answer") == []


def test_an_over_long_answer_is_refused_with_its_limit_and_kept_in_the_form(desk):
    client = desk.signed_in("clerk")
    token = token_from(client, f"/staff/messages/{MAN_REF}")
    response = client.post(f"/staff/messages/{MAN_REF}/answer", data={"csrf_token": token, "answer": "x" * 4001})
    assert response.status_code == 400
    assert "Nothing was recorded: the answer is too long (4001 characters; at most 4000)." in response.text
    assert "x" * 4001 in response.text  # the clerk's draft is not lost
    empty = client.post(f"/staff/messages/{MAN_REF}/answer", data={"csrf_token": token, "answer": "   "})
    assert empty.status_code == 400 and "Nothing was recorded: the answer is empty." in empty.text
    assert _status(desk.runtime, MAN_REF) == "mailed"


def test_a_huge_form_is_refused_before_it_is_read(desk):
    client = desk.signed_in("clerk")
    token = token_from(client, f"/staff/messages/{MAN_REF}")
    response = client.post(f"/staff/messages/{MAN_REF}/answer", data={"csrf_token": token, "answer": "x" * 1_000_000})
    assert response.status_code == 413 and "at most 4,000 characters" in response.text
    assert _status(desk.runtime, MAN_REF) == "mailed"


def test_a_parents_html_is_shown_as_text(desk):
    page = desk.signed_in("clerk").get(f"/staff/messages/{MAN_REF}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img" not in page
    assert "Où est mon paiement?" in page  # accents as typed


def test_every_template_autoescapes():
    env = environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x="<b>&") == "&lt;b&gt;&amp;"


def test_pages_carry_security_headers(desk):
    response = desk.signed_in("clerk").get("/staff/messages")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"


def test_the_pin_csv_has_the_clis_columns_only_the_clerks_offices_and_is_audited(desk):
    client = desk.signed_in("clerk")
    response = client.get("/staff/pin-requests.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="pin-requests-')
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["request_id", "person_id", "name", "address_line1", "address_line2", "city", "state", "zip",
                       "requested_at"]
    assert [(r[1], r[2]) for r in rows[1:]] == [("P-1001", "Maria Lopez")]  # P-1003 is Brooklyn's
    [audited] = _audit(desk.runtime, "desk csv export")
    assert audited.sender == "clerk" and audited.detail.startswith("1 PIN requests: ")


def test_marking_requests_mailed_is_scoped_and_audited(desk):
    client = desk.signed_in("clerk")
    with desk.runtime.sessions() as session:
        ids = {r.person_id: r.id for r in session.scalars(select(PinRequest))}
    page = client.get("/staff/pin-requests").text
    assert "Maria Lopez" in page and "Aminata Diallo" not in page
    token = token_from(client, "/staff/pin-requests")
    other = client.post("/staff/pin-requests/mark-mailed", data={"csrf_token": token, "request": str(ids["P-1003"])})
    assert other.status_code == 400 and f"{ids['P-1003']}: no such request" in other.text
    none = client.post("/staff/pin-requests/mark-mailed", data={"csrf_token": token})
    assert none.status_code == 400 and "Select at least one request" in none.text
    done = client.post("/staff/pin-requests/mark-mailed", data={"csrf_token": token, "request": str(ids["P-1001"])})
    assert done.status_code == 303
    assert "Marked 1 request mailed." in client.get("/staff/pin-requests").text
    with desk.runtime.sessions() as session:
        statuses = {r.person_id: r.status for r in session.scalars(select(PinRequest))}
    assert statuses == {"P-1001": "mailed", "P-1003": "open"}
    [audited] = _audit(desk.runtime, "desk mark mailed")
    assert (audited.sender, audited.person_id) == ("clerk", "P-1001")


def test_unlocking_is_scoped_and_audited(desk):
    client = desk.signed_in("clerk")  # Manhattan: P-1002 (CS10000001); P-1004 is Brooklyn's
    page = client.get("/staff/lockouts").text
    assert "P-1002" in page and "P-1004" not in page
    token = token_from(client, "/staff/lockouts")
    other = client.post("/staff/lockouts/unlock", data={"csrf_token": token, "person_id": "P-1004"})
    assert other.status_code == 400 and "No person with id &#39;P-1004&#39;" in other.text
    done = client.post("/staff/lockouts/unlock", data={"csrf_token": token, "person_id": "P-1002"})
    assert done.status_code == 303
    with desk.runtime.sessions() as session:
        assert session.get(AccountLock, "P-1002").locked_until is None
        assert session.get(AccountLock, "P-1004").locked_until is not None
    [audited] = _audit(desk.runtime, "desk unlock")
    assert (audited.sender, audited.person_id) == ("clerk", "P-1002")


def test_audit_search_is_for_supervisors_and_is_itself_recorded(desk):
    clerk = desk.signed_in("clerk")
    refused = clerk.get("/staff/audit?person=P-1001")
    assert refused.status_code == 403 and "Only a supervisor" in refused.text
    assert "/staff/audit" not in clerk.get("/staff/messages").text  # not offered in the menu
    token = token_from(clerk, f"/staff/messages/{MAN_REF}")
    clerk.post(f"/staff/messages/{MAN_REF}/answer", data={"csrf_token": token, "answer": "Done."})
    boss = desk.signed_in("boss")
    assert boss.get("/staff/audit").status_code == 200
    page = boss.get("/staff/audit?person=P-1001").text
    assert "desk answer" in page and MAN_REF in page and "clerk" in page
    [audited] = _audit(desk.runtime, "desk audit search")
    assert (audited.sender, audited.person_id) == ("boss", "P-1001")


def test_import_runs_are_listed(desk):
    page = desk.signed_in("clerk").get("/staff/imports")
    assert page.status_code == 200 and "<td>update</td>" in page.text


def test_healthz_answers_without_a_session(desk):
    response = desk.client().get("/staff/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_an_unknown_page_is_a_desk_404(desk):
    response = desk.client().get("/staff/nowhere")
    assert response.status_code == 404 and "There is no desk page at this address." in response.text


def test_a_page_outside_staff_leaves_the_session_cookie_alone(desk):
    client = desk.signed_in("clerk")
    response = client.get("/favicon.ico")  # browsers ask for it; the cookie's path is /staff
    assert response.status_code == 404 and "set-cookie" not in response.headers
    assert client.get("/staff/messages").status_code == 200
