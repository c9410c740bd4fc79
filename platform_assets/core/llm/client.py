"""The one place that calls Claude.

:class:`ClaudeClient` wraps the official ``anthropic`` SDK (direct API or Amazon Bedrock)
and does four things every task needs:

- **Structured output.** The answer's JSON schema is sent with the SDK's JSON-schema
  outputs (``output_config={"format": {"type": "json_schema", ...}}``, the schema made by the
  SDK's own ``anthropic.transform_schema`` from a pydantic model, exactly what
  ``messages.parse`` sends). We call ``messages.create`` and validate with pydantic
  ourselves instead of using ``messages.parse``, because ``parse`` validates inside the SDK
  and raises on an answer that does not validate: the usage (tokens we paid for) and the
  ``stop_reason`` (a refusal or a truncation is not "invalid output") would be lost.
- **Prompt caching.** The stable prefix (the prompt's instructions, then the task's stable
  context such as the contract) goes in ``system`` with ``cache_control`` on its last block;
  the per-call data goes in the user turn, after the cache breakpoint.
- **Timeouts and retries** by the SDK (``timeout``, ``max_retries``; it backs off
  exponentially and honours ``retry-after``/``retry-after-ms``). The number of retries a call
  took is read from the ``x-stainless-retry-count`` header the SDK puts on each attempt.
  The SDK's timeout applies to each read, so a gateway that trickles a byte now and then
  never times out: on top, every call has a **total deadline**
  (``PLATFORM_CLAUDE_DEADLINE_SECONDS``, ``ClaudeConfig.deadline_seconds``) covering the
  connect, every read and every retry. The request runs on a worker thread; when the deadline
  passes the call is abandoned (its connections closed, the SDK client dropped) and answered
  as an ``error`` outcome, which every task reports as degraded.
- **No secret leaves**: the context and data of every request pass
  :func:`platform_assets.core.redaction.redact`, and so do the reasons of failed calls.
- **Governance.** Each call yields a :class:`~.governance.CallRecord` (tokens by kind, cost,
  latency, retries, outcome); the caller writes it to ``platform.llm_calls``.

With no API key (and Bedrock not configured) the client is *disabled*: ``enabled`` is
false and nothing here opens a connection. The ``anthropic`` package is imported only when
a call is made, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from pydantic import BaseModel, ValidationError

from platform_assets.core.llm.governance import CallRecord
from platform_assets.core.llm.pricing import DEFAULT_PRICES, ModelPrice, TokenUsage, cost_usd
from platform_assets.core.llm.prompts import Prompt
from platform_assets.core.redaction import redact
from platform_assets.core.settings import (
    CLAUDE_DEADLINE_VARIABLE,
    DEFAULT_CLAUDE_DEADLINE_SECONDS,
    ClaudeSettings,
)

if TYPE_CHECKING:
    import anthropic

# claude-sonnet-4-5 reaches end of life on 2026-11-30; claude-sonnet-4-6 is the current
# Sonnet the installed SDK lists without a deprecation date.
DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_MAX_RETRIES = 2
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_TOKENS = 2048
CACHE_CONTROL = {"type": "ephemeral"}

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class ClaudeConfig:
    """How to reach Claude. ``api_key=None`` and ``use_bedrock=False`` means: do not."""

    model: str = DEFAULT_MODEL
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    use_bedrock: bool = False
    aws_region: str | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    # The whole call, connect + reads + retries (see the module docstring).
    deadline_seconds: float = DEFAULT_CLAUDE_DEADLINE_SECONDS
    max_tokens: int = DEFAULT_MAX_TOKENS
    # Also cache the per-call data (a second breakpoint). Pays 1.25x on the data of every
    # new batch to read it at 0.1x on an identical re-run within the cache lifetime
    # (retries, re-executions): worth it only when more than ~1 in 4 checks is a re-run.
    cache_data: bool = False
    prices: Mapping[str, ModelPrice] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    @property
    def enabled(self) -> bool:
        """Whether calls are made at all: a key, or Bedrock (AWS credentials come from the
        usual AWS chain, which we do not probe here)."""
        return self.use_bedrock or bool(self.api_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ClaudeConfig:
        """The environment as :class:`~platform_assets.core.settings.ClaudeSettings` reads it
        (the one place that parses it); ``overrides`` win."""
        settings = ClaudeSettings.from_env(environ)
        values: dict[str, Any] = {
            "model": settings.model or DEFAULT_MODEL,
            "api_key": settings.api_key,
            "base_url": settings.base_url,
            "use_bedrock": settings.use_bedrock,
            "aws_region": settings.aws_region,
            "deadline_seconds": settings.deadline_seconds,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class StructuredResult(Generic[T]):
    """What one structured call produced: the validated answer when ``outcome == "ok"``,
    otherwise ``None`` and a ``reason`` a person can act on."""

    outcome: str
    parsed: T | None
    reason: str | None
    record: CallRecord
    raw_text: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok" and self.parsed is not None


class ClaudeClient:
    """The platform's Claude client (see the module docstring)."""

    def __init__(self, config: ClaudeConfig | None = None):
        self.config = config or ClaudeConfig()
        self._sdk: Any = None
        self._lock = threading.Lock()
        # Per-thread: the retry count of the attempt in flight (the SDK is synchronous, so
        # the attempt runs on the calling thread).
        self._attempt = threading.local()

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    @property
    def model(self) -> str:
        return self.config.model

    def _on_request(self, request: Any) -> None:
        try:
            self._attempt.retries = int(request.headers.get("x-stainless-retry-count", "0"))
        except ValueError:
            self._attempt.retries = 0

    def _create_within_deadline(self, params: dict[str, Any]) -> tuple[Any, int]:
        """``messages.create(**params)`` on a worker thread, waited for at most
        ``deadline_seconds``: ``(message, retries)``; raises what the SDK raised, or
        :class:`DeadlineExceeded` (the call abandoned, the SDK client dropped)."""
        sdk = self.sdk()
        deadline = self.config.deadline_seconds
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                outcome["message"] = sdk.messages.create(
                    **params, timeout=min(self.config.timeout_seconds, deadline)
                )
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc
            outcome["retries"] = self._retries()

        worker = threading.Thread(target=call, name="claude-call", daemon=True)
        worker.start()
        worker.join(deadline)
        if worker.is_alive():
            with self._lock:
                if self._sdk is sdk:
                    self._sdk = None
            with contextlib.suppress(Exception):  # closing under a request in flight: best effort
                sdk.close()  # lets the abandoned request's connection go
            raise DeadlineExceeded(deadline)
        self._attempt.retries = outcome.get("retries", 0)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["message"], outcome.get("retries", 0)

    def sdk(self) -> anthropic.Anthropic:
        """The underlying SDK client, built on first use."""
        if not self.enabled:
            raise RuntimeError(
                "Claude is not configured: set ANTHROPIC_API_KEY (or configure Bedrock)"
            )
        with self._lock:
            if self._sdk is None:
                import anthropic

                http_client = anthropic.DefaultHttpxClient(
                    event_hooks={"request": [self._on_request]}
                )
                common = {
                    "max_retries": self.config.max_retries,
                    "timeout": self.config.timeout_seconds,
                    "http_client": http_client,
                }
                if self.config.base_url:
                    common["base_url"] = self.config.base_url
                if self.config.use_bedrock:
                    # anthropic's __all__ omits it; the bedrock package exports it by name
                    from anthropic.lib.bedrock import AnthropicBedrock

                    self._sdk = AnthropicBedrock(aws_region=self.config.aws_region, **common)
                else:
                    self._sdk = anthropic.Anthropic(api_key=self.config.api_key, **common)
            return self._sdk

    def close(self) -> None:
        if self._sdk is not None:
            self._sdk.close()
            self._sdk = None

    # -- building requests -------------------------------------------------------------

    def message_params(
        self,
        *,
        prompt: Prompt,
        context: str,
        data: str,
        output_model: type[BaseModel],
        max_tokens: int | None = None,
    ) -> dict[str, Any]:
        """The Messages API request body for one structured task.

        ``prompt`` and ``context`` form the cached prefix (``cache_control`` on the context
        block caches both); ``data`` is the per-call part, cached too only with
        ``config.cache_data``. Also usable as the ``params`` of
        a Message Batches request.
        """
        from anthropic import transform_schema

        # No secret goes to Claude, whatever a task put in its context or data.
        context, data = redact(context), redact(data)
        data_block: dict[str, Any] = {"type": "text", "text": data}
        if self.config.cache_data:
            data_block["cache_control"] = dict(CACHE_CONTROL)
        return {
            "model": self.config.model,
            "max_tokens": max_tokens or self.config.max_tokens,
            "system": [
                {"type": "text", "text": prompt.text},
                {"type": "text", "text": context, "cache_control": dict(CACHE_CONTROL)},
            ],
            "messages": [{"role": "user", "content": [data_block]}],
            "output_config": {
                "format": {"type": "json_schema", "schema": transform_schema(output_model)}
            },
        }

    # -- one call ----------------------------------------------------------------------

    def structured(
        self,
        *,
        task: str,
        prompt: Prompt,
        context: str,
        data: str,
        output_model: type[T],
        run_id: str | None = None,
        asset: str | None = None,
        max_tokens: int | None = None,
    ) -> StructuredResult[T]:
        """Ask Claude for an answer shaped like ``output_model``; never raises for API trouble.

        Outcomes: ``ok``; ``refused`` (``stop_reason == "refusal"``); ``truncated``
        (``"max_tokens"``); ``invalid_output`` (not JSON, or not the schema); ``error`` (the
        call failed after the SDK's retries, a timeout included).
        """
        import anthropic

        record = CallRecord(
            call_id=uuid.uuid4().hex,
            called_at=datetime.now(UTC),
            run_id=run_id,
            asset=asset,
            task=task,
            prompt_name=prompt.name,
            prompt_sha256=prompt.sha256,
            model=self.config.model,
        )
        params = self.message_params(
            prompt=prompt,
            context=context,
            data=data,
            output_model=output_model,
            max_tokens=max_tokens,
        )
        self._attempt.retries = 0
        started = time.perf_counter()
        try:
            message, _ = self._create_within_deadline(params)
        except DeadlineExceeded as exc:
            return self._failed(
                record,
                started,
                "error",
                f"no answer within the total deadline of {exc.seconds:g} s "
                f"({CLAUDE_DEADLINE_VARIABLE}); the call was abandoned",
            )
        except anthropic.APITimeoutError:
            return self._failed(
                record,
                started,
                "error",
                f"timed out after {self._retries() + 1} attempt(s) of "
                f"{self.config.timeout_seconds:g} s each",
            )
        except anthropic.APIStatusError as exc:
            return self._failed(
                record,
                started,
                "error",
                f"HTTP {exc.status_code} after {self._retries() + 1} attempt(s): "
                f"{_short(exc.message)}",
                request_id=exc.request_id,
            )
        except anthropic.APIConnectionError as exc:
            return self._failed(
                record,
                started,
                "error",
                f"connection failed after {self._retries() + 1} attempt(s): {_short(str(exc))}",
            )
        record.latency_ms = (time.perf_counter() - started) * 1000
        record.retries = self._retries()
        record.request_id = getattr(message, "_request_id", None)
        record.stop_reason = message.stop_reason
        tokens = _record_usage(record, message.usage)
        record.cost_usd = cost_usd(self.config.model, tokens, dict(self.config.prices))
        record.tool_calls = sum(
            1 for block in message.content if block.type in ("tool_use", "server_tool_use")
        )
        record.turns = 1
        text = "".join(block.text for block in message.content if block.type == "text")

        if message.stop_reason == "refusal":
            return self._finish(
                record, "refused", None, "Claude declined to answer (stop_reason: refusal)", text
            )
        if message.stop_reason == "max_tokens":
            return self._finish(
                record,
                "truncated",
                None,
                f"the answer was cut at max_tokens={params['max_tokens']} "
                f"(stop_reason: max_tokens)",
                text,
            )
        try:
            parsed = output_model.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0] if exc.errors() else {}
            where = ".".join(str(p) for p in first.get("loc", ())) or "(answer)"
            return self._finish(
                record,
                "invalid_output",
                None,
                f"the answer does not match the output schema: {where}: "
                f"{first.get('msg', str(exc))}",
                text,
            )
        return self._finish(record, "ok", parsed, None, text)

    def _retries(self) -> int:
        return int(getattr(self._attempt, "retries", 0))

    def _failed(
        self,
        record: CallRecord,
        started: float,
        outcome: str,
        reason: str,
        request_id: str | None = None,
    ) -> StructuredResult:
        record.latency_ms = (time.perf_counter() - started) * 1000
        record.retries = self._retries()
        record.request_id = request_id
        record.turns = 0  # no answer came back
        # No answer, no tokens billed (an error response is not charged).
        record.cost_usd = cost_usd(self.config.model, TokenUsage(), dict(self.config.prices))
        return self._finish(record, outcome, None, reason, None)

    @staticmethod
    def _finish(
        record: CallRecord, outcome: str, parsed: Any, reason: str | None, text: str | None
    ) -> StructuredResult:
        reason = None if reason is None else redact(reason)
        record.outcome = outcome
        record.detail = reason
        return StructuredResult(
            outcome=outcome, parsed=parsed, reason=reason, record=record, raw_text=text
        )

    # -- bulk work: the Message Batches API (half price, results within 24 h) ----------

    def submit_batch(self, requests: Mapping[str, Mapping[str, Any]]) -> str:
        """Submit ``{custom_id: params}`` (params as from :meth:`message_params`) as one
        Message Batch; returns the batch id."""
        from anthropic.types.messages.batch_create_params import Request

        batch = self.sdk().messages.batches.create(
            requests=[
                cast(Request, {"custom_id": custom_id, "params": dict(params)})
                for custom_id, params in requests.items()
            ]
        )
        return batch.id

    def batch_results(self, batch_id: str) -> dict[str, Any] | None:
        """``{custom_id: result}`` once the batch has ended (``None`` while it is still
        processing). Each result has ``type`` (``succeeded``, ``errored``, ``canceled``,
        ``expired``) and, when it succeeded, ``message``."""
        sdk = self.sdk()
        batch = sdk.messages.batches.retrieve(batch_id)
        if batch.processing_status != "ended":
            return None
        return {item.custom_id: item.result for item in sdk.messages.batches.results(batch_id)}

    def batch_call_records(
        self,
        results: Mapping[str, Any],
        *,
        task: str,
        prompt: Prompt,
        run_id: str | None = None,
        asset: str | None = None,
    ) -> list[CallRecord]:
        """One governance record per request of an ended Message Batch (see
        :meth:`batch_results`), so bulk work is logged like every other call. Tokens are
        counted as reported; the cost carries the Batches API's 50% price."""
        records = []
        for custom_id, result in results.items():
            record = CallRecord(
                call_id=uuid.uuid4().hex,
                called_at=datetime.now(UTC),
                run_id=run_id,
                asset=asset,
                task=task,
                prompt_name=prompt.name,
                prompt_sha256=prompt.sha256,
                model=self.config.model,
                request_id=custom_id,
            )
            message = getattr(result, "message", None)
            if result.type != "succeeded" or message is None:
                record.outcome, record.detail = "error", f"batch request {result.type}"
                record.cost_usd = 0.0
            else:
                tokens = _record_usage(record, message.usage)
                full_price = cost_usd(self.config.model, tokens, dict(self.config.prices))
                record.cost_usd = None if full_price is None else full_price * BATCH_PRICE_FACTOR
                record.stop_reason = message.stop_reason
                record.outcome = {"refusal": "refused", "max_tokens": "truncated"}.get(
                    message.stop_reason, "ok"
                )
            records.append(record)
        return records


class DeadlineExceeded(Exception):
    """A Claude call took longer than its total deadline."""

    def __init__(self, seconds: float):
        super().__init__(f"no answer within {seconds:g} s")
        self.seconds = seconds


BATCH_PRICE_FACTOR = 0.5  # the Message Batches API bills half the synchronous price


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _record_usage(record: CallRecord, usage: Any) -> TokenUsage:
    """The Messages API's ``usage`` of one answer, as tokens on ``record`` (and returned)."""
    tokens = TokenUsage(
        input_tokens=usage.input_tokens or 0,
        cache_write_tokens=usage.cache_creation_input_tokens or 0,
        cache_read_tokens=usage.cache_read_input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
    )
    record.input_tokens, record.cache_write_tokens = tokens.input_tokens, tokens.cache_write_tokens
    record.cache_read_tokens, record.output_tokens = tokens.cache_read_tokens, tokens.output_tokens
    return tokens
