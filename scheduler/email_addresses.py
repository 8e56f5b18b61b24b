"""E-mail addresses: the form we keep and show, and the one key that says whose an address is.

Everything that compares addresses (the unique index, every lookup by e-mail, the login
limiter) compares `identity_key`s, computed here and nowhere else: PostgreSQL's lower()
disagrees with Python's case rules (it folds 'İ' to 'i'), and two rules for one identity let
a look-alike slip past one of them.
"""

import re
import sys
import unicodedata
from functools import cache

# No whitespace and none of RFC 5322's specials, which would make a To: header name other
# recipients ("a,b@example.com") or a display name.
ADDRESS_PART = r'[^\s@"(),:;<>\[\\\]]+'
SHAPE = re.compile(rf"^{ADDRESS_PART}@{ADDRESS_PART}\.{ADDRESS_PART}$")
MAX_LENGTH = 254
# Control, format (zero-width spaces and joiners, the soft hyphen, bidi marks and overrides),
# private-use, surrogate, unassigned and separator characters: invisible or misleading.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zs", "Zl", "Zp"})
# Unicode's other default-ignorable characters (combining grapheme joiner, Hangul fillers,
# variation selectors): they render as nothing, so "ann" and "an\u034fn" look the same.
IGNORABLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]")


def hidden_characters(text):
    """Whether `text` holds a character from REFUSED_CATEGORIES other than the plain space, which
    is visible (an address with one is refused as misshapen, saying so; a name may have some)."""
    return (any(unicodedata.category(ch) in REFUSED_CATEGORIES and ch != " " for ch in text)
            or IGNORABLE.search(text))


def char_class(allowed):
    """A regular expression's character class of the code points `allowed` accepts, as ranges."""
    ranges, first = [], None
    for code in range(sys.maxunicode + 2):
        if code <= sys.maxunicode and allowed(chr(code)):
            first = code if first is None else first
        elif first is not None:
            ranges.append(re.escape(chr(first)) + ("" if first == code - 1 else "-" + re.escape(chr(code - 1))))
            first = None
    return f"[{''.join(ranges)}]"


@cache
def visible_text_pattern():
    """The text hidden_characters accepts, with something besides spaces, as a regular
    expression (for the OpenAPI description)."""
    shown = char_class(lambda ch: not hidden_characters(ch))
    return f"^{shown}*{char_class(lambda ch: ch != ' ' and not hidden_characters(ch))}{shown}*$"


def without_hidden_characters(text):
    return IGNORABLE.sub("", "".join(ch for ch in text if unicodedata.category(ch) not in REFUSED_CATEGORIES))


def normalise(text):
    """The address as we store and show it: NFKC, so full-width letters, ligatures and
    decomposed accents become the ordinary characters they stand for. ValueError (saying
    why) for invisible or direction-changing characters, a domain that ends in a dot or has
    an empty label, and anything not shaped like an address."""
    address = unicodedata.normalize("NFKC", text)
    if hidden_characters(text) or hidden_characters(address):
        raise ValueError("must not contain invisible, control or text-direction characters")
    if len(address) > MAX_LENGTH or not SHAPE.match(address):
        raise ValueError("must be a valid email address")
    domain = address.rpartition("@")[2]
    if domain.endswith("."):
        raise ValueError("must not end with a dot")
    if not (all(0 < len(label) <= 63 for label in domain.split(".")) and as_ascii_domain(domain)):
        raise ValueError("must be a valid email address (its domain is not a valid host name)")
    return address


def identity_key(address):
    """Which person an address belongs to: NFKC, case-folded (with 'İ' folded to 'i', as
    PostgreSQL and people read it), hidden characters and a trailing dot dropped, the domain in
    its ASCII (IDNA) form, so 'bücher.de' and 'xn--bcher-kva.de' are one. Total: any text gets
    a key (accounts stored before these rules included), so a lookup never fails on one."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", address).casefold())
    local, at, domain = without_hidden_characters(folded).replace("i\u0307", "i").rpartition("@")
    domain = domain.removesuffix(".")
    return f"{local}{at}{as_ascii_domain(domain) or domain}"


def as_ascii_domain(domain):
    """The domain's IDNA (xn--) form; None if it has none. An ASCII domain is its own form."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
