"""Citizens' references: how one is written down, found and turned into a pseudonym.

Plain Python: no Flask, no database. A reference is never stored. Each area keeps,
per citizen, a row found by the *lookup* (an HMAC of the reference under the
deployment's pseudonym key) holding a random salt; the pseudonym is an HMAC of the
salt and the reference. Both are taken of the reference in a normal form, which
has changed once, so each row says under which rule it was made:

- **rule 1** (before migration 0004): the reference trimmed of whitespace at its
  ends, nothing else. ``CIT-0042``, ``cit-0042`` and ``CIT\\u200b-0042`` were three
  citizens.
- **rule 2**: Unicode NFKC with case folding (NFKC_Casefold in effect), default-ignorable
  code points removed, whitespace trimmed and each run of it inside made one space.
  Case, full-width forms, invisible characters and odd spaces no longer make another
  citizen. References that differ in letters, digits or punctuation still do.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

RULE = 2

# Default_Ignorable_Code_Point, from the Unicode Character Database's
# DerivedCoreProperties.txt (unchanged since Unicode 14): soft hyphen, combining
# grapheme joiner, zero-width space and joiners, bidirectional marks, embeddings and
# isolates, word joiner and invisible operators, Hangul fillers, variation selectors,
# the byte order mark, tags, and the code points reserved as ignorable.
DEFAULT_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")


def normalise(reference: str) -> str:
    """The reference under rule 2; empty if it holds nothing visible."""
    text = DEFAULT_IGNORABLE.sub("", reference)
    # NFKC first so that a compatibility form folds as its plain letter does; again
    # after, since folding can leave text that is not yet NFKC.
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(DEFAULT_IGNORABLE.sub("", text).split())


def as_sent(reference: str) -> str:
    """The reference under rule 1."""
    return reference.strip()


def recorded_forms(reference: str) -> set[str]:
    """The forms a row of this reference's citizen may have been made of: the rule-2
    one, and the rule-1 ones worth trying. Those are the reference as sent; with
    compatibility forms, invisible characters and spacing as rule 2 makes them; and
    each of those in upper and lower case: only the ones rule 2 makes the same.

    A citizen recorded under rule 1 in another form (``Cit-0042`` when ``CIT-0042``
    is asked for), and not seen since, is found by that form only.
    """
    normal = normalise(reference)
    if not normal:
        return set()
    plain = " ".join(unicodedata.normalize("NFKC", DEFAULT_IGNORABLE.sub("", reference))
                     .split())
    forms = {case for base in (as_sent(reference), plain, normal)
             for case in (base, base.upper(), base.lower())}
    return {form for form in forms if normalise(form) == normal}


def _hmac(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def lookup(key: str, form: str) -> str:
    """What finds a citizen's row: an HMAC of the reference in its normal form."""
    return _hmac(key, "lookup:" + form)


def pseudonym(key: str, salt: str, form: str) -> str:
    """HMAC of the salt and the reference: once the salt is erased, nothing links them."""
    return "p_" + _hmac(key, f"{salt}:{form}")[:32]
