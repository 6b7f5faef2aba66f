"""What Dagster decides "stale" with: the inputs, the method spec and the validation's criteria as
observable source assets, and one code version for every asset (:mod:`veerkracht.fingerprint`).

``kwb_inputs`` (per year) is upstream of the statistics and polygons, ``method_spec`` of the
scores, ``validation_inputs`` of the validation's criteria. Every materialisation records the
code version and the data versions of its inputs, so after a new spec only the scores and what
follows them are stale, after a new criterion file only the validation, after a revised year its
statistics and everything after them, after a code change everything. The CLI observes the three
before it runs (``python -m pipelines``); in the UI, "Observe sources" does the same.
"""

import dagster as dg

from assets.partitions import ONE_RUN, YEARS
from assets.resources import PipelineSettings
from veerkracht import fingerprint
from veerkracht.registry import year_info

#: Every asset's code version: a new source, SQL or reference file, or a new version of a library
#: that computes, makes everything stale.
CODE_VERSION = fingerprint.code_version()


def cbs_modified(year: int) -> str | None:
    """``TableInfos.Modified`` of the year's KWB table (a revision changes it), or None when CBS
    cannot be asked."""
    from veerkracht.ingest.cbs_client import CbsDownloadError, CbsEndpoint, table_modified

    try:
        return table_modified(year_info(year).kwb_table, CbsEndpoint(timeout_s=15, retries=0))
    except CbsDownloadError:
        return None


def settings_dict(settings: PipelineSettings) -> dict:
    """The settings resource's fields as :func:`veerkracht.fingerprint.inputs_version` reads them."""
    return {name: getattr(settings, name) for name in PipelineSettings.model_fields}


@dg.observable_source_asset(partitions_def=YEARS, group_name="ingest")
def kwb_inputs(settings: PipelineSettings) -> dg.DataVersionsByPartition:
    """The statistics and boundary inputs of each year: their source, files and (source ``cbs``)
    CBS's ``Modified`` of the table, as one hash per year."""
    given = settings_dict(settings)
    return dg.DataVersionsByPartition(
        {
            key: dg.DataVersion(fingerprint.inputs_version(given, int(key), cbs_modified))
            for key in YEARS.get_partition_keys()
        }
    )


@dg.observable_source_asset(group_name="scores")
def method_spec(settings: PipelineSettings) -> dg.DataVersion:
    """The method spec the scores are computed with: its content hash."""
    return dg.DataVersion(fingerprint.spec_version(settings.method.spec_hash, settings.output_dir))


@dg.observable_source_asset(group_name="score")
def validation_inputs(settings: PipelineSettings) -> dg.DataVersion:
    """The criteria the validation measures against (data/validation/, ``validation_files``, the
    KWB 2021 buurt figures): one hash of their contents."""
    return dg.DataVersion(fingerprint.criteria_version(settings_dict(settings)))


#: What the assets that read a year's inputs share: yearly partitions (a backfill is one run), the
#: observed inputs upstream, the code version.
YEARLY_INPUT = {
    "partitions_def": YEARS,
    "backfill_policy": ONE_RUN,
    "deps": [kwb_inputs],
    "code_version": CODE_VERSION,
    "group_name": "ingest",
}
