"""Dialog tests: whole conversations through the engine and the real store, no channel."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.conversation.turn import Channel
from bot.importer.pipeline import import_extract
from bot.runtime import open_runtime
from bot.store.models import (
    AccountLock,
    AuditRecord,
    Conversation,
    OfficeMessage,
    PinRequest,
    VerificationFailure,
)
from dialogs.replies import DocumentKind
from tests.support.dialog_harness import AMINATA, CLAUDE, DANA, JAMES, MARIA, UNKNOWN_SSN, make_bot


@pytest.fixture
def bot(make_settings, sqlite_url, example_extract_path):
    runtime = open_runtime(make_settings(sqlite_url))
    import_extract(runtime, example_extract_path)
    yield make_bot(runtime)
    runtime.dispose()


def count(bot, model, *where) -> int:
    with bot.runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


# --- verification ------------------------------------------------------------------------------


def test_request_is_answered_right_after_verification(bot):
    assert "Social Security number" in bot.say("BALANCE")
    outcome = bot.send("987 65 4320")
    assert outcome.inbound_was_secret and "PIN" in outcome.replies[0].text
    reply = bot.say("48213")
    assert "You are verified" in reply
    assert "$450.00 monthly" in reply and "$1,475.75" in reply and "Dec 1, 2026" in reply
    assert "*0001" in reply and "CS10000001" not in reply


def test_wrong_shapes_are_hints_not_failures(bot):
    bot.say("BALANCE")
    assert "9 digits" in bot.say("12345678")
    assert "9 digits" in bot.say("abc-de-fghi")
    bot.say(MARIA["ssn"])
    assert "exactly 5 digits" in bot.say("1234")
    assert "exactly 5 digits" in bot.say("PIN 4821")
    assert count(bot, AccountLock) == 0
    assert "You are verified" in bot.say(MARIA["pin"])


def test_pin_with_leading_zero_is_kept(make_settings, sqlite_url, example_extract, tmp_path):
    example_extract["people"][0]["pin"] = "04821"
    path = tmp_path / "x.json"
    import json

    path.write_text(json.dumps(example_extract))
    runtime = open_runtime(make_settings(sqlite_url))
    import_extract(runtime, path)
    bot = make_bot(runtime)
    bot.say("BALANCE")
    bot.say(MARIA["ssn"])
    assert "verified" not in bot.say("4821 ")
    assert "You are verified" in bot.say("04821")


def test_unknown_ssn_and_wrong_pin_take_the_same_steps_and_replies(bot):
    unknown = [bot.say(t, sender="+12125550001") for t in ("BALANCE", UNKNOWN_SSN, "11111")]
    wrong = [bot.say(t, sender="+12125550002") for t in ("BALANCE", MARIA["ssn"], "11111")]
    assert unknown == wrong
    assert "30 minutes" in wrong[-1]


def test_five_wrong_pins_lock_the_account_across_chats(bot):
    for attempt in range(5):
        sender = f"+1212555010{attempt}"
        bot.say("BALANCE", sender=sender)
        bot.say(MARIA["ssn"], sender=sender)
        failed = bot.say("00000", sender=sender)
    # The right PIN from a fresh chat, another channel, in French: same failure reply.
    bot.say("SOLDE", sender="777", channel=Channel.TELEGRAM, hint="fr")
    bot.say(MARIA["ssn"], sender="777", channel=Channel.TELEGRAM)
    locked_reply = bot.say(MARIA["pin"], sender="777", channel=Channel.TELEGRAM)
    assert "verified" not in locked_reply and "vérifiée" not in locked_reply
    bot.say("BALANCE", sender="+12125550199")
    bot.say(MARIA["ssn"], sender="+12125550199")
    assert bot.say(MARIA["pin"], sender="+12125550199") == failed
    # 30 minutes later the lock is over.
    bot.clock.advance(minutes=31)
    bot.say("BALANCE", sender="+12125550198")
    bot.say(MARIA["ssn"], sender="+12125550198")
    assert "You are verified" in bot.say(MARIA["pin"], sender="+12125550198")


def test_a_success_resets_the_consecutive_count(bot):
    for _ in range(4):
        bot.say("BALANCE")
        bot.say(MARIA["ssn"])
        bot.say("00000")
    bot.say("BALANCE")
    bot.say(MARIA["ssn"])
    assert "verified" in bot.say(MARIA["pin"])
    bot.say("LOGOUT")
    bot.say("BALANCE")
    bot.say(MARIA["ssn"])
    bot.say("00000")
    bot.say("BALANCE")
    bot.say(MARIA["ssn"])
    assert "verified" in bot.say(MARIA["pin"])


def test_ten_failures_in_an_hour_throttle_the_chat(bot):
    people = [JAMES, DANA, CLAUDE, AMINATA]
    for attempt in range(10):
        bot.say("BALANCE")
        bot.say(people[attempt % 4]["ssn"] if attempt % 5 else UNKNOWN_SSN)
        bot.say("00000")
        bot.clock.advance(minutes=1)
    reply = bot.say("BALANCE")
    assert "Too many attempts" in reply
    # Another chat is not throttled.
    bot.say("BALANCE", sender="+19999999999")
    bot.say(DANA["ssn"], sender="+19999999999")
    assert "verified" in bot.say(DANA["pin"], sender="+19999999999")
    bot.clock.advance(minutes=61)
    assert "Social Security number" in bot.say("BALANCE")


def test_idle_session_asks_the_pin_only_and_absolute_limit_everything(bot):
    bot.verify(MARIA)
    bot.clock.advance(seconds=899)
    assert "$1,475.75" in bot.say("BALANCE")
    bot.clock.advance(seconds=901)
    reply = bot.say("BALANCE")
    assert "PIN again" in reply and "Social Security" not in reply
    # HELP while the PIN is pending does not reopen the session.
    bot.say("HELP")
    assert "PIN again" in bot.say("BALANCE")
    assert "$1,475.75" in bot.say(MARIA["pin"])
    # 12 hours after verification: the whole verification again, even if active.
    for _ in range(13):
        bot.clock.advance(minutes=59)
        bot.say("MENU")
    assert "Social Security number" in bot.say("BALANCE")


def test_failed_reauthentication_ends_the_session(bot):
    bot.verify(MARIA)
    bot.clock.advance(hours=1)
    bot.say("BALANCE")
    assert "could not verify" in bot.say("00000")
    assert "PIN" in bot.say(MARIA["ssn"])


def test_logout_ends_the_session(bot):
    bot.verify(MARIA)
    assert "signed out" in bot.say("LOGOUT")
    assert "Social Security number" in bot.say("BALANCE")
    assert "not signed in" in bot.say("LOGOUT")


def test_verifying_as_another_person_replaces_the_session(bot):
    bot.verify(MARIA)
    bot.say("LOGOUT")
    reply = bot.verify(JAMES)
    assert "James" in reply
    assert "you pay support" in bot.say("BALANCE")


# --- answers ----------------------------------------------------------------------------------


def test_receiving_parent_answers(bot):
    bot.verify(MARIA)
    menu = bot.send("MENU").replies[0]
    assert [c.word for c in menu.choices] == [
        "BALANCE", "PAYMENTS", "DISBURSEMENTS", "NOTICE", "STATEMENT", "OFFICE", "MESSAGES", "LOGOUT",
    ]
    payments = bot.say("PAYMENTS")
    assert "Payments 1-3 of 5" in payments and "Nov 14, 2026: $225.00, income withholding" in payments
    more = bot.say("MORE")
    assert "Payments 4-5 of 5" in more and "Aug 14, 2026: $450.00" in more
    assert "nothing more" in bot.say("MORE")
    disb = bot.say("DISBURSEMENTS")
    assert "Nov 17, 2026: $225.00 by direct deposit" in disb
    notice = bot.send("NOTICE").replies[0]
    assert "October 2026" in notice.text and "$675.00" in notice.text and "$1,250.75" in notice.text
    assert notice.document.kind is DocumentKind.NOTICE and notice.document.record_id == "CS10000001-N1"
    statement = bot.send("STATEMENT").replies[0]
    assert statement.text.splitlines() == [
        "Account statement for case *0001:", "Balance on Oct 1, 2026: $1,475.75", "Support due in this period: $450.00",
        "Payments received: $675.00", "Balance on Oct 31, 2026: $1,250.75",
    ]
    assert statement.document.kind is DocumentKind.STATEMENT
    assert "for the parent who pays support" in bot.say("COUPON")
    pdf = bot.send("PDF").replies[0]
    assert pdf.document.kind is DocumentKind.PAYMENT_HISTORY and pdf.document.record_id == "CS10000001"


def test_paying_parent_answers_never_name_the_other_parent(bot):
    bot.verify(JAMES)
    balance = bot.say("BALANCE")
    assert "you pay support" in balance and "Past-due balance: $1,475.75" in balance
    coupon = bot.send("COUPON").replies[0]
    assert "coupon *0001-K1," in coupon.text and "CS10000001" not in coupon.text  # masked like the case
    assert "$450.00" in coupon.text and "Dec 1, 2026" in coupon.text
    assert coupon.document.record_id == "CS10000001-K1"  # the PDF may show it in full
    assert "PO Box" in coupon.text and coupon.document.kind is DocumentKind.COUPON
    assert "parent who receives support" in bot.say("DISBURSEMENTS")
    assert "parent who receives support" in bot.say("NOTICE")
    everything = " ".join(bot.say(w) for w in ("BALANCE", "PAYMENTS", "STATEMENT", "COUPON", "MENU"))
    for other in ("Maria", "Lopez", "120th", "10027"):
        assert other not in everything


def test_tax_refund_offset_shows_date_amount_source_only(bot):
    bot.verify(AMINATA)  # pays on CS10000003, which had a tax refund offset
    bot.say("ENGLISH")
    payments = bot.say("PAYMENTS")
    assert payments.startswith("Case *0002, you receive support:")  # one case at a time
    assert "Send MORE for case *0003" in payments and "tax refund" not in payments
    payments = bot.say("MORE")
    assert payments.startswith("Case *0003, you pay support:")
    assert "Nov 14, 2026: $200.00, tax refund offset" in payments


def test_person_with_both_roles_sees_each_case_in_its_role_in_french(bot):
    reply = bot.verify(AMINATA)
    # MENU says nothing of a language: the English spoken before verification stays.
    assert "You are verified" in reply
    balance = bot.send("SOLDE").replies  # a French word: the chat is French from now on
    assert len(balance) == 2
    assert "Dossier *0002 (vous recevez la pension)" in balance[0].text
    assert "3 545,50 $US" in balance[0].text.replace("\u202f", " ").replace("\xa0", " ")
    assert "Dossier *0003 (vous versez la pension)" in balance[1].text
    coupon = bot.say("COUPON")
    assert "*0003" in coupon and "*0002" not in coupon
    avis = bot.say("AVIS")
    assert "*0002" in avis and "*0003" not in avis and "octobre 2026" in avis
    versements = bot.say("VERSEMENTS")
    assert "débit" in versements


def test_a_word_in_one_language_chooses_it_for_the_whole_conversation(bot):
    """spec, Language: SOLDE or BALANCE is a choice; verification does not flip it."""
    assert "numéro de sécurité sociale" in bot.say("SOLDE", sender="+12125550101")
    bot.say(MARIA["ssn"], sender="+12125550101")  # Maria prefers English
    reply = bot.say(MARIA["pin"], sender="+12125550101")
    assert "Votre identité est vérifiée" in reply and "Dossier *0001" in reply
    assert "Balance" not in bot.say("PAIEMENTS", sender="+12125550101")
    # And the other way round: Claude prefers French, writes BALANCE.
    assert "Social Security" in bot.say("BALANCE", sender="+12125550102")
    bot.say(CLAUDE["ssn"], sender="+12125550102")
    reply = bot.say(CLAUDE["pin"], sender="+12125550102")
    assert "You are verified" in reply and "Case *0002" in reply
    assert "Payment" in bot.say("PAYMENTS", sender="+12125550102")


def test_a_number_out_of_range_names_the_valid_ones(bot):
    bot.verify(MARIA)
    bot.say("MENU")
    assert bot.say("12") == "Please send a number from 1 to 8, or a word such as MENU."
    assert "from 1 to 8" in bot.say("0")
    assert "Payments sent to you" in bot.say("3")  # and the conversation goes on


def test_a_receiving_parent_asking_for_a_coupon_is_told_what_to_send_instead(bot):
    bot.verify(MARIA)
    refusal = bot.say("COUPON")
    assert "parent who pays support" in refusal and "send DISBURSEMENTS" in refusal


def test_numbers_pick_from_the_menu(bot):
    bot.verify(MARIA)
    assert "$1,475.75" in bot.say("1")  # no menu on screen: the menu's numbers still work
    bot.say("MENU")
    assert "Payments sent to you" in bot.say("3")


def test_every_view_is_audited_without_data(bot):
    bot.verify(MARIA)
    for word in ("BALANCE", "PAYMENTS", "DISBURSEMENTS", "STATEMENT", "NOTICE"):
        bot.say(word)
    with bot.runtime.sessions() as s:
        kinds = s.scalars(select(AuditRecord.record_kind).order_by(AuditRecord.id)).all()
        senders = set(s.scalars(select(AuditRecord.sender)).all())
    assert kinds == ["balance", "payment_history", "disbursements", "statement", "notice"]
    assert senders == {"+12125550100"}


# --- office messages ---------------------------------------------------------------------------


def test_office_message_compose_confirm_send(bot):
    bot.verify(MARIA)
    assert "Type your message to the Manhattan" in bot.say("OFFICE")
    # While typing, a word from the table is part of the message...
    confirm = bot.say("balance")
    assert '"balance"' in confirm
    bot.say("I moved to 5 Main St. Please update my address.")
    sent = bot.say("SEND")
    assert "Your reference is OM-" in sent
    with bot.runtime.sessions() as s:
        message = s.scalars(select(OfficeMessage)).one()
    assert message.body == "I moved to 5 Main St. Please update my address."
    assert message.office_code == "MAN" and message.case_number == "CS10000001"
    assert message.status == "queued" and message.role == "receiving"
    assert message.reference in sent
    status = bot.say("OFFICE")
    assert message.reference in status and "waiting to be sent" in status
    assert "cancel" not in bot.say("MENU").lower()  # MENU abandons the message
    assert count(bot, OfficeMessage) == 1


def test_office_message_refuses_an_ssn_and_empty_send(bot):
    bot.verify(MARIA)
    assert "no message waiting" in bot.say("SEND")
    bot.say("OFFICE")
    outcome = bot.send("my ssn is 987-65-4320")
    assert outcome.inbound_was_secret and "do not put a Social Security number" in outcome.replies[0].text
    assert count(bot, OfficeMessage) == 0


@pytest.mark.parametrize(
    "message",
    [
        "my ssn is 987.65.4320",
        "ssn 987/65/4320 thanks",
        "987_65_4320",
        "number 987\u201365\u20134320 please",  # en dashes
        "9 8 7 6 5 4 3 2 0",
        "\uff19\uff18\uff17\uff16\uff15\uff14\uff13\uff12\uff10 is my number",  # full-width
        "\u0669\u0668\u0667\u0666\u0665\u0664\u0663\u0662\u0660",  # Arabic-Indic
        "my PIN is 48213, can you reset it?",  # Maria's own PIN
        "pin: 4 8 2 1 3",
    ],
)
def test_office_message_refuses_an_ssn_in_any_spelling_and_the_own_pin(bot, message):
    bot.verify(MARIA)
    bot.say("OFFICE")
    outcome = bot.send(message)
    assert outcome.inbound_was_secret
    reply = outcome.replies[0].text
    assert "do not put" in reply and "SEND" not in reply
    assert "4320" not in reply and "48213" not in reply
    assert "on its way" not in bot.say("SEND")
    assert count(bot, OfficeMessage) == 0
    with bot.runtime.sessions() as s:
        stored = " ".join(str(c.data) for c in s.scalars(select(Conversation)))
    assert "4320" not in stored and "48213" not in stored and "\uff10" not in stored


def test_office_preview_quotes_the_parent_and_cuts_at_a_word(bot):
    bot.verify(AMINATA)
    bot.say("BUREAU")
    bot.say("2")
    outcome = bot.send("Bonjour, j'ai déménagé à Montréal. " * 5)
    quoted, question = outcome.replies
    assert quoted.as_typed and quoted.text.startswith("Vous avez écrit : « Bonjour, j'ai déménagé à Montréal.")
    assert quoted.text.endswith("Montréal... »") and "...." not in quoted.text  # cut at a word
    assert "ENVOYER" in question.text and [c.word for c in question.choices] == ["ENVOYER", "MENU"]
    assert "Tapez d'abord" in bot.say("BUREAU") + bot.say("2") + bot.say("ENVOYER")  # SEND before typing


def test_office_message_keeps_other_numbers(bot):
    bot.verify(MARIA)
    bot.say("OFFICE")
    preview = bot.say("I moved to 12 Main St, Albany NY 12207-1234. My zip was 10027. Call 212-555-0123.")
    assert "12207-1234" in preview and "10027" in preview
    assert "on its way" in bot.say("SEND")
    assert count(bot, OfficeMessage) == 1


def test_an_ssn_in_free_text_is_a_secret_outside_verification_too(bot):
    outcome = bot.send("hi my social is 987 65 4320 what do I owe", channel=Channel.TELEGRAM, sender="77")
    assert outcome.inbound_was_secret
    bot.verify(MARIA)
    assert bot.send("BALANCE 987-65-4320").inbound_was_secret


def test_office_message_picks_the_case_for_several_cases(bot):
    bot.verify(AMINATA)
    reply = bot.send("BUREAU").replies[0]
    assert [c.word for c in reply.choices] == ["1", "2"]
    assert "Envoyez le numéro" in bot.say("7")
    assert "dossier *0003" in bot.say("2")
    bot.say("Bonjour, j'ai une question sur le coupon.")
    assert "référence" in bot.say("ENVOYER")
    with bot.runtime.sessions() as s:
        message = s.scalars(select(OfficeMessage)).one()
    assert message.case_number == "CS10000003" and message.role == "paying"


def test_unverified_office_starts_verification_then_composes(bot):
    assert "Social Security" in bot.say("OFFICE")
    bot.say(DANA["ssn"])
    assert "Type your message to the Brooklyn" in bot.say(DANA["pin"])


# --- PIN re-mail, help, language, opt-out ---------------------------------------------------------


def test_pin_remail_same_reply_whether_or_not_details_match(bot):
    def request(ssn, born, zip_code, sender):
        replies = [bot.say(t, sender=sender) for t in ("PIN", ssn, born, zip_code)]
        return replies

    matching = request(MARIA["ssn"], "03/14/1988", "10027", "+15550000001")
    wrong_zip = request(MARIA["ssn"], "1988-03-14", "10028", "+15550000002")
    unknown = request(UNKNOWN_SSN, "1988-03-14", "10027", "+15550000003")
    assert "888-208-4485" in matching[0] and "866-875-9975" in matching[0]
    assert matching == wrong_zip == unknown
    assert count(bot, PinRequest) == 1
    # A second matching request within 30 days records nothing new.
    request(MARIA["ssn"], "1988-03-14", "10027", "+15550000004")
    assert count(bot, PinRequest) == 1
    bot.clock.advance(days=31)
    request(MARIA["ssn"], "1988-03-14", "10027", "+15550000005")
    assert count(bot, PinRequest) == 2


def test_pin_remail_french_dates_are_day_first_and_bad_inputs_hint(bot):
    bot.say("FRANCAIS")
    bot.say("PIN")
    bot.say(CLAUDE["ssn"])
    assert "date de naissance" in bot.say("31/31/1983")
    assert "code postal" in bot.say("19/01/1983")
    assert "5 chiffres" in bot.say("1121")
    bot.say("11218")
    assert count(bot, PinRequest, PinRequest.person_id == CLAUDE["id"]) == 1


def test_help_and_unknown_text(bot):
    help_text = bot.say("info")
    assert "888-208-4485" in help_text and "866-875-9975" in help_text
    assert "Msg & data rates may apply" in help_text and "STOP" in help_text
    assert "did not understand" in bot.say("what is my balance please?")
    aide = bot.say("Aide", channel=Channel.TELEGRAM, sender="5", hint="fr")
    assert "888-208-4485" in aide and "NY.gov" in aide


def test_language_order_chosen_then_person_then_hint(bot):
    assert "Social Security" in bot.say("MENU", channel=Channel.TELEGRAM, sender="9", hint="en-US")
    assert "sécurité sociale" in bot.say("MENU", channel=Channel.TELEGRAM, sender="10", hint="fr-CA")
    bot.say(JAMES["ssn"], channel=Channel.TELEGRAM, sender="10")
    # James prefers English, but the chat has been French: it stays French (spec, Language).
    assert "Merci, James" in bot.say(JAMES["pin"], channel=Channel.TELEGRAM, sender="10")
    bot.verify(CLAUDE, sender="11", channel=Channel.TELEGRAM, hint="en")
    assert "Case *0002" in bot.say("MENU", sender="11", channel=Channel.TELEGRAM) + bot.say(
        "/balance", sender="11", channel=Channel.TELEGRAM
    )
    assert "Dossier *0002" in bot.say("SOLDE", sender="11", channel=Channel.TELEGRAM)  # a choice
    bot.say("ENGLISH", sender="11", channel=Channel.TELEGRAM)
    assert "Case *0002" in bot.say("/balance", sender="11", channel=Channel.TELEGRAM)


def test_words_ignore_case_accents_spaces_and_punctuation(bot):
    bot.verify(CLAUDE)
    assert "Relevé de compte" in bot.say("  relevé ! ")
    assert "déconnecté" in bot.say("Déconnexion.")


def test_sms_stop_start(bot):
    assert "unsubscribed" in bot.say("stop")
    assert bot.send("BALANCE").silent
    assert bot.send("HELP").silent
    assert bot.send("STOP").silent  # one confirmation only
    assert "subscribed again" in bot.say("START")
    assert "Social Security" in bot.say("BALANCE")


def test_sms_yes_and_unstop_opt_in_again_as_twilio_does(bot):
    for word in ("YES", "unstop", "Yes!"):
        assert "unsubscribed" in bot.say("STOP")
        assert bot.send("BALANCE").silent
        assert "subscribed again" in bot.say(word)
        assert "Social Security" in bot.say("BALANCE")


def test_stop_while_typing_an_office_message_still_opts_out(bot):
    bot.verify(MARIA)
    bot.say("OFFICE")
    assert "unsubscribed" in bot.say("STOP")
    assert count(bot, OfficeMessage) == 0


def test_telegram_start_is_a_greeting_not_an_opt_in(bot):
    reply = bot.say("/start", channel=Channel.TELEGRAM, sender="12")
    assert "Welcome" in reply and "Social Security" in reply
    assert "text messages" in bot.say("STOP", channel=Channel.TELEGRAM, sender="12")
    assert "Social Security" in bot.say("/balance", channel=Channel.TELEGRAM, sender="12")


def test_duplicate_delivery_is_acknowledged_and_not_acted_on(bot):
    bot.verify(MARIA)
    bot.say("OFFICE")
    bot.say("Please call me.")
    first = bot.send("SEND", delivery_id="SM-same")
    again = bot.send("SEND", delivery_id="SM-same")
    assert first.replies and again.duplicate and not again.replies
    assert count(bot, OfficeMessage) == 1


def test_state_survives_a_new_engine(bot):
    """Nothing lives in process memory: a new engine (a restart) continues the chat."""
    bot.say("BALANCE")
    bot.say(MARIA["ssn"])
    restarted = make_bot(bot.runtime)
    restarted.clock.now = bot.clock.now
    assert "$1,475.75" in restarted.say(MARIA["pin"])
    with bot.runtime.sessions() as s:
        row = s.scalars(select(Conversation)).one()
    assert "ssn_token" not in row.data


@pytest.mark.postgres
def test_duplicate_delivery_on_postgres(make_settings, postgres_url, example_extract_path):
    runtime = open_runtime(make_settings(postgres_url))
    import_extract(runtime, example_extract_path)
    pg_bot = make_bot(runtime)
    assert pg_bot.send("HELP", delivery_id="SM-pg").replies
    assert pg_bot.send("HELP", delivery_id="SM-pg").duplicate
    runtime.dispose()


# --- found in review -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["²", "９８７６５４３２０", "٤٨٢١٣", "１"])
def test_non_ascii_digits_get_hints_not_errors(bot, text):
    bot.verify(AMINATA)
    bot.say("BUREAU")
    assert "Envoyez le numéro" in bot.say(text)  # the case picker
    bot.say("MENU")
    assert bot.say(text)  # the menu (numbers)
    bot.say("LOGOUT")
    bot.say("SOLDE")
    assert bot.send(text).inbound_was_secret  # the SSN step: a hint, and deleted on Telegram
    bot.say(AMINATA["ssn"])
    assert "5 chiffres" in bot.say(text)
    assert "vérifiée" in bot.say(AMINATA["pin"])


def test_idle_lapse_while_typing_keeps_the_office_message(bot):
    bot.verify(MARIA)
    bot.say("OFFICE")
    bot.clock.advance(seconds=1000)
    reply = bot.say("Please call me back about my address.")
    assert "PIN again" in reply and "is kept" in reply
    confirm = bot.say(MARIA["pin"])
    assert "You are verified" in confirm and '"Please call me back about my address."' in confirm
    assert "Your reference is OM-" in bot.say("SEND")
    with bot.runtime.sessions() as s:
        assert s.scalars(select(OfficeMessage.body)).one() == "Please call me back about my address."


def test_idle_lapse_at_the_preview_keeps_the_draft_until_send(bot):
    bot.verify(MARIA)
    bot.say("OFFICE")
    bot.say("My new phone is 212-555-0100.")
    bot.clock.advance(seconds=1000)
    assert "is kept" in bot.say("SEND")
    assert '"My new phone is 212-555-0100."' in bot.say(MARIA["pin"])
    assert "Your reference is OM-" in bot.say("SEND")


def test_an_idle_lapse_then_another_word_abandons_the_message(bot):
    bot.verify(MARIA)
    bot.say("OFFICE")
    bot.say("draft text")
    bot.clock.advance(seconds=1000)
    bot.say("BALANCE")
    assert "$1,475.75" in bot.say(MARIA["pin"])
    assert "no message waiting" in bot.say("SEND")


def test_twelve_hours_passing_during_the_pin_check_asks_the_ssn(bot):
    bot.verify(MARIA)
    bot.clock.advance(hours=11, minutes=58)
    assert "PIN again" in bot.say("BALANCE")
    bot.clock.advance(minutes=3)
    reply = bot.say(MARIA["pin"])
    assert "9 digits of your SSN" in reply and "could not verify" not in reply
    assert count(bot, VerificationFailure) == 0
    bot.say(MARIA["ssn"])
    assert "$1,475.75" in bot.say(MARIA["pin"])


def test_help_and_language_words_abandon_the_step(bot):
    bot.say("BALANCE")
    bot.say(MARIA["ssn"])
    bot.say("HELP")
    assert "did not understand" in bot.say(MARIA["pin"])
    bot.say("PIN")
    bot.say("FRANCAIS")
    assert "pas compris" in bot.say("1988-03-14")


def test_on_telegram_stop_words_while_typing_are_the_message(bot):
    bot.verify(MARIA, sender="31", channel=Channel.TELEGRAM)
    bot.say("OFFICE", sender="31", channel=Channel.TELEGRAM)
    assert '"Stop"' in bot.say("Stop", sender="31", channel=Channel.TELEGRAM)


def test_a_word_in_one_language_is_the_parents_choice(bot):
    assert "sécurité sociale" in bot.say("solde", sender="+15550001111")
    assert "abonnement" in (stopped := bot.say("ARRET", sender="+15550002222")) and "résilié" in stopped
    assert "888-208-4485" in bot.say("Aide", sender="+15550003333")
    assert "frais de messagerie" in bot.say("AIDE", sender="+15550003333")
    # The last such word wins, like ENGLISH / FRANCAIS.
    assert "Social Security" in bot.say("BALANCE", sender="+15550001111")
    bot.say("FRANCAIS", sender="+15550004444")
    assert "Social Security" in bot.say("BALANCE", sender="+15550004444")
    reply = bot.verify(JAMES, sender="+15550005555")
    assert "Thank you, James" in reply
    assert "Dossier *0001" in bot.say("SOLDE", sender="+15550005555")


def test_telegram_commands_are_not_a_language_hint(bot):
    reply = bot.say("/balance", sender="61", channel=Channel.TELEGRAM, hint="fr-CA")
    assert "sécurité sociale" in reply
