"""One secret redactor, and one terminal cleaner, for every text the platform lets out.

:func:`redact` is applied to everything that prints, logs, stores or sends text: the CLI's
stdout and stderr (:func:`platform_assets.cli.main` wraps both streams), the exceptions the
platform raises for an outside failure (the warehouse's catalog, Claude, Slack), triage's
failure reports (so tickets, their evidence, the diagnostics bundle and the Claude drafter
see redacted text), the governance log's reasons, and every prompt sent to Claude
(:meth:`platform_assets.core.llm.client.ClaudeClient.message_params`).

What it removes, replaced by ``***``:

- the literal value of every secret-bearing setting the environment holds
  (:func:`platform_assets.core.settings.secret_values`: ``ANTHROPIC_API_KEY``,
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``PLATFORM_ASSETS_SLACK_WEBHOOK_URL``,
  the password of ``PLATFORM_ASSETS_PG_URL``, ...), wherever it appears, also URL-encoded;
- the password of any URL (``scheme://user:password@host``) and libpq's ``password=...``;
- Anthropic API keys (``sk-ant-...``), AWS access key ids (``AKIA...``/``ASIA...``) and
  ``aws_secret_access_key = ...`` / ``SECRET '...'`` assignments;
- Slack incoming-webhook paths (``hooks.slack.com/services/...``);
- bearer tokens and ``x-api-key`` headers.

:func:`terminal_safe` removes what a terminal would interpret: ESC sequences (CSI, OSC, and
the rest), the other C0 controls but newline and tab, DEL and the C1 controls. Untrusted text
(Claude's answers, ticket fields, names given on the command line, contract text, alert text,
file names) reaches the terminal only through it: the CLI's streams apply it to every write.

This module is plumbing: it imports only :mod:`platform_assets.core.settings`, so every layer
may use it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from typing import Any, TextIO
from urllib.parse import quote

from platform_assets.core.settings import secret_values

MASK = "***"
# Values shorter than this are not searched for literally ("1", "true" would mask half a text).
MIN_LITERAL = 6

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host -> scheme://user:***@host
    (re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"]*:)[^\s@/'\"]+(@)"), r"\1" + MASK + r"\2"),
    # libpq keyword form, and password=... in query strings
    (re.compile(r"(?i)(\bpassword\s*=\s*)('[^']*'|\"[^\"]*\"|[^\s&;'\"]+)"), r"\1" + MASK),
    (re.compile(r"sk-ant-[A-Za-z0-9_\-]{4,}"), "sk-ant-" + MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),
    (
        re.compile(
            r"(?i)((?:aws_secret_access_key|aws_session_token|secret_access_key|session_token"
            r"|\bSECRET|\bKEY_ID)\s*[=:]?\s*)('[^']*'|\"[^\"]*\"|[A-Za-z0-9/+=]{16,})"
        ),
        r"\1" + MASK,
    ),
    (
        re.compile(r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_\-]+"),
        r"\1" + MASK,
    ),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=\-]{8,}"), r"\1" + MASK),
    (re.compile(r"(?i)(\bx-api-key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"), r"\1" + MASK),
)


def _literals(environ: Mapping[str, str] | None) -> list[str]:
    found: set[str] = set()
    for value in secret_values(environ):
        if len(value) < MIN_LITERAL:
            continue
        found.add(value)
        found.add(quote(value, safe=""))
    # Longest first, so a URL is masked before the password inside it.
    return sorted(found, key=len, reverse=True)


def redact(text: Any, environ: Mapping[str, str] | None = None) -> str:
    """``text`` (made a str) with every secret replaced by ``***`` (see the module docstring).
    ``environ`` defaults to the process environment."""
    out = text if isinstance(text, str) else str(text)
    for literal in _literals(environ):
        if literal in out:
            out = out.replace(literal, MASK)
    for pattern, replacement in _PATTERNS:
        out = pattern.sub(replacement, out)
    return out


def redact_value(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with every string redacted."""
    if isinstance(value, str):
        return redact(value, environ)
    if isinstance(value, Mapping):
        return {k: redact_value(v, environ) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v, environ) for v in value)
    return value


def contains_secret(texts: Iterable[str], environ: Mapping[str, str] | None = None) -> bool:
    """Whether any of ``texts`` still holds a secret (redacting it would change it)."""
    return any(redact(t, environ) != t for t in texts)


# ESC followed by: CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC strings (ended by BEL or ST),
# or any single character (two-character escapes such as ESC c, which resets a terminal).
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|$)"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x9d\x90\x98\x9e\x9f].*?(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b.?",
    re.DOTALL,
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: Any) -> str:
    """``text`` without anything a terminal would act on: escape sequences and every C0/C1
    control character except newline and tab."""
    out = text if isinstance(text, str) else str(text)
    return _CONTROLS.sub("", _ESCAPES.sub("", out))


def for_terminal(text: Any) -> str:
    """What the CLI prints: :func:`redact`, then :func:`terminal_safe`."""
    return terminal_safe(redact(text))


class SafeStream(io.TextIOBase):
    """A text stream that writes :func:`for_terminal` of every write to ``target``.

    The CLI wraps ``sys.stdout`` and ``sys.stderr`` in it, so nothing any command prints
    (click's echo, warnings, a traceback) carries a secret or a control sequence."""

    def __init__(self, target: TextIO):
        self.target = target
        self.written = ""  # what was written, cleaned, up to WRITTEN_KEPT characters (the tail)

    WRITTEN_KEPT = 8192

    def write(self, s: str) -> int:
        if not isinstance(s, str):  # a text stream (click probes for a binary one this way)
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        cleaned = for_terminal(s)
        self.target.write(cleaned)
        self.written = (self.written + cleaned)[-self.WRITTEN_KEPT :]
        return len(s)

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.target, "errors", None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


def safe_stream(stream: TextIO) -> SafeStream:
    """``stream`` wrapped in a new :class:`SafeStream` (a wrapped stream is re-wrapped from
    its target, never twice)."""
    return SafeStream(stream.target if isinstance(stream, SafeStream) else stream)
