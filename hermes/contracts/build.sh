#!/usr/bin/env bash
# Regenerates the ABI, bytecode and Go bindings of the hermes contracts
# (FailingToken is for tests only).
# Pinned: solc 0.8.28 (npm, package-lock.json) and abigen v1.17.10.
# Output is deterministic: running this twice gives byte-identical files.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x node_modules/.bin/solcjs ]; then
	npm ci --no-audit --no-fund --silent
fi
version=$(node_modules/.bin/solcjs --version)
case "$version" in
0.8.28+*) ;;
*)
	echo "build.sh: solcjs is $version, want 0.8.28" >&2
	exit 1
	;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

node_modules/.bin/solcjs --bin --abi --optimize --base-path src -o "$tmp" src/TestToken.sol src/Registry.sol src/FailingToken.sol

mkdir -p build bindings
for c in TestToken Registry FailingToken; do
	cp "$tmp/${c}_sol_${c}.abi" "build/$c.abi"
	cp "$tmp/${c}_sol_${c}.bin" "build/$c.bin"
	lower=$(echo "$c" | tr '[:upper:]' '[:lower:]')
	(cd ../.. && go run github.com/ethereum/go-ethereum/cmd/abigen@v1.17.10 --v2 \
		--abi "hermes/contracts/build/$c.abi" --bin "hermes/contracts/build/$c.bin" \
		--pkg bindings --type "$c" --out "hermes/contracts/bindings/$lower.go")
done
