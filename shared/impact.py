"""What came of citizens' involvement ("you said, we did"): plain Python, no Flask.

An impact record says what the citizens said, what changed or why nothing could, and
when they were told. The words stay in the area service; the ledger is told the
structured facts below and a commitment to the words.
"""

from __future__ import annotations

import hashlib
import json
import secrets

# Whether anything changed because of what the citizens said.
OUTCOMES = ("yes", "partly", "no", "not_possible")
# Outcomes that are a change, recorded with its kind.
CHANGED = ("yes", "partly")
# The kind of change (docs/metrics.md, "Impact"): where it landed.
CHANGE_KINDS = (
    "policy_or_procedure",   # a written policy, procedure or pathway
    "service_design",        # how a service is designed or delivered
    "information",           # what people are told, and how: leaflets, letters, websites
    "environment",           # a building, room, equipment or the way a place works
    "staff_practice",        # how staff work, or are trained, supervised or appraised
    "recruitment",           # a job description, a question, a selection decision
    "curriculum",            # what a course teaches, or how it assesses
    "inspection_finding",    # a finding, rating or recommendation of an inspection
    "governance",            # a decision of a board or committee, or how decisions are made
    "resources",             # money, staff or time put towards something
    "other",
)


def new_salt() -> str:
    return secrets.token_hex(16)


def commitment(salt: str, said: str, what_changed: str) -> str:
    """SHA-256, hex, of the salt's 16 bytes then the words as canonical JSON.

    The words: ``{"said": ..., "what_changed": ...}`` with sorted keys, no spaces,
    UTF-8. The salt keeps a short or guessable text from being found by trying
    texts against the commitment; with the salt, anyone holding the words can check
    that they are the ones committed to.
    """
    words = json.dumps({"said": said, "what_changed": what_changed}, sort_keys=True,
                       separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(bytes.fromhex(salt) + words.encode()).hexdigest()
