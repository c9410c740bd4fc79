"""The production profile is chosen and configured by the environment only; the local
default stays as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_assets.core import warehouse
from platform_assets.core.settings import LakeSettings, Settings, SettingsError
from platform_assets_tests.support.typed import present

PRODUCTION = {
    "PLATFORM_ASSETS_PROFILE": "production",
    "PLATFORM_ASSETS_HOME": "/srv/pa",
    "PLATFORM_ASSETS_PG_URL": "postgresql://dagster:secret@db.internal:5432/platform",
    "PLATFORM_ASSETS_S3_URL": "s3://data-bucket/platform/",
    "AWS_ENDPOINT_URL": "http://minio:9000",
    "AWS_REGION": "eu-west-1",
}


def test_local_default_is_one_duckdb_file_under_home(tmp_path: Path):
    settings = Settings.from_env({"PLATFORM_ASSETS_HOME": str(tmp_path)})
    assert settings.profile == "local" and settings.lake is None and settings.s3_url is None
    assert settings.warehouse == str(tmp_path / "warehouse.duckdb")
    assert settings.registry_url == str(tmp_path / "artifacts" / "registry")
    assert settings.landing_url == str(tmp_path / "landing")
    assert settings.artifacts_url == str(tmp_path / "artifacts")
    assert warehouse.resolve_lake(settings.warehouse) is None


def test_production_places_everything_from_two_variables():
    settings = Settings.from_env(PRODUCTION)
    lake = present(settings.lake)
    assert settings.profile == "production" and settings.s3_url == "s3://data-bucket/platform"
    assert settings.warehouse == "ducklake:platform_assets_lake"
    assert lake.data_path == "s3://data-bucket/platform/warehouse/"
    assert lake.catalog_url == PRODUCTION["PLATFORM_ASSETS_PG_URL"]
    assert (lake.s3_endpoint_url, lake.s3_region) == ("http://minio:9000", "eu-west-1")
    assert lake.extension_dir == Path("/srv/pa/duckdb_extensions")
    assert settings.registry_url == "s3://data-bucket/platform/registry"
    assert settings.landing_url == "s3://data-bucket/platform/landing"
    assert settings.artifacts_url == "s3://data-bucket/platform/artifacts"
    # The password is in the catalog URL only, never in what is shown or logged.
    assert "secret" not in repr(settings) and "secret" not in settings.warehouse
    overridden = Settings.from_env(
        {
            **PRODUCTION,
            "PLATFORM_ASSETS_REGISTRY_URL": "s3://models/registry",
            "PLATFORM_ASSETS_LAKE_SCHEMA": "lake_staging",
        }
    )
    assert (
        overridden.registry_url == "s3://models/registry"
        and overridden.warehouse == "ducklake:lake_staging"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"PLATFORM_ASSETS_PG_URL": ""}, "needs PLATFORM_ASSETS_PG_URL"),
        ({"PLATFORM_ASSETS_S3_URL": ""}, "needs PLATFORM_ASSETS_S3_URL"),
        (
            {"PLATFORM_ASSETS_S3_URL": "/data/bucket"},
            r"PLATFORM_ASSETS_S3_URL='/data/bucket': expected s3://",
        ),
        ({"PLATFORM_ASSETS_PROFILE": "staging"}, "expected one of local, production"),
    ],
)
def test_a_production_profile_that_cannot_work_names_the_variable(change, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({**PRODUCTION, **change})


def test_the_lake_name_resolves_only_to_the_configured_lake(monkeypatch):
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    assert warehouse.resolve_lake("ducklake:platform_assets_lake") == Settings.from_env().lake
    with pytest.raises(ValueError, match="configures ducklake:platform_assets_lake"):
        warehouse.resolve_lake("ducklake:another_lake")
    monkeypatch.setenv("PLATFORM_ASSETS_PROFILE", "local")
    with pytest.raises(ValueError, match="configures no lake"):
        warehouse.resolve_lake("ducklake:platform_assets_lake")


def test_key_constraints_are_dropped_for_the_lake_and_nothing_else():
    assert (
        warehouse.without_key_constraints(
            "CREATE TABLE IF NOT EXISTS t (a VARCHAR NOT NULL, b INT, PRIMARY KEY (a, b));"
        )
        == "CREATE TABLE IF NOT EXISTS t (a VARCHAR NOT NULL, b INT);"
    )
    assert (
        warehouse.without_key_constraints("CREATE TABLE t (id VARCHAR PRIMARY KEY, n INT)")
        == "CREATE TABLE t (id VARCHAR, n INT)"
    )
    select = "SELECT 'PRIMARY KEY' AS words"
    assert warehouse.without_key_constraints(select) == select
    assert "PRIMARY KEY" not in warehouse.without_key_constraints(warehouse.PLATFORM_DDL)


def test_the_s3_secret_points_at_the_endpoint_with_the_chains_keys(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "example-token")
    sql = warehouse.s3_secret_sql(
        LakeSettings(
            catalog_url="postgresql://x",
            data_path="s3://bucket/p/warehouse/",
            s3_endpoint_url="http://127.0.0.1:9000",
            s3_region="eu-west-1",
        )
    )
    for part in (
        "TYPE s3",
        "KEY_ID 'AKIDEXAMPLE'",
        "SECRET 'example-secret'",
        "SESSION_TOKEN 'example-token'",
        "REGION 'eu-west-1'",
        "SCOPE 's3://bucket'",
        "ENDPOINT '127.0.0.1:9000'",
        "URL_STYLE 'path'",
        "USE_SSL false",
    ):
        assert part in sql
    aws = warehouse.s3_secret_sql(
        LakeSettings(catalog_url="postgresql://x", data_path="s3://bucket/warehouse/")
    )
    assert "ENDPOINT" not in aws and "URL_STYLE" not in aws
