"""The language a page is shown in, and its words: the templates' (Jinja's i18n extension, with
the catalogue of the request's language) and the scripts' (their messages, translated, put into
the page for static/messages.js)."""

import functools
from pathlib import Path

from babel import Locale
from babel.messages.extract import extract_from_file
from flask import g, request

from .. import languages

SCRIPTS = Path(__file__).parent / "static"


def choose(booked=None):
    """The page's language: `?lang=` if it is one of ours, else `booked` (the one a guest booked
    in, on the manage page), else the browser's Accept-Language, else English."""
    g.language = (languages.tag_of(request.args.get("lang")) or booked
                  or languages.best_of(request.accept_languages.values()) or languages.DEFAULT)


def words():
    return languages.words(g.get("language"))


def install(app):
    """`_()` and `ngettext()` in templates, in the request's language; the page's locale, the
    scripts' messages and the other languages' links; hosts' names in a sentence."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(
        gettext=lambda message: words().gettext(message),
        ngettext=lambda singular, plural, count: words().ngettext(singular, plural, count),
        newstyle=True)
    app.jinja_env.globals.update(page_locale=lambda: languages.format_tag(g.language),
                                 script_messages=script_messages, other_languages=other_languages)
    app.jinja_env.filters["people"] = people


def people(names, kind):
    """A team's hosts in a sentence: all of a collective's ("Ann, Ben and Cat"), one of a
    round-robin's ("Ann or Ben")."""
    return languages.list_text(names, g.language, "standard" if kind == "collective" else "or")


@functools.cache
def script_message_ids():
    """The messages the pages' scripts say (`_("…")`, `ngettext("…", "…", n)`), as Babel's
    extractor finds them: a singular, or a (singular, plural) pair."""
    return tuple(dict.fromkeys(message for path in sorted(SCRIPTS.glob("*.js"))
                               for _, message, _, _ in extract_from_file("javascript", path)))


def script_messages():
    return script_messages_in(languages.language_of(g.language))


@functools.cache
def script_messages_in(language):
    """The scripts' messages in `language`, made once per language: the text, or for a plural
    message (under its singular) its forms for one and for other counts (static/messages.js
    picks by the locale's plural rules)."""
    catalogue = languages.translations(language)
    shown = {}
    for message in script_message_ids():
        if isinstance(message, str):
            shown[message] = catalogue.gettext(message)
        else:
            shown[message[0]] = [catalogue.ngettext(*message, 1), catalogue.ngettext(*message, 2)]
    return shown


def other_languages():
    """The other languages the page can be read in: (tag, its name in itself, the address)."""
    shown = languages.language_of(g.language)
    return [(language, Locale.parse(language).display_name, f"{request.path}?lang={language}")
            for language in languages.LANGUAGES if language != shown]


def duration_words(minutes):
    """A notice in the page's language: '2 hours'."""
    return languages.duration_text(minutes, g.language)


def notice_words(minutes):
    """A notice as the manage page asks for it: '1 day's notice', '2 hours' notice'."""
    count, unit = languages.whole_units(minutes)
    ngettext = words().ngettext
    return {"day": ngettext("{count} day's notice", "{count} days' notice", count),
            "hour": ngettext("{count} hour's notice", "{count} hours' notice", count),
            "minute": ngettext("{count} minute's notice", "{count} minutes' notice", count)}[unit].format(count=count)
