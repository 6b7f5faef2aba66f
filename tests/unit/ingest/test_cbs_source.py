"""The cbs source on the real code path: cbsodata against local OData servers on 127.0.0.1.

The servers replay the embedded real 85984NED vintages in the feed's shape, and recorded real
CBS responses (tests/fixtures); nothing in veerkracht or cbsodata is mocked.
"""

from __future__ import annotations

import time

import pytest
from cbs_runs import VINTAGES
from odata_server import ODataFixture, RecordedFeed

from veerkracht.http_limits import ResponseLimits
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
    """The second page's reset retries that page alone (issue 29: the whole table was downloaded
    again): the first page and the metadata are asked once, the failed page twice."""
    with ODataFixture() as server:
        server.serve(VINTAGES[1])
        server.fault("reset", "$skip=10000")
        snap = download_kwb("85984NED", _endpoint(server))
    assert len(snap.data) == 18309 and snap.data["Codering_3"].is_unique
    typed = [r for r in server.requests if "TypedDataSet" in r]
    assert len(typed) == 3 and sum("skip=10000" in r for r in typed) == 2, typed
    assert sum("DataProperties" in r for r in server.requests) == 1


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


# Limits per response (issue 15, item 3). Before them, each of these downloads ran on for hours
# or without end: requests' timeout bounds one read, and every read here returns in time.


def test_a_trickling_server_is_cut_off_at_the_response_deadline():
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        server.fault("drip", "TypedDataSet", times=5)
        started = time.monotonic()
        with pytest.raises(
            CbsDownloadError,
            match=r"85984NED from .* failed: the response from http://127\.0\.0\.1:\d+/ODataFeed/odata/"
            r"85984NED/TypedDataSet\S* was still arriving after 2\.\d s \([\d,]+ bytes so far; "
            r"the deadline per response is 2 s\)",
        ):
            download_kwb("85984NED", _endpoint(server, timeout_s=3, limits=ResponseLimits(deadline_s=2)))
        # Not retried: another attempt would cost the same deadline again.
        assert time.monotonic() - started < 8
    assert sum("TypedDataSet" in r for r in server.requests) == 1


def test_an_endless_response_is_cut_off_at_the_size_cap():
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        server.fault("endless", "DataProperties")
        with pytest.raises(CbsDownloadError, match=r"DataProperties\S* passed the cap of 1,048,576 bytes"):
            download_kwb("85984NED", _endpoint(server, limits=ResponseLimits(max_bytes=1 << 20)))


def test_a_declared_length_over_the_cap_is_refused_before_reading():
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        with pytest.raises(
            CbsDownloadError, match=r"DataProperties\S* declares 114,002 bytes, more than the cap of 100,000"
        ):
            download_kwb("85984NED", _endpoint(server, limits=ResponseLimits(max_bytes=100_000)))


def test_a_next_link_loop_is_detected():
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        server.fault("selflink", "TypedDataSet")
        with pytest.raises(CbsDownloadError, match=r"TypedDataSet\S* was requested twice in one download"):
            download_kwb("85984NED", _endpoint(server))
    # Refused before asking the server again.
    assert sum("TypedDataSet" in r for r in server.requests) == 1


def test_the_page_cap_counts_pages_of_one_part():
    with ODataFixture(page_size=1_000) as server:
        server.serve(VINTAGES[1])
        # 18,309 rows in 1,000-row pages: 19 pages, within a cap of 19 ...
        snap = download_kwb("85984NED", _endpoint(server, limits=ResponseLimits(max_pages=19)))
        assert len(snap.data) == 18_309
        # ... and refused under a cap of 10, after the 10th page.
        with pytest.raises(
            CbsDownloadError,
            match=r"85984NED/TypedDataSet answered with more than 10 pages \(the page cap\)",
        ):
            download_kwb("85984NED", _endpoint(server, limits=ResponseLimits(max_pages=10)))
