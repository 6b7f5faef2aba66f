"""Write ``data/validation/halves/gemeenten.csv``: the fixed, size-balanced split of the gemeenten
into the validation's ``decide`` and ``report`` halves (``veerkracht.method.validation.make_halves``).

Every gemeente code of the embedded years with its inhabitants in the newest year that lists it,
from a warehouse a full run built: ``python scripts/make_halves.py data/out/warehouse/veerkracht.duckdb``.
Run once; the table is shipped so the split never moves with the data.
"""

import sys
from pathlib import Path

import duckdb

from veerkracht.method.validation import HALVES_FILE, make_halves


def main(warehouse: str) -> None:
    con = duckdb.connect(warehouse, read_only=True)
    rows = con.execute(
        "SELECT code, arg_max(value, year) AS inwoners FROM core.fact_indicator "
        "JOIN core.dim_region USING (year, code) "
        "WHERE level = 'gemeente' AND canonical = 'AantalInwoners' AND value IS NOT NULL GROUP BY code"
    ).df()
    table = make_halves(rows.set_index("code")["inwoners"])
    HALVES_FILE.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Fixed validation halves, balanced by size: gemeenten sorted by inhabitants (newest embedded\n"
        "# year listing the code), consecutive pairs, the code with the smaller SHA-256 to decide.\n"
        "# Written by scripts/make_halves.py; never tuned.\n"
    )
    Path(HALVES_FILE).write_text(header + table.to_csv(index=False))
    for h, g in table.groupby("half"):
        print(h, len(g), int(g["inwoners"].sum()), ", ".join(g.nlargest(6, "inwoners")["code"]))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/out/warehouse/veerkracht.duckdb")
