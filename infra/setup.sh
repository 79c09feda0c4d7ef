#!/usr/bin/env bash
# Installs what GridWall needs on a fresh Debian machine of this kind, and nothing twice:
# Debian packages (ClickHouse server, Maven, a Java 17 runtime, Chromium for browser tests,
# a CJK font for the wall's labels, wrk for the gateway benchmark),
# then the project with its dev extras. The Kafka jars are resolved by `gridwall infra up`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
# Chinese labels on the wall render as boxes in the browser without a CJK font.
dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
  echo "== apt-get install ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "== pip install -e .[dev]"
python3 -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v "as the 'root' user" || true
# chDB embeds a current ClickHouse: tests/integration/test_chdb_dialect.py checks the
# migrations, the read-side queries and the ON CLUSTER DDL against it.
echo "== pip install chdb"
python3 -m pip install -q --disable-pip-version-check "chdb==4.4.0" 2>&1 | grep -v "as the 'root' user" || true
# import-linter checks the layer contracts of pyproject.toml ([tool.importlinter]) in .ci/run.
echo "== pip install import-linter"
python3 -m pip install -q --disable-pip-version-check "import-linter==2.16" 2>&1 | grep -v "as the 'root' user" || true
python3 -c "import gridwall, core, faust, clickhouse_driver, kafka, panel, pydeck, websockets, chdb, importlinter" \
  || { echo "setup: the Python packages did not install" >&2; exit 1; }
echo "== setup done"
