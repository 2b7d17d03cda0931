"""Every string of the Chinese catalogues is translated: no empty msgstr, no fuzzy entry, and each
catalogue's compiled .mo says what its .po says (a translation added without compilemessages never
reaches a page)."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted(
    [*ROOT.glob("locale/zh_Hans/LC_MESSAGES/*.po"), *ROOT.glob("apps/*/locale/zh_Hans/LC_MESSAGES/*.po")]
)

pytestmark = [pytest.mark.smoke]


def entries(path: Path) -> list[dict]:
    """(flags, msgid, msgstrs) of each entry of a .po file; obsolete (#~) entries left out."""
    out, current, field = [], None, None

    def finish():
        if current is not None and current.get("msgid") is not None:
            out.append(current)

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#,"):
            if current is not None and field is not None and field.startswith("msgstr"):
                finish()
                current, field = None, None
            current = current or {"flags": set(), "msgid": None, "msgstr": {}}
            current["flags"] |= {f.strip() for f in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        key, _, rest = line.partition(" ")
        if line.startswith('"'):
            text = ast.literal_eval(line)
        elif key in ("msgid", "msgctxt", "msgid_plural") or key.startswith("msgstr"):
            if key in ("msgid", "msgctxt") and field is not None and field.startswith("msgstr"):
                finish()
                current = None
            current = current or {"flags": set(), "msgid": None, "msgstr": {}}
            field, text = key, ast.literal_eval(rest)
        else:
            continue
        if field.startswith("msgstr"):
            current["msgstr"][field] = current["msgstr"].get(field, "") + text
        else:
            current[field] = (current.get(field) or "") + text
    finish()
    return [e for e in out if e["msgid"]]  # the header has an empty msgid


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_chinese_catalogue_has_every_string_translated(path):
    found = entries(path)
    assert found, "a catalogue with no entries"
    untranslated = [e["msgid"] for e in found if not all(e["msgstr"].values()) or not e["msgstr"]]
    fuzzy = [e["msgid"] for e in found if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_compiled_catalogue_matches_its_source(path):
    with path.with_suffix(".mo").open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = [
        e["msgid"]
        for e in entries(path)
        if "msgctxt" not in e and "msgid_plural" not in e and compiled.gettext(e["msgid"]) != e["msgstr"]["msgstr"]
    ]
    assert stale == []
