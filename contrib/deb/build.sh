#!/usr/bin/env bash
# Builds the Debian package of intelmqd and intelmqctl from this workspace:
# release binaries (once), their man pages and shell completions (generated
# from the clap definitions by intelmqd-gen-docs), then `cargo deb --no-build
# --strip` (the release profile keeps line tables; the package does not).
# Prints the package's file list and, last, the path of the .deb
# (target/debian/intelmqd_<version>-1_<arch>.deb).
#
# Needs: cargo, dpkg-deb (Debian's dpkg), gzip. Installs cargo-deb when it is
# missing (`cargo install cargo-deb --locked`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if ! command -v cargo-deb >/dev/null 2>&1; then
    echo "=== installing cargo-deb"
    cargo install cargo-deb --locked
fi
command -v dpkg-deb >/dev/null || { echo "build.sh: dpkg-deb is missing (apt-get install dpkg)" >&2; exit 1; }

target=${CARGO_TARGET_DIR:-target}

echo "=== building the release binaries"
cargo build --release --locked -p intelmqd -p intelmqctl --bins

echo "=== generating the man pages and completions"
docs="$target/release/docs"
rm -rf "$docs"
"$target/release/intelmqd-gen-docs" "$docs" >/dev/null
gzip -9n "$docs"/man/*

echo "=== packaging"
cargo deb -p intelmqd --no-build --strip

deb=$(ls -t "$target"/debian/intelmqd_*.deb | head -n 1)
dpkg-deb -c "$deb"
echo "$deb"
