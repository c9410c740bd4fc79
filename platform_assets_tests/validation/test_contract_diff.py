"""Contract changes are reviewed like code: each change is breaking or not, and the gate
passes when nothing breaks or the major version went up."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from platform_assets.core.validation.diff import diff_contracts
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO

BASE = yaml.safe_load("""\
apiVersion: v3.1.0
kind: DataContract
id: orders
version: 1.4.0
status: active
schema:
  - name: orders
    physicalName: orders
    quality:
      - metric: rowCount
        mustBeGreaterThan: 10
    properties:
      - id: order_id_prop
        name: order_id
        logicalType: string
        required: true
        unique: true
        logicalTypeOptions:
          pattern: '^o_[0-9]+$'
      - name: amount
        logicalType: number
        description: Order amount.
        logicalTypeOptions:
          minimum: 0
          maximum: 1000
        customProperties:
          - property: unit
            value: euros
      - name: status
        logicalType: string
        enum: [{value: open}, {value: paid}, {value: refunded}]
      - name: email
        logicalType: string
        classification: pii
        quality:
          - metric: nullValues
            mustBeLessThan: 5
            unit: percent
      - name: channel
        logicalType: string
        quality:
          - metric: invalidValues
            arguments:
              validValues: [web, shop]
            mustBe: 0
""")


def _prop(doc, name):
    return next(p for p in doc["schema"][0]["properties"] if p["name"] == name)


def _write(path: Path, doc) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _changes(tmp_path: Path, edit):
    new = copy.deepcopy(BASE)
    edit(new)
    result = diff_contracts(
        _write(tmp_path / "old.odcs.yaml", BASE), _write(tmp_path / "new.odcs.yaml", new)
    )
    return result, {(c.column, c.change, c.breaking) for c in result.changes}


CASES = [
    pytest.param(
        lambda d: d["schema"][0]["properties"].remove(_prop(d, "status")),
        ("status", "column removed", True),
        id="column-removed",
    ),
    pytest.param(
        lambda d: _prop(d, "order_id").update(name="order_key"),
        ("order_id", "column renamed", True),
        id="column-renamed-same-id",
    ),
    pytest.param(
        lambda d: _prop(d, "amount").update(logicalType="integer"),
        ("amount", "type narrowed", True),
        id="type-narrowed",
    ),
    pytest.param(
        lambda d: _prop(d, "status").update(required=True),
        ("status", "required added", True),
        id="required-added",
    ),
    pytest.param(
        lambda d: _prop(d, "status").update(enum=[{"value": "open"}, {"value": "paid"}]),
        ("status", "enum shrunk", True),
        id="enum-shrunk",
    ),
    pytest.param(
        lambda d: _prop(d, "status")["enum"].append({"value": "disputed"}),
        ("status", "enum extended", False),
        id="enum-extended",
    ),
    pytest.param(
        lambda d: _prop(d, "channel")["quality"][0]["arguments"].update(validValues=["web"]),
        ("channel", "validValues shrunk", True),
        id="validValues-shrunk",
    ),
    pytest.param(
        lambda d: _prop(d, "order_id")["logicalTypeOptions"].update(pattern="^o_[0-9]{6}$"),
        ("order_id", "pattern changed", True),
        id="pattern-changed",
    ),
    pytest.param(
        lambda d: _prop(d, "amount")["logicalTypeOptions"].update(maximum=500),
        ("amount", "bounds tightened", True),
        id="bounds-tightened",
    ),
    pytest.param(
        lambda d: _prop(d, "amount")["logicalTypeOptions"].update(maximum=5000),
        ("amount", "bounds widened", False),
        id="bounds-widened",
    ),
    pytest.param(
        lambda d: _prop(d, "email").update(classification="public"),
        ("email", "classification relaxed", True),
        id="classification-relaxed",
    ),
    pytest.param(
        lambda d: _prop(d, "status").update(classification="confidential"),
        ("status", "classification changed", False),
        id="classification-tightened",
    ),
    pytest.param(
        lambda d: d["schema"][0]["properties"].append({"name": "note", "logicalType": "string"}),
        ("note", "optional column added", False),
        id="optional-column-added",
    ),
    pytest.param(
        lambda d: d["schema"][0]["properties"].append(
            {"name": "shop", "logicalType": "string", "required": True}
        ),
        ("shop", "required column added", True),
        id="required-column-added",
    ),
    pytest.param(
        lambda d: _prop(d, "amount").update(description="Order amount, taxes included."),
        ("amount", "description changed", False),
        id="description-changed",
    ),
    pytest.param(
        lambda d: _prop(d, "email")["quality"][0].update(mustBeLessThan=1),
        ("email", "quality threshold tightened", True),
        id="quality-tightened",
    ),
    pytest.param(
        lambda d: _prop(d, "email")["quality"][0].update(mustBeLessThan=20),
        ("email", "quality threshold loosened", False),
        id="quality-loosened",
    ),
    pytest.param(
        lambda d: _prop(d, "amount")["customProperties"][0].update(value="cents"),
        ("amount", "unit changed", True),
        id="unit-changed",
    ),
    pytest.param(
        lambda d: d["schema"][0]["quality"][0].update(mustBeGreaterThan=100),
        (None, "quality threshold tightened", True),
        id="table-rule-tightened",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), CASES)
def test_each_change_is_classified(tmp_path: Path, edit, expected):
    result, changes = _changes(tmp_path, edit)
    assert expected in changes, result.changes
    assert len(result.changes) == 1, result.changes
    assert result.passes is not expected[2]
    assert result.changes[0].location, "every change says where to look"


def test_a_major_version_bump_lets_breaking_changes_pass(tmp_path: Path):
    def edit(d):
        d["schema"][0]["properties"].remove(_prop(d, "status"))
        d["version"] = "2.0.0"

    result, changes = _changes(tmp_path, edit)
    assert ("status", "column removed", True) in changes
    assert result.major_bumped and result.passes


def test_nothing_changed_is_nothing(tmp_path: Path):
    result, changes = _changes(tmp_path, lambda d: None)
    assert changes == set() and result.passes


def _cli(*args, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", "contracts", "diff", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env=subprocess_env({"RUNTIME__LOG_LEVEL": "ERROR", "PYTHONPATH": str(REPO)}),
    )


def test_the_command_gates_on_breaking_changes(tmp_path: Path):
    old = _write(tmp_path / "old.odcs.yaml", BASE)
    narrowed = copy.deepcopy(BASE)
    _prop(narrowed, "amount")["logicalTypeOptions"]["maximum"] = 100
    new = _write(tmp_path / "new.odcs.yaml", narrowed)
    result = _cli(old, new)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BREAKING  orders.amount: bounds tightened: maximum 1000 -> 100" in result.stdout
    assert "logicalTypeOptions.maximum (line" in result.stdout and "FAIL" in result.stdout

    narrowed["version"] = "2.0.0"
    _write(new, narrowed)
    bumped = _cli(old, new, "--json")
    assert bumped.returncode == 0, bumped.stdout + bumped.stderr
    report = json.loads(bumped.stdout)
    assert report["breaking"] == 1 and report["major_bumped"] is True and report["passes"] is True

    widened = copy.deepcopy(BASE)
    _prop(widened, "amount")["logicalTypeOptions"]["maximum"] = 5000
    assert _cli(old, _write(new, widened)).returncode == 0


def test_against_a_git_revision(tmp_path: Path):
    repo = tmp_path / "repo"
    (repo / "contracts").mkdir(parents=True)
    contract = _write(repo / "contracts" / "orders.odcs.yaml", BASE)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "orders contract"], check=True)
    changed = copy.deepcopy(BASE)
    changed["schema"][0]["properties"].remove(_prop(changed, "email"))
    _write(contract, changed)

    result = _cli(contract, "--against", "HEAD", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["old"]["file"] == "HEAD:contracts/orders.odcs.yaml"
    assert [(c["column"], c["change"]) for c in report["changes"]] == [("email", "column removed")]

    fresh = _write(repo / "contracts" / "refunds.odcs.yaml", BASE)
    new_file = _cli(fresh, "--against", "HEAD")
    assert new_file.returncode == 0 and "nothing to compare" in new_file.stdout
    assert _cli(contract, "--against", "no-such-branch").returncode == 2
    assert _cli(contract).returncode == 2  # one file and no --against
