"""The cbs source on the real code path: cbsodata against local OData servers on 127.0.0.1.

The servers replay the embedded real 85984NED vintages in the feed's shape, and recorded real
CBS responses (tests/fixtures); nothing in veerkracht or cbsodata is mocked.
"""

from __future__ import annotations

import pytest
from cbs_runs import VINTAGES
from odata_server import ODataFixture, RecordedFeed

from veerkracht.ingest.cbs_client import (
    CbsDownloadError,
    CbsEndpoint,
    catalog_tables,
    download_kwb,
    table_modified,
    table_part,
)
from veerkracht.paths import OutputLayout
from veerkracht.registry import check_catalog


def _endpoint(server, **kw) -> CbsEndpoint:
    return CbsEndpoint(
        server.host, use_https=False, **{"timeout_s": 5, "retries": 2, "backoff_s": 0.01, **kw}
    )


def _layout(out) -> OutputLayout:
    return OutputLayout(out)


def test_500_then_success_is_retried():
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        server.fault("500", "TypedDataSet")
        snap = download_kwb("85984NED", _endpoint(server))
    assert len(snap.data) == len(VINTAGES[0].data)


def test_connection_reset_mid_page_is_retried():
    with ODataFixture() as server:
        server.serve(VINTAGES[1])
        server.fault("reset", "$skip=10000")
        snap = download_kwb("85984NED", _endpoint(server))
    assert len(snap.data) == 18309 and snap.data["Codering_3"].is_unique


def test_persistent_5xx_gives_a_clear_error():
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        server.fault("503", "", times=10)
        with pytest.raises(
            CbsDownloadError,
            match=r"Download of 85984NED from http://127\.0\.0\.1:\d+/"
            r"ODataFeed/odata/85984NED/ failed after 3 attempts: HTTP 503",
        ):
            download_kwb("85984NED", _endpoint(server))


def test_stalled_server_times_out():
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        server.fault("stall", "TableInfos", times=5)
        with pytest.raises(CbsDownloadError, match="timed out"):
            download_kwb("85984NED", _endpoint(server, timeout_s=0.5, retries=1))


def test_malformed_json_is_a_clear_error():
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        server.fault("malformed", "DataProperties")
        with pytest.raises(CbsDownloadError, match="85984NED.*malformed JSON"):
            download_kwb("85984NED", _endpoint(server))


def test_unreachable_host_names_table_and_url():
    with pytest.raises(CbsDownloadError, match=r"85984NED from http://127\.0\.0\.1:9/"):
        download_kwb("85984NED", CbsEndpoint("127.0.0.1:9", use_https=False, timeout_s=2, retries=0))


def test_recorded_real_feed_paging_and_metadata():
    """Real CBS responses: 83599NED in two pages via odata.nextLink ($skip=10000)."""
    files = {
        "/ODataFeed/OData/83599NED/UntypedDataSet": "tables_2.json",
        "/ODataFeed/OData/83599NED/UntypedDataSet?$skip=10000": "tables_3.json",
        "/ODataFeed/odata/80137ned/TableInfos": "meta_2.json",
        "/ODataFeed/odata/80137ned/DataProperties": "meta_7.json",
        "/ODataCatalog/Tables": "tables_1.json",
    }
    with RecordedFeed(files) as feed:
        rows = table_part("83599NED", "UntypedDataSet", _endpoint(feed))
        assert len(rows) == 15_504 and rows[-1]["ID"] == 15_503
        assert table_modified("80137ned", _endpoint(feed)).startswith("20")
        props = table_part("80137ned", "DataProperties", _endpoint(feed))
        assert {"Key", "Title", "Unit"} <= set(props[-1])
        listing = catalog_tables(_endpoint(feed))
    assert len(listing) == 20
    assert all(p.endswith("not in the catalog listing") for p in check_catalog(listing).values())


def test_registry_checked_against_catalog():
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        problems = check_catalog(catalog_tables(_endpoint(server)))
    assert 2024 not in problems and set(problems) == {2019, 2020, 2021, 2022, 2023, 2025}
