"""Publishing: the marts as GIS layers (one writer module per output format), QGIS styles, the
column dictionary, map previews, the static web map and its local server."""
