#!/usr/bin/env bash
# Install the servers aqm needs on a Debian machine: Mosquitto and PostgreSQL
# with TimescaleDB, and the tools its tests and benchmarks drive (Chromium, wrk).
# Idempotent: when everything is present it exits at once.
#
# Debian 13 (trixie) ships postgresql-17-timescaledb as a binary package.
# Debian 12 (bookworm) has none, so TimescaleDB (Apache-licensed part) is built
# from Debian 13's source package against the installed PostgreSQL, using a
# private apt configuration that leaves the system's sources untouched.
set -euo pipefail

log() { printf '[install-services] %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1; }

have_all() {
    local v
    v=$(pg_version)
    [ -n "$v" ] \
        && [ -x "/usr/lib/postgresql/$v/bin/initdb" ] \
        && [ -f "/usr/lib/postgresql/$v/lib/timescaledb.so" ] \
        && command -v mosquitto >/dev/null 2>&1 \
        && command -v mosquitto_passwd >/dev/null 2>&1 \
        && command -v mosquitto_pub >/dev/null 2>&1 \
        && command -v curl >/dev/null 2>&1 \
        && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] \
        && command -v soffice >/dev/null 2>&1 \
        && command -v pdftoppm >/dev/null 2>&1 \
        && [ -d /usr/share/fonts/truetype/liberation ] \
        && [ -x /usr/bin/chromium ] \
        && [ -x /usr/bin/chromedriver ] \
        && command -v wrk >/dev/null 2>&1
}

if have_all; then
    log "Mosquitto and PostgreSQL $(pg_version) with TimescaleDB already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=0
apt_update() { if [ "$APT_UPDATED" -eq 0 ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi; }
apt_install() { apt_update; $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }

if ! command -v mosquitto >/dev/null 2>&1 || ! command -v mosquitto_pub >/dev/null 2>&1; then
    log "installing Mosquitto"
    apt_install mosquitto mosquitto-clients
fi

# RabbitMQ, the clustered broker option (docs/scaling.md): the tests start nodes of their
# own on free ports; the package's own service on 5672 is neither needed nor used.
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    log "installing RabbitMQ"
    apt_install rabbitmq-server
fi

# curl plays a datalogger in the FTP tests (an FTP client that is not Python's)
if ! command -v curl >/dev/null 2>&1; then
    log "installing curl"
    apt_install curl ca-certificates
fi
# The annual report's layout test converts the DOCX with LibreOffice and reads the PDF
# with poppler; Liberation Serif has the metrics of Times New Roman, the report's font.
if ! command -v soffice >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1 \
        || [ ! -d /usr/share/fonts/truetype/liberation ]; then
    log "installing LibreOffice Writer, poppler-utils and fonts-liberation"
    apt_install libreoffice-writer-nogui poppler-utils fonts-liberation
fi

# The public page is tested in a real browser (Debian's Chromium, driven through its
# DevTools protocol by Playwright or through chromedriver); wrk loads aqm web in bench/.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    log "installing Chromium and chromium-driver"
    apt_install chromium chromium-driver
fi
if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    apt_install wrk
fi

if [ -z "$(pg_version)" ]; then
    apt_update
    if apt-cache show postgresql-17-timescaledb >/dev/null 2>&1; then
        log "installing PostgreSQL 17 with the TimescaleDB binary package"
        apt_install postgresql-17 postgresql-17-timescaledb
    else
        log "installing PostgreSQL from Debian"
        apt_install postgresql
    fi
fi

PGV=$(pg_version)
if [ -f "/usr/lib/postgresql/$PGV/lib/timescaledb.so" ]; then
    log "TimescaleDB present for PostgreSQL $PGV"
    exit 0
fi

apt_update
if apt-cache show "postgresql-$PGV-timescaledb" >/dev/null 2>&1; then
    log "installing postgresql-$PGV-timescaledb"
    apt_install "postgresql-$PGV-timescaledb"
    exit 0
fi

log "building TimescaleDB (Apache-licensed part) for PostgreSQL $PGV from Debian 13's source package"
apt_install "postgresql-server-dev-$PGV" cmake build-essential libssl-dev xz-utils ca-certificates
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
printf 'deb-src http://deb.debian.org/debian trixie main\n' > "$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
apt-get "${apt_opts[@]}" update -qq
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only timescaledb >/dev/null && tar xf timescaledb_*.orig.tar.*)
src=$(find "$work" -maxdepth 1 -type d -name 'timescaledb-*' | head -1)
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release \
    -DPG_CONFIG="/usr/lib/postgresql/$PGV/bin/pg_config" \
    -DAPACHE_ONLY=1 -DSEND_TELEMETRY_DEFAULT=OFF -DUSE_TELEMETRY=OFF \
    -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF >/dev/null
make -C "$src/build" -j"$(nproc)" >/dev/null
$SUDO make -C "$src/build" install >/dev/null
log "TimescaleDB built and installed for PostgreSQL $PGV"
