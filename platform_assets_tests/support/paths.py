"""Where the repository and its bundled contract are."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO / "contracts"
CONTRACT_PATH = CONTRACTS_DIR / "fct_transactions.odcs.yaml"
