"""The landing folder on S3, against a real moto S3 server on loopback."""

from __future__ import annotations

import io
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from platform_assets.core import warehouse
from platform_assets.core.ingestion.bundled import generate_transactions
from platform_assets.core.ingestion.load import IngestionError, LandingFolderReader, ingest


@pytest.fixture(scope="module")
def s3():
    import s3fs
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # The standard AWS variables: what a deployment sets, read by dlt's filesystem source.
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }.items():
            patch.setenv(key, value)
        # fsspec caches S3 filesystems by their arguments, not the endpoint from the env.
        s3fs.S3FileSystem.clear_instance_cache()
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="landing")
        yield client
        s3fs.S3FileSystem.clear_instance_cache()
    server.stop()


def _put(client, key: str, table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    client.put_object(Bucket="landing", Key=key, Body=buffer.getvalue())


def test_s3_landing_partition_is_ingested(s3, tmp_path: Path):
    prefix = "feeds/transactions/partition_date=2026-11-05"
    _put(s3, f"{prefix}/part-0.parquet", generate_transactions("2026-11-05", 300))
    _put(s3, f"{prefix}/part-1.parquet", generate_transactions("2026-11-05", 500).slice(300))
    (manifest,) = ingest(
        LandingFolderReader("s3://landing/feeds"),
        ["2026-11-05"],
        tmp_path / "w.duckdb",
        tmp_path / "dlt",
    )
    assert manifest.row_count == 500
    with warehouse.session(tmp_path / "w.duckdb", read_only=True) as conn:
        (count,) = conn.execute(
            "SELECT count(DISTINCT transaction_id) FROM raw.transactions"
        ).fetchall()[0]
    assert count == 500


def test_s3_missing_partition_is_a_clear_error(s3, tmp_path: Path):
    with pytest.raises(
        IngestionError,
        match=r"No files for partition 2026-11-06 in s3://landing/feeds/transactions",
    ):
        ingest(
            LandingFolderReader("s3://landing/feeds"),
            ["2026-11-06"],
            tmp_path / "w.duckdb",
            tmp_path / "dlt",
        )


def test_s3_marker_files_are_skipped_and_listed(s3, tmp_path: Path):
    prefix = "feeds/transactions/partition_date=2026-11-07"
    _put(s3, f"{prefix}/part-0.parquet", generate_transactions("2026-11-07", 200))
    s3.put_object(Bucket="landing", Key=f"{prefix}/_SUCCESS", Body=b"")
    s3.put_object(Bucket="landing", Key=f"{prefix}/.DS_Store", Body=b"\x00\x00\x00\x01Bud1")
    (manifest,) = ingest(
        LandingFolderReader("s3://landing/feeds"),
        ["2026-11-07"],
        tmp_path / "w.duckdb",
        tmp_path / "dlt",
    )
    assert manifest.row_count == 200
    assert sorted(manifest.skipped_files) == [".DS_Store", "_SUCCESS"]
