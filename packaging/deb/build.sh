#!/bin/sh
# Builds the mystp2p .deb (make deb, make dist):
#
#	build.sh ARCH BINARY HOST-BINARY VERSION OUT.deb
#
# BINARY is the linux/ARCH mystp2p to install; HOST-BINARY is one that
# runs here, which writes the default provider config. Needs dpkg-deb.
set -eu
[ $# -eq 5 ] || { echo "usage: $0 ARCH BINARY HOST-BINARY VERSION OUT.deb" >&2; exit 2; }
arch=$1 bin=$2 host=$3 version=$4 out=$5
pkg=$(cd "$(dirname "$0")/.." && pwd)
top=$(dirname "$pkg")
root=$(mktemp -d)
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT

install -D -m 0755 "$bin" "$root/usr/bin/mystp2p"
install -D -m 0644 "$pkg/systemd/mystp2p-provider.service" "$root/lib/systemd/system/mystp2p-provider.service"
install -D -m 0644 "$top/LICENSE" "$root/usr/share/doc/mystp2p/copyright"

# The default config is what this very version's config init writes, with
# a note on how the service uses it.
install -d -m 0755 "$root/etc/mystp2p"
"$host" config init --role provider --config "$root/config.tmp" >/dev/null
{
	cat <<'NOTE'
# Installed by the mystp2p package for the mystp2p-provider service, which
# reads this file with --config /etc/mystp2p/config.toml and keeps its data
# in /var/lib/mystp2p. Set country, price-hour, price-gib and bootstrap in
# [provider] below, then follow /lib/systemd/system/mystp2p-provider.service.
# An upgrade keeps your changes (dpkg asks when the default changed too).
#
NOTE
	cat "$root/config.tmp"
} >"$root/etc/mystp2p/config.toml"
rm "$root/config.tmp"
chmod 0644 "$root/etc/mystp2p/config.toml"

install -d -m 0755 "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" "$pkg/deb/control" >"$root/DEBIAN/control"
install -m 0644 "$pkg/deb/conffiles" "$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do
	install -m 0755 "$pkg/deb/$s" "$root/DEBIAN/$s"
done
mkdir -p "$(dirname "$out")"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "built $out"
