#!/usr/bin/env bash
# Install the Debian packages the test suite needs, if any is missing:
#   PostgreSQL + PostGIS (the PostGIS round-trip test starts its own server);
#   Chromium and CJK fonts (the maps are tested in headless Chromium; no tofu boxes);
#   GDAL's command-line tools (gdaldem, gdalwarp, gdalinfo check the raster module);
#   QGIS and its Python bindings (the GeoPackages are opened in real QGIS, headless).



# Needs root or sudo; without either it says what to install and goes on (those tests
# then skip with that reason outside CI, and fail in CI).
set -euo pipefail

pgv=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1 || true)
pgv=${pgv:-15}
want=("postgresql-$pgv" "postgresql-$pgv-postgis-3" chromium fonts-noto-cjk gdal-bin qgis python3-qgis)

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"
else
  echo "renewgeo: system packages missing: ${missing[*]} (no root/sudo to install them: apt-get install ${missing[*]})" >&2
  exit 0
fi
echo "renewgeo: installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
