"""The languages guests and hosts read us in: which one a request, a booking or a person asks
for, its words (gettext catalogues: scheduler/translations/<language>/LC_MESSAGES/messages.po)
and its dates, times, durations and lists (CLDR, through Babel).

A language is kept as a BCP 47 tag ("de", "en-US", "fr-CA"): its language picks the words,
the whole tag the formats (an American reads 2:00 PM, a Briton 14:00)."""

import functools
import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_time, get_day_names
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from babel.units import format_unit

LANGUAGES = ("en", "de", "fr", "es", "ja")
DEFAULT = "en"
CATALOGUES = Path(__file__).parent / "translations"
# English without a region is written as our emails always were: day before month, 24-hour clock.
FORMATS = {"en": "en-GB"}
TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")


def N_(message):
    """Marks `message` for the catalogues (`make messages` extracts it); whoever shows it
    translates it then."""
    return message


def tag_of(value):
    """The tag `value` names ("de-at" -> "de-AT", "en_US" -> "en-US"), if its language is one of
    ours; a region or script CLDR doesn't know is dropped ("de-XY" -> "de"). None for anything
    else: another language, or no tag at all."""
    if not isinstance(value, str) or len(value) > 35 or not TAG.fullmatch(value):
        return None
    language = re.split("[-_]", value)[0].lower()
    if language not in LANGUAGES:
        return None
    try:
        return str(Locale.parse(value.replace("_", "-"), sep="-")).replace("_", "-")
    except (ValueError, UnknownLocaleError):
        return language


def best_of(accepted):
    """The first of `accepted` (tags, most wanted first: werkzeug's `request.accept_languages`)
    that is ours, or None."""
    return next((tag for tag in map(tag_of, accepted) if tag), None)


def language_of(tag):
    return (tag or DEFAULT).split("-")[0]


@functools.cache
def translations(language):
    """The catalogue of `language`: its .po, compiled in memory (no build step, no .mo files to
    keep in step); English is the catalogues' source, so it has none."""
    path = CATALOGUES / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT or not path.exists():
        return NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def words(tag):
    """The catalogue for `tag`'s language."""
    return translations(language_of(tag))


def format_tag(tag):
    """The tag whose formats `tag`'s dates, times and lists are written in (the pages' Intl too)."""
    return FORMATS.get(tag or DEFAULT, tag or DEFAULT)


@functools.cache
def locale(tag):
    """The CLDR locale `tag`'s dates, times and lists are written in."""
    return Locale.parse(format_tag(tag), sep="-")


def moment_text(moment, zone_name, tag):
    """A moment in a zone, as the locale writes a date with its weekday and a short time, with
    the zone's abbreviation and name: 'Sun, 9 Mar 2031, 14:05 CET (Europe/Paris)',
    '2031年3月9日(日) 14:05 CET (Europe/Paris)'."""
    local = moment.astimezone(ZoneInfo(zone_name))
    where = locale(tag)
    when = where.datetime_formats["medium"].format(format_time(local, "short", locale=where),
                                                   format_skeleton("yMMMEd", local, locale=where))
    return f"{when} {local.strftime('%Z')} ({zone_name})"


def date_text(moment, zone_name, tag):
    """The local date of a moment in a zone, with its weekday: 'Sun, 9 Mar 2031'."""
    return format_skeleton("yMMMEd", moment.astimezone(ZoneInfo(zone_name)), locale=locale(tag))


def whole_units(minutes):
    """The largest of days, hours and minutes that counts `minutes` whole: 1440 -> (1, "day"),
    90 -> (90, "minute"), 0 -> (0, "minute")."""
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0 and (minutes or size == 1):
            return minutes // size, unit


def duration_text(minutes, tag):
    """`whole_units` in the locale's words: 1440 -> '1 day', 90 -> '90 Minuten', 120 -> '2 時間'."""
    count, unit = whole_units(minutes)
    return format_unit(count, f"duration-{unit}", length="long", locale=locale(tag))


def list_text(items, tag, style="standard"):
    """'Ann, Ben and Cat' ('standard') or 'Ann or Ben' ('or'), as the locale joins them."""
    return format_list(list(items), style=style, locale=locale(tag))



def moment_of(text):
    """The moment ISO `text` with an offset names, else None."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


# iCalendar's day codes, Monday first as Babel numbers them.
DAY_CODES = ("mo", "tu", "we", "th", "fr", "sa", "su")


def weekday_of(tag):
    """A day code ("mo") to its name in the locale: "Monday", "Montag", "月曜日"."""
    names = get_day_names("wide", locale=locale(tag))
    return lambda code: names[DAY_CODES.index(code)]
