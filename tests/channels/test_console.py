"""`csbot import` then a scripted `csbot chat`, as an operator or a newcomer runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.serve_process import csbot_env, run_csbot


def csbot(args: list[str], env: dict[str, str], stdin: str = "", cwd: Path | None = None):
    return run_csbot(env, *args, input_text=stdin, cwd=cwd)


@pytest.fixture
def loaded(sqlite_url, example_extract_path):
    env = csbot_env(sqlite_url)
    result = csbot(["import", str(example_extract_path)], env)
    assert result.returncode == 0, result.stderr
    return env


def test_scripted_sms_conversation_in_english_covers_the_word_table(loaded):
    script = "\n".join([
        "HELP", "info", "MENU", "987-65-4320", "48213",
        "BALANCE", "PAYMENTS", "MORE", "HISTORY", "PDF", "DISBURSEMENTS", "STATEMENT", "NOTICE",
        "COUPON", "OFFICE", "Please call me about my address.", "SEND", "OFFICE", "MENU", "1",
        "FRANCAIS", "ENGLISH", "LOGOUT", "PIN", "987-65-4320", "03/14/1988", "10027",
        "STOP", "BALANCE", "START", "UNSTOP", "QUIT", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END",
        "REVOKE", "OPTOUT", "START",
    ]) + "\n"
    result = csbot(["chat", "--as", "sms", "--from", "+12125550111"], loaded, script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in [
        "888-208-4485", "866-875-9975", "Msg & data rates may apply",  # HELP
        "Social Security number",  # MENU starts verification
        "You are verified",
        "You receive support",  # the menu after verification
        "$450.00 monthly", "$1,475.75", "Dec 1, 2026",  # BALANCE
        "Payments 1-3 of 5", "Nov 14, 2026: $225.00, income withholding",  # PAYMENTS
        "Payments 4-5 of 5", "Aug 14, 2026: $450.00",  # MORE
        "/d/",  # PDF link
        "Nov 17, 2026: $225.00 by direct deposit",  # DISBURSEMENTS
        "Balance on Oct 1, 2026: $1,475.75", "Balance on Oct 31, 2026: $1,250.75",  # STATEMENT
        "October 2026", "Collected: $675.00",  # NOTICE
        "for the parent who pays support",  # COUPON, wrong role
        "Type your message to the Manhattan Child Support Office",  # OFFICE
        "Your reference is OM-",  # SEND
        "waiting to be sent",  # OFFICE again: status
        "D'accord, je vous répondrai en français",  # short: sent as written, ç included
        "OK, I will answer in English",
        "You are signed out",
        "To have it mailed again",  # PIN
        "If these details match our records",
        "You are unsubscribed",  # STOP
        "You are subscribed again",  # START
    ]:
        assert expected in out, expected
    assert "(no reply)" in out  # BALANCE after STOP, and opt-out words after the first
    assert "987-65-4320" not in out and "48213" not in out
    for line in out.splitlines():
        if line.startswith("bot> "):
            assert len(line) - len("bot> ") <= 306


def test_scripted_telegram_conversation_in_french(loaded):
    script = "\n".join([
        "FRANCAIS", "/start", "987654322", "31764",  # Aminata: receiving on *0002, paying on *0003
        "SOLDE", "PAIEMENTS", "PLUS", "PLUS", "HISTORIQUE", "VERSEMENTS", "COUPON", "RELEVE", "AVIS",
        "BUREAU", "2", "Bonjour, j'ai déménagé.", "ENVOYER", "AIDE", "DECONNEXION", "PIN",
        "987-65-4322", "30/11/1991", "11211", "ARRET",
    ]) + "\n"
    result = csbot(["chat", "--as", "telegram", "--from", "4242"], loaded, script)
    assert result.returncode == 0, result.stderr
    out = result.stdout.replace("\u202f", " ").replace("\xa0", " ")
    for expected in [
        "Bienvenue sur NYS Child Support",  # FRANCAIS first: the whole chat is French
        "Merci, Aminata. Votre identité est vérifiée.",
        "[Solde → SOLDE]",  # menu buttons in her language
        "Dossier *0002 (vous recevez la pension) : 125,50 $US par semaine",
        "Arriéré en votre faveur : 3 545,50 $US",
        "Dossier *0003 (vous versez la pension) : 200,00 $US toutes les deux semaines",
        "Dossier *0003, vous versez la pension :", "saisie sur remboursement d'impôt",
        "par carte de débit",
        "Coupon de paiement du dossier *0003", "200,00 $US à payer le 28 nov. 2026",
        "[PDF: coupon-CS10000003-K1.pdf]",
        "Relevé de compte du dossier *0002", "Solde au 31 oct. 2026 : 3 420,00 $US",
        "Avis mensuel du dossier *0002, octobre 2026", "Montant qui vous a été versé",
        "Votre message concerne quel dossier ?",
        "Votre référence : OM-",
        "888-208-4485",
        "Vous êtes déconnecté",
        "Pour le recevoir à nouveau",
        "Si ces informations correspondent",
        "ARRET et START servent aux SMS",
        "j'ai supprimé le message",
    ]:
        assert expected in out, expected


def test_chat_without_a_secret_key_is_one_clear_line(sqlite_url):
    env = csbot_env(sqlite_url)
    del env["CSBOT_SECRET_KEY"]
    result = csbot(["chat"], env, "HELP\n")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("csbot: error: CSBOT_SECRET_KEY is not set")
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_clear_line(tmp_path):
    env = csbot_env("postgresql://nobody@127.0.0.1:1/none")
    result = csbot(["chat"], env, "HELP\n")
    assert result.returncode == 2
    assert "cannot reach the database at postgresql+psycopg://nobody@127.0.0.1:1/none" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_never_creates_a_database_and_names_what_is_missing(tmp_path):
    missing = tmp_path / "nothing-here.db"
    result = csbot(["chat"], csbot_env(f"sqlite:///{missing}"), "BALANCE\n")
    assert result.returncode == 2 and not missing.exists()
    assert f"there is no database at {missing}" in result.stderr and "csbot import FILE" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_on_a_database_without_account_data_says_so(sqlite_url):
    env = csbot_env(sqlite_url)
    assert csbot(["db", "upgrade"], env).returncode == 0
    result = csbot(["chat"], env, "BALANCE\n")
    assert result.returncode == 2 and "holds no account data" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_readmes_scripted_demo_works_as_written(tmp_path):
    """README, Trying it: `printf '...' | csbot demo` in a fresh folder, nothing configured."""
    env = {k: v for k, v in csbot_env("unused").items() if not k.startswith("CSBOT_")}
    result = csbot(["demo"], env, "BALANCE\n987-65-4320\n48213\nPAYMENTS\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Thank you, Maria. You are verified." in result.stdout
    assert "Payments 1-3 of" in result.stdout
    assert (tmp_path / "csbot-demo.db").is_file()
