"""The command line's own Dagster logger: one line per step with its time and key numbers,
warnings that matter (failing checks, data not published, repaired input), and the cause of a
failure in one sentence. ``python -m pipelines --verbose`` uses Dagster's full console log
instead; the Dagster UI always keeps every event.

A Dagster logger receives every event as a log record whose ``dagster_meta`` carries the event;
this one keeps the events it needs and prints a summary as steps finish. A run of the
multiprocess executor logs from its step processes, so there the same handler reads the run's
events from the Dagster instance as they are stored (:func:`follow_run`).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

#: Labels shown only when their number is not zero.
OPTIONAL = {"from your files"}
#: Per asset: the metadata entries that make its line (label, metadata key).
KEY_NUMBERS: dict[str, list[tuple[str, str]]] = {
    "kwb_statistics": [("values", "kwb_value_rows"), ("vintages", "vintages"), ("source", "source")],
    "region_geometries": [
        ("gemeenten", "gemeente_areas"),
        ("wijken", "wijk_areas"),
        ("buurten", "buurt_areas"),
        ("from your files", "polygons from boundary files"),
    ],
    "warehouse_core": [
        ("gemeenten", "regions gemeente"),
        ("wijken", "regions wijk"),
        ("buurten", "regions buurt"),
    ],
    "veerkracht_scores": [
        ("scored buurten", "kwetsbaarheid scored buurt"),
        ("wijken", "kwetsbaarheid scored wijk"),
        ("gemeenten", "kwetsbaarheid scored gemeente"),
    ],
    "area_layers": [("mart rows", "marts.area rows"), ("buurt MB", "buurt MB")],
    "boundary_crosswalk": [("rows", "rows")],
    "validation_criteria": [("criteria", "criteria matched"), ("matched areas", "matched areas")],
    "dashboard_warehouse": [("MB", "MB"), ("years", "years")],
    "web_map": [("tiles MB", "pmtiles MB")],
}


def _lookup(metadata: dict, key: str):
    """The entry ``key``, or of a step over several years its entries per year (``"2024 key"``)
    as {year: entry}; None when there is neither."""
    if key in metadata:
        return metadata[key]
    per_year = {k[:4]: v for k, v in metadata.items() if k[:4].isdigit() and k[5:] == key}
    return per_year or None


def _any_value(entry) -> bool:
    """Whether an entry (or any year's entry) is not zero."""
    values = entry.values() if isinstance(entry, dict) else [entry]
    return any(getattr(v, "value", v) for v in values)


def _shown(entry) -> str:
    if isinstance(entry, dict) and len({_value(v) for v in entry.values()}) == 1:
        return _value(next(iter(entry.values())))  # the same in every year: once
    if isinstance(entry, dict):
        return " · ".join(f"{year}: {_value(v)}" for year, v in sorted(entry.items()))
    return _value(entry)


def _value(entry) -> str:
    value = getattr(entry, "value", entry)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _own_descriptor(stream):
    """A line-buffered file on a copy of ``stream``'s descriptor (``stream`` itself when it has
    none, e.g. a test's StringIO), made before a run starts.

    While a run executes, Dagster captures the process's stdout into the run's compute log and a
    ``tail -F`` subprocess copies that file back to the terminal: lines written to stdout then
    arrive late, out of order with the spinner (drawn directly), and the last ones can be lost
    when the tail is stopped at the run's end. Written here, they go straight to where stdout
    went when the command started."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return stream
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return os.fdopen(os.dup(fd), "w", buffering=1, encoding=encoding, errors="replace")


def _terminal_progress(stream):
    """A transient rich progress display on ``stream`` when it is a terminal, else None."""
    if not (hasattr(stream, "isatty") and stream.isatty()) or os.environ.get("VEERKRACHT_NO_PROGRESS"):
        return None
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    # On the handler's own descriptor (_own_descriptor): the spinner and the step lines reach
    # the terminal in the order they are written.
    return Progress(
        SpinnerColumn(),
        TextColumn("  {task.description:<22}"),
        TimeElapsedColumn(),
        console=Console(file=stream),
        transient=True,
    )


def _cpu_seconds() -> float:
    """User + system CPU of this process (every thread), of the child processes it waited for and
    of those still running (the helper processes, tippecanoe while it tiles; Linux's /proc)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system + _running_children_cpu()


def _running_children_cpu() -> float:
    """CPU of this process's running children and of the children they waited for."""
    try:
        pids = [
            pid
            for task in Path("/proc/self/task").iterdir()
            for pid in (task / "children").read_text().split()
        ]
    except OSError:  # no /proc (not Linux)
        return 0.0
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended and waited for just now: counted in os.times() instead
            continue
        ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _plain(entry):
    """A metadata value as JSON can hold it."""
    value = getattr(entry, "value", entry)
    return value if isinstance(value, int | float | str | bool | list) or value is None else str(value)


class SummaryHandler(logging.Handler):
    """Turns Dagster events into the CLI's summary lines (written to ``stream``)."""

    def __init__(self, stream=None, steps: set[str] | None = None):
        """``steps``: print only these steps' lines (a run over several years), and collect the
        checks that only warn into one line per run (:meth:`warnings_line`); all by default.
        With :attr:`concurrent` set (:func:`follow_run`), steps may overlap: each step's line is
        written whole when it ends, with no line or spinner left open while it runs."""
        super().__init__(level=logging.DEBUG)
        given = stream or sys.stdout
        given.flush()  # what was printed before comes first
        # Closed with the handler's last reference, not in close(): Dagster's instance configures
        # Python logging as a run starts (logging.config.dictConfig closes every handler), and
        # this one writes on after that.
        self.stream = _own_descriptor(given)
        self.steps = steps
        self.collected: list[str] = []
        self.started: dict[str, float] = {}
        #: CPU seconds at each running step's start (:func:`_cpu_seconds`; in-process runs only).
        self.cpu_started: dict[str, float] = {}
        self.metadata: dict[str, dict] = {}
        #: The step whose name is on the current, unfinished line (its progress indication).
        self.open_step: str | None = None
        #: Warnings of a running step, printed under its line when it ends.
        self.pending: dict[str, list[str]] = {}
        #: Every step that ended (step, status, seconds, numbers, error) and every warning, for
        #: the machine-readable summary (``--json``), whatever is printed.
        self.records: list[dict] = []
        self.warnings: list[str] = []
        #: On a terminal, a running step shows a spinner and its elapsed time (rich), erased when
        #: it ends; in a pipe or a log the step's line is written once, as it ends.
        self.progress = _terminal_progress(self.stream)
        self._task = None
        self.concurrent = False

    def _stop_progress(self) -> None:
        if self._task is not None:
            self.progress.remove_task(self._task)
            self.progress.stop()
            self._task = None

    def _write(self, line: str) -> None:
        self._stop_progress()
        if self.open_step is not None:
            self.stream.write("\n")
            self.open_step = None
        self.stream.write(line + "\n")
        self.stream.flush()

    def warnings_line(self) -> str | None:
        """The checks that warned since the last call, as one line (``steps`` mode), or None."""
        found, self.collected = self.collected, []
        return f"    ! checks warn: {', '.join(found)}" if found else None

    def _finish(self, step: str, rest: str) -> None:
        self._stop_progress()
        if self.steps is not None and step not in self.steps and not rest.startswith("FAILED"):
            self.pending.pop(step, None)
            return
        if self.open_step == step:
            self.stream.write(rest + "\n")
            self.open_step = None
            self.stream.flush()
        else:
            self._write(f"  {step:<22}{rest}")
        for warning in self.pending.pop(step, []):
            self._write(warning)

    def _warn(self, step: str, line: str) -> None:
        self.warnings.append(f"{step}: {line.strip().lstrip('! ')}" if step else line.strip().lstrip("! "))
        if self.steps is not None and step and step not in self.steps:
            self._write(line)  # a warning of a step whose line is not shown: on its own line
        elif step and step in self.started:
            self.pending.setdefault(step, []).append(line)
        else:
            self._write(line)

    def _write_open(self, step: str) -> None:
        if self.concurrent:
            return
        if self.progress is not None:
            self._stop_progress()
            self.progress.start()
            self._task = self.progress.add_task(step, total=None)
            return
        if self.steps is not None and step not in self.steps:
            return
        if self.open_step is not None:
            self.stream.write("\n")
        self.stream.write(f"  {step:<22}")
        self.stream.flush()
        self.open_step = step

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        if event is None:
            if record.levelno >= logging.WARNING:
                message = str(meta.get("orig_message") or record.getMessage()).splitlines()[0]
                if message.startswith("Dependencies for step"):
                    return  # steps after a failure: the run's last line names the failure
                self._warn(step, f"    ! {message}")
            return
        kind = event.event_type_value
        # Seconds between the events' own times: as the step ran, also when the events are read
        # from the instance some time after (:func:`follow_run`).
        if kind == "STEP_START":
            self.started[step] = record.created
            if not self.concurrent:  # the step runs in this process, and alone
                self.cpu_started[step] = _cpu_seconds()
            self.metadata[step] = {}
            self._write_open(step)
        elif kind == "ASSET_MATERIALIZATION":
            self.metadata.setdefault(step, {}).update(event.event_specific_data.materialization.metadata)
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                offending = evaluation.metadata.get("offending")
                count = f" ({_value(offending)} offending)" if offending is not None else ""
                severity = evaluation.severity.value.lower()
                if self.steps is not None and severity == "warn":
                    self.collected.append(f"{evaluation.check_name}{count}")
                    self.warnings.append(f"{step}: check {evaluation.check_name}: warn{count}")
                    return
                self._warn(step, f"    ! check {evaluation.check_name}: {severity}{count}")
        elif kind == "STEP_SUCCESS":
            seconds = record.created - self.started.get(step, record.created)
            found = {
                label: _lookup(self.metadata.get(step, {}), key) for label, key in KEY_NUMBERS.get(step, [])
            }
            found = {
                label: v
                for label, v in found.items()
                if v is not None and not (label in OPTIONAL and not _any_value(v))
            }
            numbers = [f"{label} {_shown(v)}" for label, v in found.items()]
            cpu = {}
            if step in self.cpu_started:
                cpu = {"cpu_seconds": round(_cpu_seconds() - self.cpu_started.pop(step), 2)}
            self.records.append(
                {
                    "step": step,
                    "status": "success",
                    "seconds": round(seconds, 2),
                    **cpu,
                    "numbers": {
                        label: {y: _plain(x) for y, x in v.items()} if isinstance(v, dict) else _plain(v)
                        for label, v in found.items()
                    },
                }
            )
            self._finish(step, f"{seconds:6.1f} s   {', '.join(numbers)}")
        elif kind == "STEP_FAILURE":
            error = failure_message(event.step_failure_data.error)
            seconds = record.created - self.started.get(step, record.created)
            self.records.append(
                {"step": step, "status": "failed", "seconds": round(seconds, 2), "error": error}
            )
            self._finish(step, f"FAILED  {error}")

    def handle_entry(self, entry: dg.EventLogEntry) -> None:
        """Handle an event of the instance's event log as if the run had logged it here."""
        record = logging.LogRecord(
            "veerkracht.summary", entry.level, "", 0, entry.user_message or "", None, None
        )
        record.created = entry.timestamp
        record.dagster_meta = {
            "dagster_event": entry.dagster_event,
            "step_key": entry.step_key,
            "orig_message": entry.user_message,
        }
        self.handle(record)


#: The run tag :func:`follow_run` finds its run by.
FOLLOW_TAG = "veerkracht/cli_invocation"


@contextmanager
def follow_run(instance: dg.DagsterInstance, handler: SummaryHandler, token: str) -> Iterator[None]:
    """Feed ``handler`` the events of the run tagged ``FOLLOW_TAG=token`` while the block runs
    (it launches that run), from the instance's event log, then the rest once it returns.

    For the multiprocess executor: its steps run in processes of their own, whose Dagster loggers
    are theirs, not this process's; every event they log is stored in the instance, where the
    UI reads it too. Read every 0.2 s, so a step's line comes at most that late."""
    handler.concurrent = True  # the multiprocess executor runs independent steps at once
    stop = threading.Event()
    state: dict = {"run_id": None, "cursor": None}

    def drain() -> None:
        if state["run_id"] is None:
            found = instance.get_run_records(dg.RunsFilter(tags={FOLLOW_TAG: token}), limit=1)
            if not found:
                return
            state["run_id"] = found[0].dagster_run.run_id
        while True:
            page = instance.get_records_for_run(state["run_id"], cursor=state["cursor"], limit=500)
            state["cursor"] = page.cursor  # first: no event is handled twice
            for rec in page.records:
                handler.handle_entry(rec.event_log_entry)
            if not page.has_more:
                return

    def poll() -> None:
        while not stop.wait(0.2):
            try:
                drain()
            except Exception:  # storage busy a moment: the next read, or the last, gets it
                continue

    thread = threading.Thread(target=poll, name="veerkracht-follow-run", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        drain()  # what was stored after the last read


#: Errors whose message is written for the user: their line is shown, not their cause's.
OWN_ERRORS = {"DiskFullError", "WarehouseBusy", "IntegrityError", "SpecError"}


def failure_message(error) -> str:
    """A step failure's cause in one line: the innermost error's first line, without its class
    (DuckDB puts the cause first and then the query with a caret under the spot), or the
    outermost of our own errors (a full disk, a busy file, a damaged input), which say what to do.
    An error raised in a helper process comes with its traceback there as its cause (a
    ``_RemoteTraceback``): the error itself is the innermost that says something."""
    while error is not None and error.cause is not None and error.cls_name not in OWN_ERRORS:
        if error.cause.cls_name == "_RemoteTraceback":
            break
        error = error.cause
    lines = [ln.strip() for ln in (error.message if error is not None else "").splitlines() if ln.strip()]
    message = lines[0] if lines else "unknown error"
    return re.sub(r"^[\w.]+(Error|Exception): ", "", message)  # the class name says little


def make_summary_logger(handler: SummaryHandler) -> dg.LoggerDefinition:
    """A Dagster logger that feeds ``handler`` (one per CLI run)."""

    @dg.logger(description="One line per step (python -m pipelines)")
    def summary_logger(_init_context) -> logging.Logger:
        log = logging.Logger("veerkracht.summary", level=logging.DEBUG)
        log.addHandler(handler)
        return log

    return summary_logger
