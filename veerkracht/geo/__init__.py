"""Polygons: reading, cleaning, the geometry sources (embedded, PDOK) and boundary crosswalks.

Everything here works in RD New (EPSG:28992, metres); the web layers are reprojected to WGS84
only when they are written (:mod:`veerkracht.publish`).
"""

RD_NEW = "EPSG:28992"
WGS84 = "EPSG:4326"
