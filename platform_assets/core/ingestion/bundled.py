"""The bundled card-transaction source: realistic, deterministic, no network.

``generate_transactions(date, rows)`` returns one day of card transactions as an Arrow
table. The same date and row count always give the same table, so a re-run of a partition
replaces it with identical data and tests can reason about exact values.

Columns (as delivered by a healthy feed):

| column | type | what it is |
| --- | --- | --- |
| ``transaction_id`` | string | ``tx_<yyyymmdd>_<8 digits>``, unique |
| ``event_ts`` | timestamp[us, UTC] | when the card was used, inside the partition's day |
| ``user_id`` | string | ``u_<6 digits>``, about 50k users, a few heavy ones |
| ``user_country`` | string | ISO 3166-1 alpha-2, fixed per user |
| ``merchant_id`` | string | ``m_<5 digits>``, 5k merchants |
| ``merchant_category`` | string | one of 12 categories, fixed per merchant |
| ``amount_cents`` | int64 | amount in minor units (cents) |
| ``currency`` | string | USD, EUR or GBP, from the country |
| ``card_present`` | bool | chip or tap at a terminal |
| ``device_fingerprint`` | string, nullable | online purchases only |
| ``is_fraud`` | bool | label, about 2%, learnable from amount, channel, category, hour |

:class:`FaultInjection` injects what real feeds suffer: dollars instead of cents, alpha-3 country
codes, a category set that grows to 47 values, a renamed column, a null spike, duplicates,
prices that move (``amount_scale``).
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

# pyarrow.compute makes its kernels (utf8_lpad, if_else, ...) at import time; its stubs list
# few of them, hence the pyright ignores on those calls.
import pyarrow.compute as pc

MERCHANT_CATEGORIES: tuple[str, ...] = (
    "grocery",
    "restaurants",
    "fuel",
    "travel",
    "electronics",
    "apparel",
    "entertainment",
    "health",
    "utilities",
    "digital_goods",
    "home_improvement",
    "gambling",
)

# 35 more categories, used only by the category-growth drift (12 + 35 = 47).
EXTRA_CATEGORIES: tuple[str, ...] = (
    "airlines",
    "hotels",
    "car_rental",
    "taxis",
    "parking",
    "tolls",
    "rail",
    "cruises",
    "pharmacy",
    "optical",
    "dental",
    "veterinary",
    "florists",
    "jewelry",
    "books",
    "music",
    "games",
    "toys",
    "sporting_goods",
    "pet_supplies",
    "furniture",
    "hardware",
    "garden",
    "cosmetics",
    "dry_cleaning",
    "laundry",
    "education",
    "charity",
    "insurance",
    "legal",
    "accounting",
    "telecom",
    "streaming",
    "crypto",
    "pawn_shops",
)

# (alpha-2, alpha-3, currency, weight)
COUNTRIES: tuple[tuple[str, str, str, float], ...] = (
    ("US", "USA", "USD", 0.34),
    ("GB", "GBR", "GBP", 0.12),
    ("DE", "DEU", "EUR", 0.09),
    ("FR", "FRA", "EUR", 0.08),
    ("ES", "ESP", "EUR", 0.06),
    ("IT", "ITA", "EUR", 0.05),
    ("NL", "NLD", "EUR", 0.04),
    ("IE", "IRL", "EUR", 0.03),
    ("CA", "CAN", "USD", 0.06),
    ("MX", "MEX", "USD", 0.04),
    ("BR", "BRA", "USD", 0.04),
    ("IN", "IND", "USD", 0.03),
    ("JP", "JPN", "USD", 0.02),
)

# Median amount in dollars and fraud log-odds lift, per category.
_CATEGORY_PROFILE: dict[str, tuple[float, float]] = {
    "grocery": (42.0, -0.6),
    "restaurants": (31.0, -0.4),
    "fuel": (48.0, -0.2),
    "travel": (410.0, 0.9),
    "electronics": (260.0, 1.0),
    "apparel": (74.0, 0.1),
    "entertainment": (38.0, -0.1),
    "health": (55.0, -0.5),
    "utilities": (96.0, -0.8),
    "digital_goods": (22.0, 1.1),
    "home_improvement": (120.0, -0.3),
    "gambling": (150.0, 1.2),
}

N_USERS = 50_000
N_MERCHANTS = 5_000
_FRAUD_INTERCEPT = -5.8  # tuned so that the fraud rate is about 2%


@dataclass(frozen=True)
class FaultInjection:
    """Faults to inject into a generated batch. The default injects none.

    Attributes:
        amount_unit: ``"cents"`` (healthy) or ``"dollars"``: amounts divided by 100 and
            sent as floats, in the same ``amount_cents`` column.
        country_codes: ``"alpha2"`` (healthy) or ``"alpha3"``.
        category_count: how many merchant categories appear, 12 (healthy) up to 47.
        rename: ``{old: new}`` column renames, e.g. ``{"merchant_category": "merchant_cat"}``.
        null_rates: ``{column: share}`` of values replaced by null, e.g. ``{"user_country": 0.4}``.
        duplicate_share: share of rows sent twice (same ``transaction_id``).
        amount_scale: every amount multiplied by this factor (prices moved), still whole
            cents; the labels are drawn before, so only the model's inputs shift. A factor
            that is not a unit conversion (e.g. 3) is a natural shift the contract check
            reports as a warning, not an error.
    """

    amount_unit: str = "cents"
    country_codes: str = "alpha2"
    category_count: int = 12
    rename: dict[str, str] = field(default_factory=dict)
    null_rates: dict[str, float] = field(default_factory=dict)
    duplicate_share: float = 0.0
    amount_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.amount_unit not in ("cents", "dollars"):
            raise ValueError(f"amount_unit must be 'cents' or 'dollars', got {self.amount_unit!r}")
        if self.country_codes not in ("alpha2", "alpha3"):
            raise ValueError(
                f"country_codes must be 'alpha2' or 'alpha3', got {self.country_codes!r}"
            )
        limit = len(MERCHANT_CATEGORIES) + len(EXTRA_CATEGORIES)
        if not len(MERCHANT_CATEGORIES) <= self.category_count <= limit:
            raise ValueError(
                f"category_count must be between 12 and {limit}, got {self.category_count}"
            )
        for column, share in self.null_rates.items():
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"null_rates[{column!r}] must be a share in [0, 1], got {share}")
        if not 0.0 <= self.duplicate_share < 1.0:
            raise ValueError(f"duplicate_share must be in [0, 1), got {self.duplicate_share}")
        if not self.amount_scale > 0:
            raise ValueError(f"amount_scale must be > 0, got {self.amount_scale}")

    @property
    def is_healthy(self) -> bool:
        return self == FaultInjection()


def _seed(date: dt.date, salt: str = "") -> int:
    return zlib.crc32(f"{date.isoformat()}{salt}".encode())


def _entity_attributes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-user country index and per-merchant category index: fixed for every date."""
    rng = np.random.default_rng(20260101)
    weights = np.array([c[3] for c in COUNTRIES])
    user_country = rng.choice(len(COUNTRIES), size=N_USERS, p=weights / weights.sum())
    merchant_category = rng.integers(0, len(MERCHANT_CATEGORIES), size=N_MERCHANTS)
    merchant_extra = rng.integers(0, len(EXTRA_CATEGORIES), size=N_MERCHANTS)
    return user_country, merchant_category, merchant_extra


_ENTITIES = _entity_attributes()


def _prefixed(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width=width, padding="0")  # pyright: ignore[reportAttributeAccessIssue]
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")  # pyright: ignore[reportAttributeAccessIssue]


def generate_transactions(
    date: dt.date | str, rows: int, faults: FaultInjection | None = None
) -> pa.Table:
    """One day of card transactions, deterministic for ``(date, rows, faults)``.

    Args:
        date: the partition's day (UTC).
        rows: how many transactions, before duplicates are added.
        faults: faults to inject; ``None`` gives a healthy batch.

    Returns:
        An Arrow table with the columns listed in the module docstring (renamed or altered
        where ``faults`` says so).
    """
    if isinstance(date, str):
        date = dt.date.fromisoformat(date)
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    faults = faults or FaultInjection()
    rng = np.random.default_rng(_seed(date))
    user_country_idx, merchant_category_idx, merchant_extra_idx = _ENTITIES

    seq = np.arange(rows, dtype=np.int64)
    # Event times: a daily cycle with a night trough, sorted within the day.
    hour_weights = np.array(
        [
            1,
            0.6,
            0.4,
            0.3,
            0.3,
            0.5,
            1,
            2,
            3,
            3.5,
            3.8,
            4,
            4.5,
            4.2,
            4,
            4,
            4.2,
            4.6,
            5,
            4.8,
            4,
            3.2,
            2.4,
            1.6,
        ]
    )
    hours = rng.choice(24, size=rows, p=hour_weights / hour_weights.sum())
    seconds = np.sort(hours * 3600 + rng.integers(0, 3600, size=rows))
    day_start_us = (
        int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp()) * 1_000_000
    )
    event_us = day_start_us + seconds * 1_000_000 + rng.integers(0, 1_000_000, size=rows)
    event_hour = seconds // 3600

    # Users follow a heavy-tailed activity distribution; merchants are uniform.
    users = np.minimum(
        rng.zipf(1.3, size=rows) - 1 + rng.integers(0, N_USERS, size=rows) // 7, N_USERS - 1
    )
    merchants = rng.integers(0, N_MERCHANTS, size=rows)
    country = user_country_idx[users]
    category = merchant_category_idx[merchants]
    card_present = rng.random(rows) < 0.62

    medians = np.array([_CATEGORY_PROFILE[c][0] for c in MERCHANT_CATEGORIES])
    lifts = np.array([_CATEGORY_PROFILE[c][1] for c in MERCHANT_CATEGORIES])
    amount_dollars = medians[category] * np.exp(rng.normal(0.0, 0.75, size=rows))

    # The label: a logistic model of channel, amount, category and hour, so it is learnable.
    log_odds = (
        _FRAUD_INTERCEPT
        + 1.6 * ~card_present
        + 0.55 * np.log1p(amount_dollars / medians[category])
        + lifts[category]
        + 0.9 * ((event_hour >= 0) & (event_hour < 5))
        + rng.normal(0.0, 0.5, size=rows)
    )
    is_fraud = rng.random(rows) < 1.0 / (1.0 + np.exp(-log_odds))
    # Fraud skews larger: the amount a fraudster takes is inflated.
    amount_dollars = np.where(
        is_fraud, amount_dollars * rng.uniform(1.2, 3.0, size=rows), amount_dollars
    )
    amount_cents = np.maximum(np.round(amount_dollars * faults.amount_scale * 100), 50).astype(
        np.int64
    )

    has_device = ~card_present
    device_numbers = rng.integers(0, 16**12, size=rows, dtype=np.int64)
    device = pc.if_else(  # pyright: ignore[reportAttributeAccessIssue]
        pa.array(has_device),
        pc.binary_join_element_wise(pa.scalar("d_"), _hex12(device_numbers), ""),  # pyright: ignore[reportAttributeAccessIssue]
        pa.scalar(None, pa.string()),
    )

    codes = (
        [c[0] for c in COUNTRIES] if faults.country_codes == "alpha2" else [c[1] for c in COUNTRIES]
    )
    category_names = list(MERCHANT_CATEGORIES)
    if faults.category_count > len(MERCHANT_CATEGORIES):
        # A new taxonomy: merchants move to finer categories, the new ones take half the traffic.
        n_extra = faults.category_count - len(MERCHANT_CATEGORIES)
        moved = rng.random(rows) < 0.5
        category = np.where(
            moved, len(category_names) + merchant_extra_idx[merchants] % n_extra, category
        )
        category_names += EXTRA_CATEGORIES[:n_extra]

    if faults.amount_unit == "dollars":
        amount: pa.Array = pa.array(amount_cents / 100.0, pa.float64())
    else:
        amount = pa.array(amount_cents, pa.int64())

    table = pa.table(
        {
            "transaction_id": _prefixed(f"tx_{date:%Y%m%d}_", seq, 8),
            "event_ts": pa.array(event_us, pa.timestamp("us", tz="UTC")),
            "user_id": _prefixed("u_", users, 6),
            "user_country": _decode(country, codes),
            "merchant_id": _prefixed("m_", merchants, 5),
            "merchant_category": _decode(category, category_names),
            "amount_cents": amount,
            "currency": _decode(country, [c[2] for c in COUNTRIES]),
            "card_present": pa.array(card_present),
            "device_fingerprint": device,
            "is_fraud": pa.array(is_fraud),
        }
    )
    return _apply_table_faults(table, faults, rng)


def _decode(indices: np.ndarray, names: list[str]) -> pa.Array:
    """Index array to strings through an Arrow dictionary (object arrays are 10x slower)."""
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), pa.array(names)).cast(
        pa.string()
    )


def _hex12(numbers: np.ndarray) -> pa.Array:
    """12-digit lowercase hex strings, vectorised (a Python f-string per row is 20x slower)."""
    digits = np.array(list("0123456789abcdef"))
    nibbles = (numbers[:, None] >> (4 * np.arange(11, -1, -1))) & 0xF
    chars = digits[nibbles]
    return pa.array(
        chars.view("<U12").ravel() if chars.size else np.array([], dtype="<U12"), pa.string()
    )


def _apply_table_faults(
    table: pa.Table, faults: FaultInjection, rng: np.random.Generator
) -> pa.Table:
    for column, share in sorted(faults.null_rates.items()):
        if column not in table.column_names:
            raise ValueError(
                f"null_rates names column {column!r}, which the bundled source does not have"
            )
        mask = pa.array(rng.random(table.num_rows) < share)
        values = table[column]
        nulls = pa.nulls(table.num_rows, values.type)
        table = table.set_column(
            table.column_names.index(column),
            column,
            pc.if_else(mask, nulls, values.combine_chunks()),  # pyright: ignore[reportAttributeAccessIssue]
        )
    if faults.duplicate_share > 0 and table.num_rows:
        count = round(table.num_rows * faults.duplicate_share)
        picks = np.sort(rng.choice(table.num_rows, size=count, replace=False))
        table = pa.concat_tables([table, table.take(pa.array(picks))])
    for old, new in faults.rename.items():
        if old not in table.column_names:
            raise ValueError(f"rename names column {old!r}, which the bundled source does not have")
        table = table.rename_columns([new if name == old else name for name in table.column_names])
    return table
