#!/usr/bin/env bash
# Builds a headless pMARS 0.9.2 (the reference Core War simulator) into /opt/pmars/pmars from
# Debian's source package, for the differential tests of evoforge's MARS. Debian's binary package
# needs an X display. Best effort: any failure leaves those tests skipped, never failing CI.
set -euo pipefail
[ -x /opt/pmars/pmars ] && exit 0
[ "$(id -u)" = 0 ] || { echo "build_pmars: not root, skipping"; exit 0; }
work=$(mktemp -d)
list=/etc/apt/sources.list.d/evoforge-deb-src.list
trap 'rm -rf "$work"; rm -f "$list"' EXIT
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
echo "deb-src http://deb.debian.org/debian $codename main" > "$list"
opts=(-o Dir::Etc::sourcelist="$list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$work/lists")
mkdir -p "$work/lists/partial"
apt-get "${opts[@]}" update -qq >/dev/null
(cd "$work" && apt-get "${opts[@]}" source -qq --download-only pmars >/dev/null && dpkg-source -x pmars_*.dsc >/dev/null)
cd "$work"/pmars-*/src
sed -i 's/-DXWINGRAPHX/-DSERVER/; s/^LIB = .*/LIB =/' Makefile
make -s >/dev/null 2>&1
mkdir -p /opt/pmars
cp pmars /opt/pmars/pmars
echo "build_pmars: /opt/pmars/pmars built"
