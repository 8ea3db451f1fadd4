#!/usr/bin/env bash
# The tree holds sources, not build outputs. Fails when a tracked file
#   - is an executable binary: ELF, or Mach-O (32- or 64-bit, either byte
#     order, or a fat/universal one), told by its magic bytes; or
#   - is larger than 1 MiB, unless the allow-list below names it.
#
#   bash .ci/tree.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

max=$((1 << 20))
# Large files that belong in the tree (bash patterns; * matches / too).
allow_large=(
	'docs/*.png'
)

# The first four bytes, as hex, of each kind of binary.
declare -A magic=(
	[7f454c46]="ELF executable"
	[feedface]="Mach-O executable (32-bit, big-endian)"
	[cefaedfe]="Mach-O executable (32-bit)"
	[feedfacf]="Mach-O executable (64-bit, big-endian)"
	[cffaedfe]="Mach-O executable (64-bit)"
	[cafebabe]="Mach-O universal (fat) binary"
	[cafebabf]="Mach-O universal (fat, 64-bit) binary"
)

large_ok() {
	local pat
	for pat in "${allow_large[@]}"; do
		# shellcheck disable=SC2053 # $pat is a pattern on purpose
		[[ $1 == $pat ]] && return 0
	done
	return 1
}

bad=()
checked=0
# Regular files only (mode 100644 or 100755): no symlinks, no submodules.
while IFS= read -r -d '' entry; do
	mode=${entry%% *} path=${entry#*$'\t'}
	[[ $mode == 100* ]] || continue
	[[ -f $path ]] || continue # deleted in this work tree, not yet in the index
	checked=$((checked + 1))
	head4=$(head -c 4 -- "$path" | od -An -tx1 | tr -d ' \n')
	if [[ -n ${magic[$head4]:-} ]]; then
		bad+=("$path: ${magic[$head4]}")
	fi
	size=$(wc -c <"$path" | tr -d ' ')
	if ((size > max)) && ! large_ok "$path"; then
		bad+=("$path: $size bytes, over 1 MiB and not in .ci/tree.sh's allow-list")
	fi
done < <(git ls-files -s -z)

if ((${#bad[@]})); then
	echo "tree: tracked files that do not belong in the tree (build outputs go in .gitignore):" >&2
	printf '  %s\n' "${bad[@]}" >&2
	exit 1
fi
echo "tree: $checked tracked files: no executable binary, none over 1 MiB outside the allow-list"
