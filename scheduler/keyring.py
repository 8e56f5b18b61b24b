"""SECRET_KEYS: the key ring for what the service keeps secret at rest, apart from logins.

The ring is a list of (key id, 32-byte key); the first key seals and derives everything new,
every key opens what it sealed. So a key is rotated without losing anything: add the new key
last (deploy), move it first (deploy), re-seal under it (`flask --app wsgi rotate-secrets`),
then drop the old one (docs/operations.md, "Rotating keys").

A sealed value is self-describing, as Tink's key-id prefix: `<key id>.` followed by AES-GCM's
12-byte nonce and ciphertext. The additional data names the value's purpose (and, where the
caller gives one, its place), so a value copied into another column does not open there.

JWT_SECRET stays for login tokens (and sync tokens, which a client simply restarts): rotating
it logs everyone out and nothing else.
"""

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .keys import derived_key

KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
KEY_BYTES = 32
NONCE_BYTES = 12
SEPARATOR = b"."


class SealError(Exception):
    """A sealed value can't be opened: its key is not in the ring, or it was not sealed for this."""


@dataclass(frozen=True)
class KeyRing:
    keys: tuple  # ((key id, key bytes), ...), the current key first

    @classmethod
    def parse(cls, text):
        """`id:base64key,id:base64key,...` -> KeyRing; ValueError says what is wrong."""
        keys = []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            key_id, colon, encoded = entry.partition(":")
            key_id = key_id.strip()
            if not colon or not KEY_ID.fullmatch(key_id):
                raise ValueError("expected entries like k1:<base64 of 32 random bytes>, comma-separated; "
                                 "key ids are 1-32 letters, digits, - or _")
            try:
                key = base64.b64decode(encoded.strip().replace("-", "+").replace("_", "/"), validate=True)
            except binascii.Error:
                raise ValueError(f"key {key_id!r} is not base64") from None
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} is {len(key)} bytes; each key must be {KEY_BYTES} random bytes "
                                 "(openssl rand -base64 32)")
            if any(key_id == known for known, _ in keys):
                raise ValueError(f"key id {key_id!r} appears twice")
            keys.append((key_id, key))
        if not keys:
            raise ValueError("expected at least one key")
        return cls(tuple(keys))

    def __repr__(self):  # settings are printed in places; keys never are
        return f"KeyRing({', '.join(self.ids)})"

    @property
    def ids(self):
        return tuple(key_id for key_id, _ in self.keys)

    @property
    def current_id(self):
        return self.keys[0][0]

    def key(self, key_id):
        for known, key in self.keys:
            if known == key_id:
                return key
        raise SealError(f"SECRET_KEYS has no key {key_id!r}")

    def derived(self, key_id, purpose):
        """A key for one purpose (an HMAC of the label under ring key `key_id`)."""
        return derived_key(self.key(key_id), purpose)

    def seal(self, plaintext, purpose):
        """`plaintext` (bytes) encrypted under the current key for `purpose` (str)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.key(self.current_id)).encrypt(nonce, plaintext, purpose.encode())
        return self.current_id.encode() + SEPARATOR + nonce + sealed

    def open(self, sealed, purpose):
        """The plaintext of what `seal` made for `purpose`, under whichever key sealed it."""
        key_id, blob = split(sealed)
        try:
            return AESGCM(self.key(key_id)).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], purpose.encode())
        except InvalidTag:
            raise SealError(f"a value sealed under key {key_id!r} does not open for {purpose!r}") from None

    def seal_text(self, text, purpose):
        return self.seal(text.encode(), purpose)

    def open_text(self, sealed, purpose):
        return self.open(sealed, purpose).decode()

    def reseal(self, sealed, purpose):
        """The value sealed under the current key; None if it already is."""
        if key_id_of(sealed) == self.current_id:
            return None
        return self.seal(self.open(sealed, purpose), purpose)


def split(sealed):
    key_id, separator, blob = bytes(sealed).partition(SEPARATOR)
    if not separator or len(blob) <= NONCE_BYTES:
        raise SealError("not a sealed value")
    return key_id.decode("ascii", "replace"), blob


def key_id_of(sealed):
    return split(sealed)[0]


def sealed_prefix(key_id):
    """How every value sealed under `key_id` starts (to find them in SQL)."""
    return key_id.encode() + SEPARATOR


def development_ring(label):
    """The fixed ring used outside production when SECRET_KEYS is unset."""
    return KeyRing((("dev", hashlib.sha256(label.encode()).digest()),))
