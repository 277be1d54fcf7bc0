"""The grounds on which a controller must erase personal data: UK GDPR Article 17(1),
(a) to (f). An erasure of a ledger entry records which one it rests on."""

from __future__ import annotations

GROUNDS = {
    "no-longer-necessary": "17(1)(a): no longer necessary for the purpose it was collected for",
    "consent-withdrawn": "17(1)(b): the person withdrew the consent it rested on",
    "objection": "17(1)(c): the person objected and no overriding legitimate ground remains",
    "unlawfully-processed": "17(1)(d): it was processed unlawfully",
    "legal-obligation": "17(1)(e): erasure is required to comply with a legal obligation",
    "child-information-society": "17(1)(f): collected from a child for an information "
                                 "society service",
}
