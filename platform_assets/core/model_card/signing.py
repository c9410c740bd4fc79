"""A person signs a version's model card: who, when, a note, and the SHA-256 of the card as
they read it.

``sign_card`` records the signature twice: in the card itself (its ``approvals``, rendered
under "Approvals" in the Markdown) and in the version's ``card_signatures.json``
attachment, the register :func:`signed_card` reads. A signature holds while the card is the
one it signed: a card published again for the version (a re-run of ``model/model_card``)
is a new card, unsigned until someone signs it.

With ``PLATFORM_ASSETS_REQUIRE_SIGNED_CARD`` set, a version becomes champion only with a
signed card: the gate records that it passed and leaves the aliases alone, and
``platform-assets models promote`` promotes it once the card is signed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from platform_assets.core.model_card.card import approve, render_markdown
from platform_assets.core.model_card.publish import CARD_JSON, CARD_MARKDOWN
from platform_assets.core.registry import ModelRegistry, RegistryError

SIGNATURES = "card_signatures.json"
MAX_NAME = 100
MAX_NOTE = 500


class SigningError(ValueError):
    """The card cannot be signed as asked; the message says why and what to do."""


def _clean(text: str, what: str, limit: int) -> str:
    """``text`` on one line, without control characters; refused when empty or too long."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if not cleaned:
        raise SigningError(f"{what} is empty: say who signs (--by 'Ada Lovelace')")
    if len(cleaned) > limit:
        raise SigningError(f"{what} is {len(cleaned)} characters long; at most {limit}")
    return cleaned


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signatures(registry: ModelRegistry, version: int) -> list[dict]:
    """Every signature recorded for ``version``, oldest first."""
    if SIGNATURES not in registry.get(version).record.get("attachments", {}):
        return []
    return json.loads(registry.read_file(version, SIGNATURES))


def signed_card(registry: ModelRegistry, version: int) -> dict | None:
    """The newest signature that covers ``version``'s current card, or None (unsigned)."""
    try:
        current = _sha256(registry.read_file(version, CARD_JSON))
    except RegistryError:
        return None
    covering = [s for s in signatures(registry, version) if s["signed_card_sha256"] == current]
    return covering[-1] if covering else None


def sign_card(
    registry: ModelRegistry,
    version: int,
    by: str,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """Record that ``by`` reviewed and signs ``version``'s card; returns the signature.

    Raises:
        SigningError: an empty or overlong name or note, or no card yet for ``version``.
        CorruptModelError: the stored card does not match its checksum.
    """
    by = _clean(by, "the signer's name", MAX_NAME)
    note = _clean(note, "the note", MAX_NOTE) if note is not None and note.strip() else None
    try:
        reviewed = registry.read_file(version, CARD_JSON)
    except RegistryError as exc:
        if "has no file" not in str(exc):
            raise
        raise SigningError(
            f"v{version} has no model card yet: materialize model/model_card (platform-assets run) "
            f"and read it (platform-assets models card --version {version}) before signing"
        ) from None
    at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    reviewed_sha = _sha256(reviewed)
    card = approve(json.loads(reviewed), by, role="signed")
    card["approvals"][-1].update({"at": at, "card_sha256": reviewed_sha, "note": note})
    signed = json.dumps(card, indent=2, default=str).encode()
    registry.attach(version, CARD_JSON, signed)
    registry.attach(version, CARD_MARKDOWN, render_markdown(card).encode())
    signature = {
        "version": version,
        "by": by,
        "at": at,
        "note": note,
        "card_sha256": reviewed_sha,  # the card as the signer read it
        "signed_card_sha256": _sha256(signed),  # the card with this signature in it
    }
    register = [*signatures(registry, version), signature]
    registry.attach(version, SIGNATURES, json.dumps(register, indent=2).encode())
    return signature


def unsigned_reason(registry: ModelRegistry, version: int) -> str | None:
    """Why ``version`` may not become champion when a signed card is required, or None."""
    if signed_card(registry, version) is not None:
        return None
    return (
        f"v{version}'s model card is not signed (PLATFORM_ASSETS_REQUIRE_SIGNED_CARD is set): "
        f"read it (platform-assets models card --version {version}), sign it (platform-assets "
        f"models sign {version} --by NAME), then platform-assets models promote {version}"
    )
