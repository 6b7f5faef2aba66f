#!/usr/bin/env bash
# Refresh veerkracht/web/vendor/ from npm (versions pinned in veerkracht/web/package.json).
# The pipeline itself never calls npm: it copies the vendored files next to the tiles.
set -euo pipefail
web="$(cd "$(dirname "$0")/../veerkracht/web" && pwd)"
tmp="$(mktemp -d)"
cp "$web/package.json" "$tmp/"
(cd "$tmp" && npm install --silent --no-audit --no-fund)
cp "$tmp/node_modules/maplibre-gl/dist/maplibre-gl.js" "$tmp/node_modules/maplibre-gl/dist/maplibre-gl.css" "$web/vendor/"
cp "$tmp/node_modules/maplibre-gl/LICENSE.txt" "$web/vendor/LICENSE.maplibre-gl.txt"
cp "$tmp/node_modules/pmtiles/dist/pmtiles.js" "$web/vendor/"
# pmtiles ships no LICENSE file; vendor/LICENSE.pmtiles.txt states its BSD-3-Clause licence.
rm -rf "$tmp"
