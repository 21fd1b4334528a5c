"""GET /d/{token} beyond the PDF itself: the per-link limit (counted in the database), the
page shown instead of a document (its language, its words, escaping), altered tokens, and
rendering outside the write lock."""

from __future__ import annotations

import datetime as dt
import html
import re
import threading

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bot.documents import access
from bot.documents.access import OPENS_PER_LINK
from bot.documents.links import make_document_token, token_digest
from bot.documents.page import link_page
from bot.documents.route import document_component
from bot.store.models import AuditRecord, DocumentLinkOpen
from dialogs.replies import DocumentKind, DocumentRef
from tests.support.dialog_harness import Clock

NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
STATEMENT = DocumentRef(DocumentKind.STATEMENT, "P-1002", "CS10000001-S1", "en")



def _token(runtime, ref: DocumentRef = STATEMENT, now: dt.datetime = NOW) -> str:
    return make_document_token(runtime.settings, ref, now)


def _visible_text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_eleventh_open_is_refused_with_429_and_nothing_is_rendered(
    loaded_runtime, link_client, monkeypatch
):
    client, _ = link_client
    token = _token(loaded_runtime)
    for _ in range(OPENS_PER_LINK):
        assert client.get("/d/" + token).status_code == 200
    rendered = []
    real_render = access.render_document
    monkeypatch.setattr(access, "render_document", lambda *a, **k: rendered.append(1) or real_render(*a, **k))
    refused = client.get("/d/" + token)
    assert OPENS_PER_LINK == 10
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert refused.headers["cache-control"] == "no-store"
    assert "opened too many times" in refused.text and "send STATEMENT again" in refused.text
    assert rendered == []
    # Counted in the database (shared by every worker), by the token's hash, never the token.
    with loaded_runtime.sessions() as s:
        counts = s.scalars(select(DocumentLinkOpen)).all()
        audits = s.scalars(select(AuditRecord)).all()
    assert [(c.token_digest, c.opens) for c in counts] == [(token_digest(token), OPENS_PER_LINK)]
    assert token not in {c.token_digest for c in counts}
    assert len(audits) == OPENS_PER_LINK  # the refused open is not a view
    # Another link to the same document has its own count.
    assert client.get("/d/" + _token(loaded_runtime)).status_code == 200


def test_the_limit_holds_across_workers_sharing_the_database(loaded_runtime, runtime_factory, db_url):
    """Two runtimes (two workers) on one database see one count."""
    other = runtime_factory(db_url, CSBOT_PUBLIC_URL="https://bot.example.org")
    token = _token(loaded_runtime)
    apps = [Starlette(routes=document_component(r, clock=Clock(NOW)).routes) for r in (loaded_runtime, other)]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        statuses = [(first if i % 2 else second).get("/d/" + token).status_code for i in range(OPENS_PER_LINK + 2)]
    assert statuses == [200] * OPENS_PER_LINK + [429, 429]


def test_rendering_holds_no_write_lock(loaded_runtime, link_client, monkeypatch):
    """While a PDF is being drawn, another transaction can write (on SQLite: BEGIN
    IMMEDIATE succeeds at once); the audit record is written after the drawing."""
    client, _ = link_client
    drawing, written = threading.Event(), threading.Event()
    real_render = access.render_document

    def slow_render(*args, **kwargs):
        drawing.set()
        assert written.wait(10), "a writer was blocked while the PDF was drawn"
        return real_render(*args, **kwargs)

    monkeypatch.setattr(access, "render_document", slow_render)

    def writer() -> None:
        assert drawing.wait(10)
        with loaded_runtime.sessions() as s, s.begin():
            s.add(AuditRecord(person_id="P-1001", channel="sms", sender="x", record_kind="balance", at=NOW))
        written.set()

    thread = threading.Thread(target=writer)
    thread.start()
    response = client.get("/d/" + _token(loaded_runtime))
    thread.join(15)
    assert written.is_set() and response.status_code == 200


@pytest.mark.parametrize(
    ("kind", "record", "locale", "word", "phrase"),
    [
        (DocumentKind.STATEMENT, "CS10000001-S1", "en", "STATEMENT", "account statement"),
        (DocumentKind.STATEMENT, "CS10000001-S1", "fr", "RELEVE", "relevé de compte"),
        (DocumentKind.COUPON, "CS10000001-K1", "fr", "COUPON", "coupon de paiement"),
        (DocumentKind.NOTICE, "CS10000002-N1", "fr", "AVIS", "avis mensuel"),
        (DocumentKind.NOTICE, "CS10000002-N1", "en", "NOTICE", "monthly notice"),
        (DocumentKind.PAYMENT_HISTORY, "CS10000001", "fr", "PDF", "historique des paiements"),
    ],
)
def test_an_expired_link_says_so_in_its_language(loaded_runtime, link_client, kind, record, locale, word, phrase):
    client, clock = link_client
    token = _token(loaded_runtime, DocumentRef(kind, "P-1002", record, locale))
    clock.now = NOW + dt.timedelta(minutes=16)
    response = client.get("/d/" + token)
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert f'<html lang="{locale}">' in response.text
    text = _visible_text(response.text)
    assert phrase in text and word in text and "15 minutes" in text
    if locale == "fr":
        assert "lien" in text and "expired" not in text and "envoyez à nouveau" in text
    else:
        assert "expired or is not valid" in text and "send " + word + " again in the chat" in text


def test_a_token_that_does_not_decrypt_gets_the_page_in_both_languages(loaded_runtime, link_client):
    client, _ = link_client
    good = _token(loaded_runtime)
    pages = {client.get("/d/" + url).text for url in ("x", good[:-1] + ("A" if good[-1] != "A" else "B"), "A" * 92)}
    assert len(pages) == 1
    [page] = pages
    text = _visible_text(page)
    assert "This link has expired or is not valid." in text and "Ce lien a expiré ou n'est pas valide." in text
    assert "STATEMENT" in text and "RELEVE" in text
    assert '<section lang="fr">' in page


def test_every_inserted_text_is_escaped(monkeypatch):
    from bot.documents import page

    hostile = '<script>alert("x")</script>&'
    monkeypatch.setitem(page.NOT_VALID, DocumentKind.STATEMENT, hostile)
    body = link_page(DocumentRef(DocumentKind.STATEMENT, "P-1", "R-1", "en")).body.decode()
    assert "<script>" not in body and html.escape(hostile) in body


def test_any_change_to_a_link_is_a_404(loaded_runtime, link_client):
    client, _ = link_client
    token = _token(loaded_runtime)
    changed = [
        token[:10] + "." + token[10:],
        token[:10] + "%3D" + token[10:],
        token + "==",
        token.swapcase(),
        token[:-1] + ("a" if token[-1] != "a" else "b"),
        token[:40] + ("Q" if token[40] != "Q" else "R") + token[41:],
        token + "A",
        token[1:],
    ]
    for url in changed:
        response = client.get("/d/" + url)
        assert response.status_code == 404, url
    assert client.get("/d/" + token).status_code == 200
