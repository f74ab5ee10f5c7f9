"""The pages' gettext catalogues (one per blueprint) are merged by Flask-Babel into one table, the later
folder overriding the earlier for the same msgid: a msgid translated two ways in two catalogues would silently
show one area's wording in another. Where the meaning differs, the msgid differs (or has a msgctxt)."""

from __future__ import annotations

from babel.messages.pofile import read_po

from app.config import TRANSLATION_FOLDERS


def test_no_msgid_is_translated_two_ways_across_catalogues() -> None:
    translations: dict[tuple[str, str | None, str], dict[str, str]] = {}
    for folder in TRANSLATION_FOLDERS:
        for po_path in folder.glob("*/LC_MESSAGES/messages.po"):
            language = po_path.parent.parent.name
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file)
            for message in catalog:
                if not message.id or not message.string:
                    continue
                msgid = message.id if isinstance(message.id, str) else message.id[0]
                msgstr = message.string if isinstance(message.string, str) else message.string[0]
                key = (language, message.context, msgid)
                translations.setdefault(key, {})[folder.parent.name] = msgstr
    clashes = {key: found for key, found in translations.items() if len(set(found.values())) > 1}
    assert clashes == {}


def test_no_catalogue_is_marked_fuzzy() -> None:
    """`pybabel compile` skips a catalogue whose header is marked fuzzy (it only says so), so `make setup`
    would leave its area untranslated; a test process that loads the translations before compiling them
    would then keep the untranslated table for its whole life (Flask-Babel caches it per process)."""
    fuzzy = []
    for folder in TRANSLATION_FOLDERS:
        for po_path in folder.glob("*/LC_MESSAGES/messages.po"):
            with po_path.open("rb") as po_file:
                if read_po(po_file).fuzzy:
                    fuzzy.append(str(po_path))
    assert fuzzy == []
