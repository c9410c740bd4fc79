"""Contract parsing: a good contract loads; a bad one names its file, field and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from platform_assets.core.validation.contract import ContractError, find_contract, load_contract
from platform_assets_tests.support.paths import CONTRACT_PATH

BASE = """\
apiVersion: v3.1.0
kind: DataContract
id: orders
version: 1.0.0
status: active
schema:
  - name: orders
    physicalName: orders
    properties:
      - name: order_id
        logicalType: string
        required: true
      - name: amount
        logicalType: number
"""


def test_bundled_contract_loads(contract):
    assert contract.id == "fct_transactions"
    assert contract.table == "transactions"
    assert contract.primary_key == ("transaction_id",)
    assert set(contract.sensitive_columns) == {"user_id", "device_fingerprint"}
    assert contract.column("amount_cents").custom["unit"] == "cents"
    assert contract.column("merchant_category").enum[:2] == ("grocery", "restaurants")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["schema"][0]["properties"][1].update(logicalType="numbr"),
            "schema[0].properties[1].logicalType (line 14): unknown logicalType 'numbr'",
        ),
        (
            lambda d: d["schema"][0]["properties"][0].update(logicalTypeOptions={"pattern": "[a-"}),
            "schema[0].properties[0].logicalTypeOptions.pattern",
        ),
        (
            lambda d: d["schema"][0]["properties"][0].update(requird=True),
            "schema[0].properties[0].requird (line 13): unknown property field 'requird'",
        ),
        (
            lambda d: d["schema"][0]["properties"][1].update(
                quality=[{"metric": "nullValue", "mustBe": 0}]
            ),
            "unknown metric 'nullValue'",
        ),
        (
            lambda d: d["schema"][0].update(quality=[{"type": "sql", "mustBe": 0}]),
            "schema[0].quality[0] (line 16): 'query' is required here",
        ),
        (
            lambda d: d["schema"][0]["properties"][1].update(
                logicalTypeOptions={"minimum": "zero"}
            ),
            "logicalTypeOptions.minimum",
        ),
        # Python accepts these; DuckDB (RE2), where the checks run, cannot: lint rejects them.
        (
            lambda d: d["schema"][0]["properties"][0].update(
                logicalTypeOptions={"pattern": "^(?!x)o_[0-9]+$"}
            ),
            "schema[0].properties[0].logicalTypeOptions.pattern (line 14): the checks run in "
            "DuckDB",
        ),
        (
            lambda d: d["schema"][0]["properties"][1].update(
                quality=[
                    {"metric": "invalidValues", "arguments": {"pattern": r"(a)\1"}, "mustBe": 0}
                ]
            ),
            "quality[0].arguments.pattern",
        ),
        (
            lambda d: d.update(kind="Contract"),
            "kind (line 2): unknown kind 'Contract'; use one of DataContract",
        ),
        (
            lambda d: d["schema"][0]["properties"][1].update(
                logicalType="date", logicalTypeOptions={"minimum": "2020-13-45"}
            ),
            "schema[0].properties[1].logicalTypeOptions.minimum (line 16): must be a date in ISO "
            "8601, got '2020-13-45'",
        ),
        (
            lambda d: d["schema"][0]["properties"][1].update(
                logicalTypeOptions={"minimum": 10, "maximum": 5}
            ),
            "the lower bound 10 is above the upper bound 5",
        ),
    ],
)
def test_bad_contract_names_file_field_and_line(tmp_path: Path, edit, expected):
    document = yaml.safe_load(BASE)
    edit(document)
    path = tmp_path / "orders.odcs.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(ContractError) as info:
        load_contract(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message, message


def test_yaml_syntax_error_names_line(tmp_path: Path):
    path = tmp_path / "broken.odcs.yaml"
    path.write_text(BASE + "      - name: [unclosed\n")
    with pytest.raises(ContractError, match=r"line 16, column \d+: not valid YAML"):
        load_contract(path)


def test_missing_contract_file(tmp_path: Path):
    with pytest.raises(ContractError, match="file not found"):
        load_contract(tmp_path / "nope.odcs.yaml")


def test_find_contract_by_table(tmp_path: Path):
    assert find_contract(CONTRACT_PATH.parent, "transactions") == CONTRACT_PATH
    with pytest.raises(FileNotFoundError, match="physicalName: refunds"):
        find_contract(CONTRACT_PATH.parent, "refunds")
