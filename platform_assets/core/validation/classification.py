"""Which columns' values never leave the process: a contract's ``classification`` as a policy.

ODCS leaves ``classification`` free text, so authors write ``pii``, ``PII``, ``personal``,
``PII (GDPR personal data)``, ``Restricted - special category``. The policy, in the order
it is applied (:func:`withheld_because` is the one function that decides):

1. No classification (absent or blank): the values may be sent.
2. The classification names a sensitive class (:data:`SENSITIVE_CLASSES`), matched
   case-insensitively as whole words anywhere in it (``PII (GDPR personal data)`` names
   ``pii``, ``gdpr`` and ``personal``): withheld.
3. The classification is exactly a public class (:data:`PUBLIC_CLASSES`): the values may
   be sent.
4. Anything else (``internal``, ``customer data``, a typo): withheld. When in doubt, withhold.

Withheld means: no value of the column is in anything sent to Claude (sample rows and
profile statistics are masked, see :mod:`platform_assets.core.llm.redaction`), and no
violation quotes one of its values as an example (verdicts are stored, alerted and read
back into later prompts). ``platform-assets contracts lint`` prints the withheld columns.
See ``docs/contracts-security.md``.
"""

from __future__ import annotations

import re

# Whole words or phrases; each names a kind of data that must not reach a third party.
SENSITIVE_CLASSES: tuple[str, ...] = (
    "pii",
    "spi",
    "personal",
    "personally identifiable",
    "gdpr",
    "special category",
    "special categories",
    "sensitive",
    "confidential",
    "restricted",
    "secret",
    "private",
    "privacy",
    "phi",
    "health",
    "medical",
    "hipaa",
    "biometric",
    "genetic",
    "pci",
    "cardholder",
    "ccpa",
    "lgpd",
)
PUBLIC_CLASSES: tuple[str, ...] = ("public", "open", "open data")
UNRECOGNISED = "unrecognised classification, withheld when in doubt"


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def withheld_because(classification: str | None) -> str | None:
    """Why a column with this classification is withheld from Claude (the classification
    as written, lower case, marked when it is not a class this policy knows), or None when
    its values may be sent (see the module docstring for the policy)."""
    if classification is None or not str(classification).strip():
        return None
    words = f" {_words(str(classification))} "
    written = str(classification).strip().lower()
    if any(f" {c} " in words for c in SENSITIVE_CLASSES):
        return written
    if words.strip() in PUBLIC_CLASSES:
        return None
    return f"{written} ({UNRECOGNISED})"
