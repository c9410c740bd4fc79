"""Eval-suite material for tests: a copy of the shipped suite, hand-written requirements and
cases, Claude's drafting answers, and a small real fraud model exported to ONNX."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from platform_assets_tests.support.paths import REPO

SHIPPED_EVALS = REPO / "evals"


def copy_shipped_suite(target: Path) -> Path:
    """The repository's ``evals/`` folder copied to ``target`` (approvals there leave the repo
    alone).
    """
    shutil.copytree(SHIPPED_EVALS, target)
    return target


def write_requirements(
    evals_dir: Path, document: str, items: list[str], title: str = "Test requirements"
) -> Path:
    folder = evals_dir / "requirements"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{document}.md"
    path.write_text(
        f"# Requirement: {title}\n\n"
        + "\n".join(f"{n}. {text}" for n, text in enumerate(items, 1))
        + "\n"
    )
    return path


def case_body(
    case_id: str,
    requirement: str | None,
    kind: str,
    block: dict,
    *,
    status: str = "drafted",
    **fields: Any,
) -> dict:
    """A case as its YAML file holds it (``fields`` override or add top-level fields)."""
    body = {
        "id": case_id,
        "requirement": requirement,
        "title": f"test case {case_id}",
        "kind": kind,
        "status": status,
        "drafted_by": {"kind": "person", "name": "tester"},
        kind: block,
    }
    body.update(fields)
    return body


def write_case(folder: Path, body: dict, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name or body['id']}.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def draft_answer(*cases: dict) -> str:
    """Claude's structured answer proposing ``cases`` (each ``{"title", "case": body}``)."""
    return json.dumps(
        {
            "cases": [
                {
                    "title": c["title"],
                    "rationale": c.get("rationale", "from the requirement"),
                    "source": c.get("source", "requirement"),
                    "case_yaml": c["yaml"] if "yaml" in c else yaml.safe_dump(c["case"]),
                }
                for c in cases
            ]
        }
    )


@dataclass(frozen=True)
class SmallModel:
    """A real gradient-boosted fraud model on the bundled data, as ONNX, with its holdout."""

    onnx: bytes
    threshold: float
    holdout: Any  # pandas.DataFrame


def train_small_model(days: int = 6, rows: int = 3000, **config: Any) -> SmallModel:
    import duckdb

    from platform_assets.core.features import build_feature_partition, load_features
    from platform_assets.core.features.sample_data import day_range, load_validated_days
    from platform_assets.core.training import TrainingConfig, export_onnx, train_model

    dates = day_range("2026-01-01", days)
    conn = duckdb.connect()
    load_validated_days(conn, dates, rows)
    for day in dates:
        build_feature_partition(conn, day)
    frame = load_features(conn, dates[0], dates[-1])
    conn.close()
    settings = {"training_days": days, "holdout_days": 2, "max_iter": 60, "n_threads": 1, **config}
    model = train_model(frame, TrainingConfig(**settings))
    return SmallModel(export_onnx(model), model.threshold, model.holdout)
