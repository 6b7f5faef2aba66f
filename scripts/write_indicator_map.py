"""Write veerkracht/indicator_map.csv from the embedded snapshots (and any stored downloads).

    python scripts/write_indicator_map.py [--raw data/out/raw/kwb]

The file says which OData key of which table and vintage feeds which canonical indicator.
Review its diff like code: a changed line means CBS renamed, re-numbered or re-titled a key.
Edit the ``canonical`` column by hand to map a renamed indicator onto its old name.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from veerkracht.ingest.canonicals import INDICATOR_MAP
from veerkracht.ingest.kwb import derive_indicator_map
from veerkracht.ingest.snapshot import list_snapshots, read_snapshot
from veerkracht.paths import EMBEDDED_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, help="also map snapshots stored under this folder")
    args = parser.parse_args()
    roots = [EMBEDDED_DIR / "kwb"] + ([args.raw] if args.raw else [])
    frames = []
    for root in roots:
        for table in sorted(p.name for p in root.iterdir() if p.is_dir()):
            snaps = [read_snapshot(f) for f in list_snapshots(root, table)]
            frames.append(derive_indicator_map(snaps))
    out = pd.concat(frames).drop_duplicates(["table_id", "vintage", "source_key"])
    out.to_csv(INDICATOR_MAP, index=False)
    print(f"{INDICATOR_MAP}: {len(out)} keys")


if __name__ == "__main__":
    main()
