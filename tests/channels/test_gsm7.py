"""GSM-7 alphabet: folding, segment counting against known cases, splitting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from babel.dates import format_date
from babel.numbers import format_currency
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.sms.gsm7 import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    fold_to_gsm7,
    is_gsm7,
    segments,
    split_to_fit,
)


@pytest.mark.parametrize(
    ("length", "expected"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm7_segment_boundaries(length: int, expected: int) -> None:
    assert segments("a" * length) == expected
    assert segments("a" * length, "gsm7") == expected


def test_extension_characters_count_two_septets() -> None:
    assert segments("€" * 80) == 1  # 160 septets
    assert segments("€" * 81) == 2
    assert segments("a" * 159 + "[") == 2  # 161 septets
    assert segments("a" * 158 + "]") == 1
    for ch in "^{}\\[~]|€":
        assert is_gsm7(ch)
        assert segments("x" * 159 + ch) == 2


def test_escape_pair_never_split_across_parts() -> None:
    assert segments("a" * 152 + "€") == 1  # 154 septets fit one single segment
    # 306 septets, but part one holds only 152: the escape pair cannot straddle two parts,
    # so '€' opens part two (2 + 151 = 153) and the last 'a' needs a third part.
    text = "a" * 152 + "€" + "a" * 152
    assert sum(2 if c == "€" else 1 for c in text) == 306
    assert segments(text) == 3
    assert segments("a" * 151 + "€" + "a" * 153) == 2


@pytest.mark.parametrize(
    ("length", "expected"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_ucs2_segment_boundaries(length: int, expected: int) -> None:
    assert segments("ж" * length) == expected
    assert segments("a" * length, "ucs2") == expected


def test_one_non_gsm_character_makes_the_whole_message_ucs2() -> None:
    assert segments("a" * 69 + "ê") == 1
    assert segments("a" * 70 + "ê") == 2
    assert segments(fold_to_gsm7("a" * 70 + "ê")) == 1


def test_astral_characters_are_two_ucs2_units() -> None:
    assert segments("😀" * 35) == 1
    assert segments("😀" * 36) == 2


def test_forcing_gsm7_on_foreign_text_is_an_error() -> None:
    with pytest.raises(ValueError):
        segments("ê", "gsm7")


def test_the_alphabet_is_the_standard_one() -> None:
    assert len(GSM7_BASIC) == 127 and len(set(GSM7_BASIC)) == 127  # 128 minus ESC
    for ch in "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà":
        assert is_gsm7(ch), ch
    assert set(GSM7_EXTENSION) == set("^{}\\[~]|€")
    for ch in "êâîôûçëïœÀÈÊÎÔÛÿ«»“”‘’–—…\u00a0\u202f`":
        assert not is_gsm7(ch), ch


@pytest.mark.parametrize(
    ("source", "folded"),
    [
        ("fenêtre", "fenetre"),
        ("château", "chateau"),
        ("île", "ile"),
        ("hôtel", "hotel"),
        ("sûr", "sur"),
        ("garçon", "garcon"),
        ("Noël", "Noel"),
        ("naïf", "naif"),
        ("cœur", "coeur"),
        ("ŒUVRE", "OEUVRE"),
        ("À bientôt", "A bientot"),
        ("Ève, Être, Île, Ôter, Ûr", "Eve, Etre, Ile, Oter, Ur"),
        ("ÿ", "y"),
        ("« Solde »", '"Solde"'),  # no space left inside the quotes
        ("«\u00a0Solde\u00a0»", '"Solde"'),
        ("l’avis “mensuel”", "l'avis \"mensuel\""),
        ("2025–2026 — fin…", "2025-2026 - fin..."),
        ("1\u202f250,75\u00a0$US", "1 250,75 $US"),
        ("n° 12", "no 12"),
        ("a\u200bb\ufeff", "ab"),
        ("tab\there", "tab here"),
        ("😀", "?"),
        ("中", "?"),
    ],
)
def test_fold_known_cases(source: str, folded: str) -> None:
    assert fold_to_gsm7(source) == folded
    assert is_gsm7(folded)


def test_fold_keeps_letters_gsm7_has() -> None:
    kept = "éèùìòÇÉàäöñüÄÖÑÜßÆæÅåØø€[]"
    assert fold_to_gsm7(kept) == kept


def test_french_sentences_fold_to_gsm7_and_stay_readable() -> None:
    sentences = [
        "Votre solde de pension alimentaire est de 1 250,75 $US au 20 nov. 2026.",
        "Relevés de compte, coupons de paiement et avis mensuel : répondez « AIDE ».",
        "Le parent non gardien doit payer avant le 1er décembre ; merci d’être à jour.",
        "Entrez votre numéro de sécurité sociale (SSN) à 9 chiffres, puis votre code PIN.",
        "Où êtes-vous ? Ça dépend… L’Œuvre, la forêt, le maïs, la Noël, l’âge, la flûte.",
    ]
    for sentence in sentences:
        folded = fold_to_gsm7(sentence)
        assert is_gsm7(folded), folded
        assert "?" not in folded.replace(" ?", "")  # the only '?' is the one in the source
        # Nothing dropped but the spaces inside « » (œ -> oe grows).
        assert len(folded) >= len(sentence) - 2 * sentence.count("«")


def test_babel_french_amounts_and_dates_fold() -> None:
    # The same calls bot.i18n.Translator makes for French.
    money = format_currency(Decimal("1250.75"), "USD", locale="fr_FR")
    assert not is_gsm7(money)  # Babel uses narrow no-break and no-break spaces
    assert fold_to_gsm7(money) == "1 250,75 $US"
    assert fold_to_gsm7(format_date(dt.date(2026, 2, 3), format="medium", locale="fr_FR")) == (
        "3 févr. 2026"  # é is GSM-7: kept
    )
    assert fold_to_gsm7(format_date(dt.date(2026, 8, 3), format="MMMM y", locale="fr_FR")) == (
        "aout 2026"
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_fold_always_gives_gsm7(text: str) -> None:
    assert is_gsm7(fold_to_gsm7(text))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(GSM7_BASIC.replace("\n", "") + "€[ ê"), max_size=500),
        max_size=8,
    ),
    st.sampled_from([1, 2]),
)
def test_split_fits_and_loses_nothing(lines: list[str], max_segments: int) -> None:
    text = "\n".join(lines)
    parts = split_to_fit(text, max_segments)
    assert all(segments(part) <= max_segments for part in parts)
    # Only the separators where a split fell are gone.
    assert "".join(parts).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(
        " ", ""
    )


def test_split_prefers_line_boundaries() -> None:
    lines = [f"Line {i:02d}: " + "x" * 40 for i in range(20)]
    parts = split_to_fit("\n".join(lines), 2)
    assert len(parts) > 1
    for part in parts:
        assert segments(part) <= 2
        for line in part.split("\n"):
            assert line in lines  # no line was cut in the middle
    assert "\n".join(parts) == "\n".join(lines)


def test_short_text_is_not_split() -> None:
    assert split_to_fit("Hello", 2) == ["Hello"]
    assert split_to_fit("", 2) == [""]
