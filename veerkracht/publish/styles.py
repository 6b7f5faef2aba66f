"""Shared map classes and the QGIS style (.qml) of the score layers.

One colour scheme for every map the project draws (QGIS, web map, previews): ColorBrewer
YlOrRd in five classes on ``score_class`` (quintiles of the score), grey for areas without a
score. QGIS loads ``<file>.qml`` next to a layer automatically when it opens that layer.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from veerkracht.publish.dictionary import COLUMNS

CLASS_COLOURS = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
NO_SCORE_COLOUR = "#d9d9d9"
CLASS_LABELS = ["1 – least vulnerable fifth", "2", "3", "4", "5 – most vulnerable fifth"]
#: Bivariate 3 x 3 (kwetsbaarheid tercile K x druk tercile D), a Stevens-style blue-red scheme:
#: grey = low on both, red = kwetsbaar, blue = druk, dark purple = both high.
BIVARIATE_COLOURS = {
    "K1D1": "#e8e8e8", "K2D1": "#e4acac", "K3D1": "#c85a5a",
    "K1D2": "#b0d5df", "K2D2": "#ad9ea5", "K3D2": "#985356",
    "K1D3": "#64acbe", "K2D3": "#627f8c", "K3D3": "#574249",
}  # fmt: skip
#: The web map's "binnen de gemeente" view: the rank within the gemeente in five equal steps.
WITHIN_GEMEENTE_BREAKS = [0.2, 0.4, 0.6, 0.8]
#: The "aantal kwetsbare bewoners" view: pale areas under proportional circles, radius in pixels
#: per sqrt(resident) by level (a gemeente has ~100x a buurt's residents).
BEWONERS_FILL_COLOUR = "#f2f2f2"
CIRCLE_SCALE = {"gemeente": 0.06, "wijk": 0.15, "buurt": 0.3}
#: Opacity of the circles: published and carried counts, and (paler) modelled estimates.
COUNTED_OPACITY = 0.6
MODELLED_OPACITY = 0.3


def _rgba(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return ",".join(str(int(h[i : i + 2], 16)) for i in (0, 2, 4)) + ",255"


def _symbol(name: str, colour: str) -> str:
    return (
        f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
        '<layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map">'
        f'<Option name="color" type="QString" value="{_rgba(colour)}"/>'
        '<Option name="outline_color" type="QString" value="110,110,110,255"/>'
        '<Option name="outline_width" type="QString" value="0.06"/>'
        '<Option name="outline_width_unit" type="QString" value="MM"/>'
        '<Option name="style" type="QString" value="solid"/>'
        "</Option></layer></symbol>"
    )


def score_qml(field_names: list[str]) -> str:
    """QGIS style: categories on ``score_class`` and field aliases from the data dictionary."""
    categories = "".join(
        f'<category value="{i + 1}" label={quoteattr(label)} symbol="{i}" render="true"/>'
        for i, label in enumerate(CLASS_LABELS)
    )
    categories += (
        f'<category value="" label={quoteattr("no score (see score_null_reason)")} symbol="5" render="true"/>'
    )
    symbols = "".join(_symbol(str(i), c) for i, c in enumerate(CLASS_COLOURS)) + _symbol("5", NO_SCORE_COLOUR)
    aliases = "".join(
        f'<alias field="{f}" index="{i}" name={quoteattr(COLUMNS[f][0][:60])}/>'
        for i, f in enumerate(field_names)
        if f in COLUMNS
    )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.34.0" styleCategories="Symbology|Fields">\n'
        '<renderer-v2 type="categorizedSymbol" attr="score_class" symbollevels="0" '
        'enableorderby="0" forceraster="0" referencescale="-1">\n'
        f"<categories>{categories}</categories>\n<symbols>{symbols}</symbols>\n"
        "</renderer-v2>\n"
        f"<aliases>{aliases}</aliases>\n"
        "</qgis>\n"
    )


def write_qml(layer_path: Path, field_names: list[str]) -> Path:
    """Write the style next to ``layer_path`` with the same base name (QGIS loads it)."""
    path = Path(layer_path).with_suffix(".qml")
    path.write_text(score_qml(field_names), encoding="utf-8")
    return path
