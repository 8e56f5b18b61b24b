"""E-mail addresses: the form we keep and show, and the one key that says whose an address is.

Everything that compares addresses (the unique index, every lookup by e-mail, the login
limiter) compares `identity_key`s, computed here and nowhere else: PostgreSQL's lower()
disagrees with Python's case rules (it folds 'İ' to 'i'), and two rules for one identity let
a look-alike slip past one of them.

Look-alikes from other scripts (Cyrillic 'а', Greek 'ο', Latin dotless 'ı') are handled with
Unicode's own data (UTS #39, as the `confusable-homoglyphs` package ships it): an address may
not mix scripts within its local part or a domain label, and the key maps what is left
(whole-script look-alikes such as Cyrillic 'асе' for 'ace') to its confusable skeleton.
"""

import re
import sys
import unicodedata
from functools import cache

from confusable_homoglyphs.categories import unique_aliases
from confusable_homoglyphs.confusables import confusables_data

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
    an empty label, a local part or domain label that mixes scripts, and anything not shaped
    like an address."""
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
    local = address.rpartition("@")[0]
    labels = [unicode_label(label) for label in domain.split(".")]
    if None in labels:
        raise ValueError("must be a valid email address (its domain is not a valid host name)")
    if any(mixes_scripts(part) for part in (local, *labels)):
        raise ValueError("must not mix scripts (such as Latin and Cyrillic) in its local part or a domain label")
    return address


# UTS #39's "highly restrictive" level: one script per part, or Latin with the scripts that
# Japanese, Chinese and Korean writing combine. Common (digits, punctuation) and Inherited
# (combining marks) characters go with any script.
SCRIPT_SETS = ({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}, {"LATIN", "HAN", "BOPOMOFO"}, {"LATIN", "HAN", "HANGUL"})


def mixes_scripts(text):
    scripts = unique_aliases(text) - {"COMMON", "INHERITED"}
    return len(scripts) > 1 and not any(scripts <= allowed for allowed in SCRIPT_SETS)


def unicode_label(label):
    """A domain label as people read it: an IDNA (xn--) label decoded; None if it doesn't decode."""
    if not label.lower().startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        return None


def identity_key(address):
    """Which person an address belongs to: NFKC, case-folded (with 'İ' folded to 'i', as
    PostgreSQL and people read it), hidden characters and a trailing dot dropped, reduced to
    its confusable skeleton (`skeleton`), the domain in its ASCII (IDNA) form, so 'bücher.de'
    and 'xn--bcher-kva.de' are one, and so are Cyrillic 'асе' and 'ace'. Total: any text gets a
    key (accounts stored before these rules included), so a lookup never fails on one."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", address).casefold())
    local, at, domain = without_hidden_characters(folded).replace("i\u0307", "i").rpartition("@")
    domain = skeleton(".".join(unicode_label(label) or label for label in domain.removesuffix(".").split(".")))
    return f"{skeleton(local)}{at}{as_ascii_domain(domain) or domain}"


def look_alike_table():
    """Each non-ASCII character with a confusable prototype -> one representative of its UTS
    #39 class. The package keeps confusables.txt's pairs in both directions, so a prototype is
    the side with several look-alikes (or a sequence, as 'rn' for 'm'); where a pair has one
    each, the lower code point stands for both, which keeps the classes, all a key needs.
    ASCII letters and digits are left as they are: 'l'/'1' and 'rn'/'m' are different people's
    everyday addresses, and mail has always told them apart."""
    def plain(text):
        return text.replace("\u200e", "")  # the package wraps right-to-left characters in LRMs
    partners = {plain(key): [plain(entry["c"]) for entry in entries] for key, entries in confusables_data.items()}
    table = {}
    for char, (partner, *more) in partners.items():
        if len(char) > 1 or more or char.isascii():
            continue
        representative = partner if len(partner) > 1 or len(partners.get(partner, ())) > 1 else min(char, partner)
        if representative != char:
            table[char] = representative
    # A prototype inside a sequence may itself be a pair's higher half: map once more.
    return {char: "".join(table.get(c, c) for c in target) for char, target in table.items()}


LOOK_ALIKES = str.maketrans(look_alike_table())


def skeleton(text):
    """`text` with each non-ASCII character replaced by its look-alike class's representative
    (UTS #39's skeleton: NFD, map, NFD), composed again so that accents read as before."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", unicodedata.normalize("NFD", text).translate(LOOK_ALIKES)))


def as_ascii_domain(domain):
    """The domain's IDNA (xn--) form; None if it has none. An ASCII domain is its own form."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
