#!/usr/bin/env bash
# test_tools.sh - vmoctl against a real vmofs mount (SPEC sections 2, 4, 7).
#
# Invariant: vmoctl is a thin client.  Whatever it prints matches what the
# info file and the user.vmo.* xattrs say, and whatever it does is the
# mkdir or setfattr its man page names.  Usage errors exit 2, failed
# operations exit 1, each with one "vmoctl: CMD: ..." line.
. "$(dirname "$0")/lib.sh"

VC=$VMOCTL_BIN

# ---- no mount needed ----

test_usage_and_version() {
	local c top
	vt_run "$VC" --help
	top=$VT_OUT
	vt_contains "$top" "Usage: vmoctl"
	for c in info tree list stats clone slice ref contig commit decommit \
		zero pin unpin prefetch dontneed alwaysneed; do
		vt_contains "$top" "  $c " "vmoctl --help lists $c"
		vt_run "$VC" "$c" --help
		vt_contains "$VT_OUT" "Usage: vmoctl $c" "vmoctl $c --help"
		vt_run "$VC" help "$c"
		vt_contains "$VT_OUT" "Usage: vmoctl $c" "vmoctl help $c"
	done
	vt_run "$VC" --version
	vt_contains "$VT_OUT" "vmoctl"
}

# usage_error STATUS TEXT ARGS...: vmoctl ARGS exits STATUS printing TEXT.
usage_error() {
	local want=$1 text=$2
	shift 2
	vt_fails "$text" "$VC" "$@"
	vt_eq "$want" "$VT_RC" "exit status of vmoctl $*"
}

test_usage_errors() {
	usage_error 2 "missing COMMAND"
	usage_error 2 "unknown command 'frob'" frob
	usage_error 2 "unknown option '--frob'" info --frob /x
	usage_error 2 "missing argument" info
	usage_error 2 "missing argument" slice /x s
	usage_error 2 "missing argument" ref /x
	usage_error 2 "unexpected argument '0+4K'" ref /x r 0+4K
	usage_error 2 "invalid NAME 'r@0+4K'" ref /x r@0+4K
	usage_error 2 "missing argument" contig /x c
	usage_error 2 "invalid SIZE '0'" contig /x c 0
	usage_error 2 "invalid SIZE '1Q'" contig /x c 1Q
	usage_error 2 "unexpected argument 'extra'" info /x extra
	# lock, trylock, unlock take the whole VMO: no RANGE
	usage_error 2 "unexpected argument '0+4K'" lock /x 0+4K
	usage_error 2 "unexpected argument 'all'" unlock /x all
	usage_error 2 "--json applies to info, tree, list and stats" clone --json /x c
	usage_error 2 "--bytes applies to info, tree, list and stats" clone --bytes /x c
	usage_error 2 "--bytes applies to info, tree, list and stats" commit -H /x
	usage_error 2 "--aolw applies to clone only" slice --aolw /x s 0+4K
	usage_error 2 "--modified applies to clone only" info --modified /x
	usage_error 2 "--aolw and --modified: one kind per clone" \
		clone --aolw --modified /x c
	usage_error 2 "invalid RANGE '1+'" commit /x 1+
	usage_error 2 "invalid RANGE '0+1Q'" commit /x 0+1Q
	usage_error 2 "invalid RANGE '0x+1'" zero /x 0x+1
	usage_error 2 "invalid RANGE '4096'" pin /x 4096
	usage_error 2 "invalid RANGE '-1+4'" commit /x -- -1+4
	usage_error 2 "invalid RANGE '18446744073709551615+1'" \
		commit /x 18446744073709551615+1
	usage_error 2 "OFFSET must be a multiple of the page size" \
		slice /x s 100+4K
	usage_error 2 "a slice needs OFFSET+LENGTH" slice /x s all
	usage_error 2 "invalid NAME 'a/b'" clone /x a/b
	usage_error 2 "invalid NAME 'c@0+4K'" clone /x c@0+4K
	# A well-formed command on a missing path: exit 1, one clear line.
	usage_error 1 "vmoctl: clone: /nonexistent/vmo: No such file or directory" \
		clone /nonexistent/vmo c
	usage_error 1 "vmoctl: info: /nonexistent: No such file or directory" \
		info /nonexistent
	usage_error 1 "vmoctl: commit: /nonexistent: No such file or directory" \
		commit /nonexistent 0+4K
	usage_error 1 "not a VMO directory" info /tmp
}

# ---- against a mount ----

# kv_of TEXT KEY: the value of "KEY: value" in TEXT.
kv_of() {
	printf '%s\n' "$1" | sed -n "s/^$2: *//p"
}

test_info_matches_xattrs() {
	local k out val
	vt_mount -o size=64M
	mkdir "$MNT/a"
	head -c 8292 /dev/urandom >"$MNT/a/data"
	vt_run "$VC" info --bytes "$MNT/a"
	out=$VT_OUT
	vt_eq "$MNT/a" "$(kv_of "$out" path)" "path"
	vt_eq anonymous "$(kv_of "$out" kind)" "kind"
	vt_eq 8292 "$(kv_of "$out" size)" "size"
	for k in id kind parent size committed populated private scaled \
		pinned children; do
		val=$(vt_xattr "$MNT/a/data" "user.vmo.$k")
		vt_eq "$val" "$(kv_of "$out" "$k")" "info $k vs user.vmo.$k"
		vt_eq "$val" "$(vt_info "$MNT/a" "$k")" "info file $k"
	done
	# The data file names the same VMO; human units without --bytes.
	vt_run "$VC" info --bytes "$MNT/a/data"
	vt_eq "$out" "$VT_OUT" "info of the data file"
	vt_run "$VC" info "$MNT/a/"
	vt_contains "$VT_OUT" "size:      8.1K (8292)"
	# -H is --bytes (exact counts for scripts), and so is -b.
	vt_run "$VC" info -H "$MNT/a"
	vt_eq "$out" "$VT_OUT" "info -H"
	vt_run "$VC" -b info "$MNT/a"
	vt_eq "$out" "$VT_OUT" "info -b"
	# JSON: numbers are numbers.
	"$VC" info --json "$MNT/a" >info.json
	vt_json info.json
	vt_eq 8292 "$(vt_json_get info.json 'j["size"]')" "json size"
	vt_eq anonymous "$(vt_json_get info.json 'j["kind"]')" "json kind"
	vt_eq a "$(vt_json_get info.json 'j["name"]')" "json name"
	vt_eq True "$(vt_json_get info.json 'isinstance(j["committed"], int)')"
	# A clone names its parent.
	"$VC" clone "$MNT/a" c
	vt_run "$VC" info --bytes "$MNT/a/clones/c"
	vt_eq clone "$(kv_of "$VT_OUT" kind)" "clone kind"
	vt_eq "$(vt_xattr "$MNT/a/data" user.vmo.id)" \
		"$(kv_of "$VT_OUT" parent)" "clone parent"
}

test_clone_and_slice() {
	vt_mount -o size=64M
	mkdir "$MNT/a"
	head -c 65536 /dev/urandom >"$MNT/a/data"
	# Whole clone: same bytes.
	vt_run "$VC" clone "$MNT/a" c
	[ -d "$MNT/a/clones/c" ] || vt_fail "a/clones/c missing"
	cmp "$MNT/a/data" "$MNT/a/clones/c/data"
	# Ranged clone, SRC given as the data file, hex and suffixed ranges.
	vt_run "$VC" clone "$MNT/a/data" w 8K+8K
	vt_eq 8192 "$(vt_size "$MNT/a/clones/w/data")" "window clone size"
	cmp -n 8192 -i 8192:0 "$MNT/a/data" "$MNT/a/clones/w/data"
	vt_run "$VC" clone "$MNT/a" h 0x1000+0x1000
	cmp -n 4096 -i 4096:0 "$MNT/a/data" "$MNT/a/clones/h/data"
	# A clone of a clone.
	vt_run "$VC" clone "$MNT/a/clones/c" cc
	cmp "$MNT/a/data" "$MNT/a/clones/c/clones/cc/data"
	vt_eq clone "$(vt_xattr "$MNT/a/clones/c/clones/cc/data" user.vmo.kind)"
	# Slice: shares pages both ways.
	vt_run "$VC" slice "$MNT/a" s 4K+8K
	vt_eq 8192 "$(vt_size "$MNT/a/slices/s/data")" "slice size"
	vt_eq slice "$(vt_xattr "$MNT/a/slices/s/data" user.vmo.kind)"
	printf 'through-the-slice' | dd of="$MNT/a/slices/s/data" conv=notrunc status=none
	vt_eq through-the-slice "$(dd if="$MNT/a/data" bs=1 skip=4096 count=17 status=none)" \
		"slice write seen by the parent"
	# Errors from the daemon: exit 1, "vmoctl: CMD: PATH: reason".
	vt_fails "vmoctl: clone: $MNT/a/clones/c: File exists" "$VC" clone "$MNT/a" c
	vt_eq 1 "$VT_RC"
	vt_fails "Invalid argument" "$VC" slice "$MNT/a" big 0+1G
	vt_eq 1 "$VT_RC"
	vt_fails "not a VMO directory" "$VC" clone "$MNT" x
	vt_eq 1 "$VT_RC"
	# Reference: all of SRC's pages and its size, both ways.
	vt_run "$VC" ref "$MNT/a/data" r
	vt_eq reference "$(vt_xattr "$MNT/a/refs/r/data" user.vmo.kind)"
	cmp "$MNT/a/data" "$MNT/a/refs/r/data"
	truncate -s 100K "$MNT/a/refs/r/data"
	vt_eq 102400 "$(vt_size "$MNT/a/data")" "truncate through the reference"
	printf 'through-the-ref' | dd of="$MNT/a/refs/r/data" conv=notrunc status=none
	vt_eq through-the-ref "$(head -c 15 "$MNT/a/data")" "reference write seen by SRC"
	vt_run "$VC" ref "$MNT/a/refs/r" rr
	vt_eq "$(vt_xattr "$MNT/a/refs/r/data" user.vmo.id)" \
		"$(vt_xattr "$MNT/a/refs/r/refs/rr/data" user.vmo.parent)" "ref of a ref"
	vt_fails "vmoctl: ref: $MNT/a/refs/r: File exists" "$VC" ref "$MNT/a" r
	vt_eq 1 "$VT_RC"
	mkdir "$MNT/d~discardable"
	vt_fails "Operation not supported" "$VC" ref "$MNT/d" r
	vt_eq 1 "$VT_RC"
	# Contiguous: committed and pinned from the start; lends what it decommits.
	vt_run "$VC" contig "$MNT" k 64K
	vt_eq 65536 "$(vt_xattr "$MNT/k/data" user.vmo.pinned)" "contig pinned"
	vt_eq 65536 "$(vt_size "$MNT/k/data")" "contig size"
	vt_run "$VC" decommit "$MNT/k"
	vt_eq 16 "$(vt_xattr "$MNT" user.vmofs.stats | sed -n 's/^lent_pages: //p')" "lent pages"
	vt_run "$VC" commit "$MNT/k"
	vt_eq 0 "$(vt_xattr "$MNT" user.vmofs.stats | sed -n 's/^lent_pages: //p')" "lent pages back"
	vt_fails "Operation not supported" "$VC" clone "$MNT/k" c
	vt_fails "No space left on device" "$VC" contig "$MNT" big 1G
	vt_eq 1 "$VT_RC"
}

# vmoctl clone --aolw / --modified: mkdir clones/NAME~aolw / ~modified.
test_clone_kinds() {
	vt_mount -o size=64M
	mkdir "$MNT/a"
	head -c 16384 /dev/urandom >"$MNT/a/data"
	vt_run "$VC" clone --aolw "$MNT/a" live
	vt_run "$VC" clone "$MNT/a" --modified mod 0+8K
	vt_eq "live mod" "$(ls "$MNT/a/clones" | sort | tr '\n' ' ' | sed 's/ $//')" "clone names without the kind"
	cp "$MNT/a/data" "$VT_WORK/before"
	printf 'parent-writes' | dd of="$MNT/a/data" conv=notrunc status=none
	vt_eq parent-writes "$(head -c 13 "$MNT/a/clones/live/data")" "aolw clone sees the parent's write"
	cmp -n 8192 "$VT_WORK/before" "$MNT/a/clones/mod/data"
	vt_fails "Operation not supported" "$VC" clone "$MNT/a/clones/live" s
	vt_eq 1 "$VT_RC"
	vt_run "$VC" clone --aolw "$MNT/a/clones/live" l2
	vt_eq clone "$(vt_xattr "$MNT/a/clones/live/clones/l2/data" user.vmo.kind)"
}

test_range_actions() {
	local c
	vt_mount -o size=64M
	mkdir "$MNT/a"
	truncate -s 1M "$MNT/a/data"
	vt_eq 0 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "committed after truncate"
	vt_run "$VC" commit "$MNT/a" 0+64K
	vt_eq 65536 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "committed 0+64K"
	vt_run "$VC" commit "$MNT/a"
	vt_eq 1048576 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "committed all"
	vt_run "$VC" decommit "$MNT/a/data" 0+64K
	vt_eq 983040 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "after decommit"
	cmp -n 65536 "$MNT/a/data" /dev/zero
	# zero: byte-exact.
	vt_pattern pat 16384 z
	cp pat "$MNT/a/data"
	vt_run "$VC" zero "$MNT/a" 100+50
	cp pat want
	dd if=/dev/zero of=want bs=1 seek=100 count=50 conv=notrunc status=none
	cmp want "$MNT/a/data"
	# pin holds pages; decommit of a pinned range is EBUSY.
	vt_run "$VC" pin "$MNT/a" 0+8K
	vt_eq 8192 "$(vt_xattr "$MNT/a/data" user.vmo.pinned)" "pinned"
	vt_fails "vmoctl: decommit: $MNT/a: Device or resource busy" \
		"$VC" decommit "$MNT/a" 0+4K
	vt_eq 1 "$VT_RC"
	vt_run "$VC" unpin "$MNT/a" 0+8K
	vt_eq 0 "$(vt_xattr "$MNT/a/data" user.vmo.pinned)" "unpinned"
	vt_run "$VC" decommit "$MNT/a" 0+4K
	# The hints are accepted on a whole VMO and on a range.
	for c in prefetch alwaysneed dontneed; do
		vt_run "$VC" "$c" "$MNT/a"
		vt_run "$VC" "$c" "$MNT/a" 4K+4K
	done
	# Past the end: the daemon's EINVAL, exit 1.
	vt_fails "vmoctl: commit: $MNT/a: Invalid argument" "$VC" commit "$MNT/a" 1G+4K
	vt_eq 1 "$VT_RC"
	# Same as setfattr: "", "all" and a range.
	setfattr -n user.vmo.decommit -v "" "$MNT/a/data"
	vt_eq 0 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "decommit ''"
	setfattr -n user.vmo.commit -v all "$MNT/a/data"
	vt_eq 16384 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "commit all"
}

# tree_names OUTPUT: the tree column (prefix and name) of each VMO line.
tree_names() {
	printf '%s\n' "$1" | awk 'NR >= 3 && $0 == "" { exit } NR >= 3' |
		sed -n 's/^\([│├└─ ]*[^ ]\{1,\}\) .*/\1/p'
}

test_tree() {
	local out want
	vt_mount -o size=64M
	vt_run "$VC" tree "$MNT"
	vt_contains "$VT_OUT" "0 VMOs" "empty tree"
	mkdir "$MNT/a" "$MNT/b"
	head -c 65536 /dev/urandom >"$MNT/a/data"
	mkdir "$MNT/a/clones/c"
	mkdir "$MNT/a/clones/c/clones/cc"
	mkdir "$MNT/a/slices/s@0+4K"
	printf x | dd of="$MNT/a/clones/c/data" conv=notrunc status=none
	vt_run "$VC" tree "$MNT"
	out=$VT_OUT
	vt_eq "NAME" "$(printf '%s\n' "$out" | head -1 | cut -c1-4)" "header"
	vt_eq "$MNT" "$(printf '%s\n' "$out" | sed -n 2p)" "root line"
	want=$(printf '%s\n' "├── a" "│   ├── c" "│   │   └── cc" "│   └── s" "└── b")
	vt_eq "$want" "$(tree_names "$out")" "tree shape"
	vt_contains "$out" "5 VMOs"
	vt_eq anonymous "$(printf '%s\n' "$out" | grep '── a ' | awk '{print $3}')" "a kind"
	vt_eq clone "$(printf '%s\n' "$out" | grep '── cc ' | awk '{print $5}')" "cc kind"
	vt_eq slice "$(printf '%s\n' "$out" | grep '── s ' | awk '{print $4}')" "s kind"
	vt_eq 64.0K "$(printf '%s\n' "$out" | grep '── a ' | awk '{print $4}')" "a size"
	# --bytes: exact, and the columns are size committed private scaled.
	vt_run "$VC" tree --bytes "$MNT"
	vt_eq "65536 $(vt_xattr "$MNT/a/data" user.vmo.committed) $(vt_xattr "$MNT/a/data" user.vmo.private) $(vt_xattr "$MNT/a/data" user.vmo.scaled)" \
		"$(printf '%s\n' "$VT_OUT" | grep '── a ' | awk '{print $4, $5, $6, $7}')" \
		"a's columns with --bytes"
	# A VMO directory: its subtree only, hanging from its own row.
	vt_run "$VC" tree "$MNT/a/clones/c"
	vt_eq "$MNT/a/clones/c" "$(printf '%s\n' "$VT_OUT" | sed -n 2p | awk '{print $1}')" \
		"subtree root line"
	vt_eq clone "$(printf '%s\n' "$VT_OUT" | sed -n 2p | awk '{print $2}')" \
		"subtree root's kind"
	want=$(printf '%s\n' "└── cc")
	vt_eq "$want" "$(tree_names "$VT_OUT")" "subtree shape"
	# JSON: clones and slices arrays, numbers from the xattrs.
	"$VC" tree --json "$MNT" >tree.json
	vt_json tree.json
	vt_eq "['a', 'b']" "$(vt_json_get tree.json '[k["name"] for k in j["vmos"]]')"
	vt_eq "['c']" "$(vt_json_get tree.json '[k["name"] for k in j["vmos"][0]["clones"]]')"
	vt_eq "['s']" "$(vt_json_get tree.json '[k["name"] for k in j["vmos"][0]["slices"]]')"
	vt_eq "['cc']" "$(vt_json_get tree.json '[k["name"] for k in j["vmos"][0]["clones"][0]["clones"]]')"
	vt_eq 2 "$(vt_json_get tree.json 'j["vmos"][0]["children"]')" "a's children"
	vt_eq "$(vt_xattr "$MNT/a/clones/c/data" user.vmo.private)" \
		"$(vt_json_get tree.json 'j["vmos"][0]["clones"][0]["private"]')" "c private"
	vt_eq "$MNT/a/clones/c/clones/cc" \
		"$(vt_json_get tree.json 'j["vmos"][0]["clones"][0]["clones"][0]["path"]')"
	# References come last, in their own "refs" array.
	mkdir "$MNT/b/refs/r"
	vt_run "$VC" tree "$MNT/b"
	vt_eq "$(printf '%s\n' "└── r")" "$(tree_names "$VT_OUT")" "a reference in the tree"
	vt_eq reference "$(printf '%s\n' "$VT_OUT" | grep '── r ' | awk '{print $3}')" "r kind"
	"$VC" tree --json "$MNT" >tree.json
	vt_eq "['r']" "$(vt_json_get tree.json '[k["name"] for k in j["vmos"][1]["refs"]]')"
	vt_eq "[]" "$(vt_json_get tree.json 'j["vmos"][0]["refs"]')"
}

# Regression (vmoctl tree b printed b twice: as the root line, then as
# the one VMO below it): a VMO directory given to tree is its first line,
# once, with its numbers.
test_tree_vmo_root_once() {
	vt_mount -o size=64M
	mkdir "$MNT/b"
	cd "$MNT"
	vt_run "$VC" tree b
	vt_eq 1 "$(printf '%s\n' "$VT_OUT" | grep -c '\bb\b')" "lines naming b in:"$'\n'"$VT_OUT"
	vt_eq "b anonymous 0 0 0 0" "$(printf '%s\n' "$VT_OUT" | sed -n 2p | tr -s ' ')" "b's row"
	vt_contains "$VT_OUT" "1 VMO"
	cd "$VT_WORK"
}

# Regression (vmoctl slice --help said RANGE defaults to the whole VMO,
# but a slice needs a RANGE and refuses "all"): the help says so; clone's
# help keeps the default, which clone has.
test_slice_help_default() {
	vt_run "$VC" slice --help
	case $VT_OUT in *"also the default"*) vt_fail "slice --help claims a default RANGE:"$'\n'"$VT_OUT" ;; esac
	vt_contains "$VT_OUT" 'A slice needs a RANGE: it has no default, and "all" is refused.'
	vt_fails "a slice needs OFFSET+LENGTH" "$VC" slice /x s all
	vt_run "$VC" clone --help
	vt_contains "$VT_OUT" "also the default"
}

# list: one aligned row per VMO, parents first, the values of the info
# files, shared = committed - private; exact with --bytes (-H); JSON flat.
test_list() {
	local out row k
	vt_mount -o size=64M
	mkdir "$MNT/a" "$MNT/b"
	head -c 65536 /dev/urandom >"$MNT/a/data"
	mkdir "$MNT/a/clones/c" "$MNT/a/slices/s@0+8K"
	printf x | dd of="$MNT/a/clones/c/data" conv=notrunc status=none
	vt_run "$VC" list "$MNT"
	out=$VT_OUT
	vt_eq "PATH KIND SIZE COMMITTED PRIVATE SHARED SCALED CHILDREN" \
		"$(printf '%s\n' "$out" | head -1 | tr -s ' ')" "header"
	vt_eq "$(printf '%s\n' "$MNT/a" "$MNT/a/clones/c" "$MNT/a/slices/s" "$MNT/b")" \
		"$(printf '%s\n' "$out" | sed 1d | awk '{print $1}')" "rows"
	# Aligned: every row as long as the header (no multi-byte characters).
	vt_eq 1 "$(printf '%s\n' "$out" | awk '{print length}' | sort -u | wc -l)" \
		"row widths in:"$'\n'"$out"
	vt_eq "64.0K" "$(printf '%s\n' "$out" | awk -v p="$MNT/a" '$1 == p {print $3}')" "a's size"
	vt_run "$VC" list -H "$MNT"
	for k in a a/clones/c a/slices/s b; do
		row=$(printf '%s\n' "$VT_OUT" | awk -v p="$MNT/$k" '$1 == p')
		vt_eq "$(vt_info "$MNT/$k" kind) $(vt_info "$MNT/$k" size) $(vt_info "$MNT/$k" committed) $(vt_info "$MNT/$k" private) $(($(vt_info "$MNT/$k" committed) - $(vt_info "$MNT/$k" private))) $(vt_info "$MNT/$k" scaled) $(vt_info "$MNT/$k" children)" \
			"$(printf '%s\n' "$row" | awk '{print $2, $3, $4, $5, $6, $7, $8}')" "$k's row with -H"
	done
	vt_run "$VC" list --bytes "$MNT"
	vt_eq "$(printf '%s\n' "$VT_OUT")" "$("$VC" list -H "$MNT")" "--bytes is -H"
	# From the mount point: paths relative to it; a VMO: its subtree.
	cd "$MNT"
	vt_run "$VC" list .
	vt_eq "$(printf '%s\n' a a/clones/c a/slices/s b)" \
		"$(printf '%s\n' "$VT_OUT" | sed 1d | awk '{print $1}')" "rows of list ."
	vt_run "$VC" list a/clones/c
	vt_eq "a/clones/c" "$(printf '%s\n' "$VT_OUT" | sed 1d | awk '{print $1}')" "list of a VMO"
	cd "$VT_WORK"
	"$VC" list --json "$MNT" >list.json
	vt_json list.json
	vt_eq "['a', 'c', 's', 'b']" "$(vt_json_get list.json '[v["name"] for v in j["vmos"]]')"
	vt_eq "$MNT/a/slices/s" "$(vt_json_get list.json 'j["vmos"][2]["path"]')"
	vt_eq True "$(vt_json_get list.json 'all(v["shared"] == v["committed"] - v["private"] for v in j["vmos"])')" \
		"shared = committed - private"
}

# JSON keys mean the same in every command (tree once had two "children"
# in each VMO object, the count and the array): no object repeats a key,
# every VMO object of info, tree and list has the same keys, "children"
# is the number of child VMOs everywhere, and tree's arrays are "clones"
# and "slices".
test_json_keys() {
	local keys
	vt_need python3
	vt_mount -o size=64M
	mkdir "$MNT/a"
	head -c 8192 /dev/urandom >"$MNT/a/data"
	mkdir "$MNT/a/clones/c" "$MNT/a/slices/s@0+4K"
	"$VC" info --json "$MNT/a" >info.json
	"$VC" tree --json "$MNT" >tree.json
	"$VC" list --json "$MNT" >list.json
	"$VC" stats --json "$MNT" >stats.json
	python3 - info.json tree.json list.json stats.json <<'PY'
import json, sys
def nodup(pairs):
    keys = [k for k, _ in pairs]
    dups = {k for k in keys if keys.count(k) > 1}
    assert not dups, "repeated keys %s" % sorted(dups)
    return dict(pairs)
docs = [json.load(open(f), object_pairs_hook=nodup) for f in sys.argv[1:]]
info, tree, lst, stats = docs
want = ["name", "path", "id", "kind", "parent", "size", "committed",
        "populated", "private", "shared", "scaled", "pinned", "children"]
assert list(info) == want, "info keys %s" % list(info)
def walk(v):
    yield v
    for k in v["clones"] + v["slices"] + v["refs"]:
        yield from walk(k)
tvmos = [x for v in tree["vmos"] for x in walk(v)]
for v in tvmos:
    assert list(v) == want + ["clones", "slices", "refs"], "tree keys %s" % list(v)
    assert v["children"] == len(v["clones"]) + len(v["slices"]) + len(v["refs"]), v["name"]
for v in lst["vmos"]:
    assert list(v) == want, "list keys %s" % list(v)
assert [v["path"] for v in tvmos] == [v["path"] for v in lst["vmos"]]
assert list(tree) == ["path", "vmos"] and list(lst) == ["path", "vmos"]
assert all(isinstance(x, int) for x in stats.values())
PY
}


# committed BYTES: user.vmo.committed of $MNT/a.
committed() { vt_xattr "$MNT/a/data" user.vmo.committed; }

# Long range actions go in 64 MiB chunks: a progress bar on a terminal
# (stderr) and nothing off one; the chunks do exactly what the range
# would; a range past the end is still one request, refused whole; a
# failure part way says how far it got.
test_progress_chunks() {
	vt_need script
	vt_mount -o size=256M
	mkdir "$MNT/a"
	truncate -s 1G "$MNT/a/data"
	"$VC" prefetch "$MNT/a" 2>err
	vt_eq "" "$(cat err)" "stderr of a long prefetch off a terminal"
	script -qec "$VC prefetch $MNT/a 0+1G" /dev/null >tty.out </dev/null
	vt_contains "$(cat tty.out)" "vmoctl: prefetch: [" "progress bar on a terminal"
	vt_contains "$(cat tty.out)" "100% 1.0G of 1.0G" "progress bar at the end"
	vt_run "$VC" commit "$MNT/a" 4K+70M
	vt_eq $((70 * 1048576)) "$(committed)" "committed by 4K+70M in chunks"
	vt_run "$VC" decommit "$MNT/a"
	vt_eq 0 "$(committed)" "committed after a chunked decommit of all"
	vt_fails "vmoctl: commit: $MNT/a: Invalid argument" "$VC" commit "$MNT/a" 512M+600M
	vt_eq 0 "$(committed)" "committed after a refused range past the end"
	# A pin in the second chunk's way: the first chunk is done, and said so.
	vt_run "$VC" pin "$MNT/a" 100M+4K
	vt_fails "Device or resource busy (a pinned range is in the way; done: 64.0M of 200.0M)" \
		"$VC" decommit "$MNT/a" 0+200M
	vt_eq 1 "$VT_RC"
	vt_run "$VC" unpin "$MNT/a" 100M+4K
}

# comp WORD...: what the bash completion offers for the command line
# WORD... (the last word is the one being completed), one per line.
comp() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_vmoctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$VT_ROOT/dist/vmoctl.bash" "$@"
}

# dist/vmoctl.bash: the commands and options of vmoctl --help, VMO paths,
# "all" for a RANGE, and vmofs mount points for tree, list and stats.
test_bash_completion() {
	local want got
	vt_run "$VC" --help
	want=$(printf '%s\n' "$VT_OUT" | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 {print $1}' | sort)
	got=$(comp vmoctl "" | grep -vx help | sort)
	vt_eq "$want" "$got" "commands completed vs vmoctl --help"
	want=$(printf '%s\n' "$VT_OUT" | sed -n '/^Options:/,/^$/p' | grep -Eo '(^|[ ,])--?[A-Za-z]+' | tr -d ' ,' | sort -u)
	got=$(comp vmoctl - | sort)
	vt_eq "$want" "$got" "options completed vs vmoctl --help"
	vt_eq "$(printf '%s\n' clone contig commit)" "$(comp vmoctl -j c)" "vmoctl -j c<TAB>"
	vt_eq "$(printf '%s\n' slice stats)" "$(comp vmoctl help s | sort)" "vmoctl help s<TAB>"
	vt_eq ref "$(comp vmoctl re)" "vmoctl re<TAB>"
	vt_mount -o size=16M
	mkdir "$MNT/a" "$MNT/a/clones/c"
	vt_eq "$MNT/a" "$(comp vmoctl info "$MNT/")" "vmoctl info MNT/<TAB>"
	vt_eq "$(printf '%s\n' "$MNT/a/clones" "$MNT/a/slices" "$MNT/a/data" "$MNT/a/info" | sort)" \
		"$(comp vmoctl commit "$MNT/a/" | sort)" "vmoctl commit MNT/a/<TAB>"
	vt_eq all "$(comp vmoctl commit "$MNT/a" "")" "vmoctl commit PATH <TAB>"
	vt_eq "" "$(comp vmoctl clone "$MNT/a" "")" "vmoctl clone SRC <TAB> (a new NAME)"
	vt_contains "$(comp vmoctl stats "")" "$MNT" "vmoctl stats <TAB>"
}

# make install DESTDIR=D puts every file under D (programs, man pages,
# systemd unit, bash completion, and the /usr/sbin/vmofs link naming
# PREFIX/bin/vmofs) and writes nothing else, not even build/, given
# built programs; make uninstall DESTDIR=D removes them all, but a
# /usr/sbin/vmofs that is not its own link.
test_make_install() {
	local o dest want got
	vt_need make install
	o=$(cd "$(dirname "$VMOFS_BIN")" && pwd)
	[ "$(cd "$(dirname "$VMOCTL_BIN")" && pwd)" = "$o" ] ||
		vt_skip "VMOFS_BIN and VMOCTL_BIN are in different directories"
	dest=$(mktemp -d "$VT_WORK/destdir.XXXXXX")
	touch "$VT_WORK/before"
	sleep 1.1	# whole seconds, for find -newer on any filesystem
	make -s -C "$VT_ROOT" O="$o" -o "$o/vmofs" -o "$o/vmoctl" \
		install DESTDIR="$dest" PREFIX=/usr/local >make.out 2>&1 ||
		vt_fail "make install failed: $(cat make.out)"
	want=$(printf '%s\n' \
		"usr/local/bin/vmoctl" "usr/local/bin/vmofs" \
		"usr/local/lib/systemd/system/mnt-vmofs.mount" \
		"usr/local/share/bash-completion/completions/vmoctl" \
		"usr/local/share/man/man1/vmoctl.1" "usr/local/share/man/man1/vmofs.1" \
		"usr/sbin/vmofs -> /usr/local/bin/vmofs")
	got=$(cd "$dest" && find . \( -type f -o -type l \) -printf '%P%l\n' |
		sed 's|^\(usr/sbin/vmofs\)/|\1 -> /|' | sort)
	vt_eq "$want" "$got" "files installed under DESTDIR"
	cmp "$VMOFS_BIN" "$dest/usr/local/bin/vmofs"
	vt_eq 755 "$(stat -c %a "$dest/usr/local/bin/vmoctl")" "mode of vmoctl"
	vt_eq "" "$(find "$VT_ROOT" "$o" /usr/local /usr/sbin -newer "$VT_WORK/before" \
		-not -path '*/.git/*' -print 2>/dev/null | head)" "written outside DESTDIR"
	make -s -C "$VT_ROOT" O="$o" uninstall DESTDIR="$dest" PREFIX=/usr/local >make.out 2>&1 ||
		vt_fail "make uninstall failed: $(cat make.out)"
	vt_eq "" "$(cd "$dest" && find . -type f -o -type l)" "files left after uninstall"
	ln -s /opt/other/vmofs "$dest/usr/sbin/vmofs"
	make -s -C "$VT_ROOT" O="$o" uninstall DESTDIR="$dest" PREFIX=/usr/local >make.out 2>&1
	vt_eq /opt/other/vmofs "$(readlink "$dest/usr/sbin/vmofs")" "a foreign /usr/sbin/vmofs"
}

test_scaled_adds_up() {
	local used sum
	vt_mount -o size=64M
	mkdir "$MNT/a"
	head -c 262144 /dev/urandom >"$MNT/a/data"
	mkdir "$MNT/a/clones/c1" "$MNT/a/clones/c2"
	dd if=/dev/zero of="$MNT/a/clones/c1/data" bs=4K count=3 conv=notrunc status=none
	mkdir "$MNT/a/clones/c1/clones/d"
	"$VC" tree --json "$MNT" >tree.json
	"$VC" stats --json "$MNT" >stats.json
	vt_json stats.json
	used=$(vt_json_get stats.json 'j.get("used_pages", -1)')
	[ "$used" != -1 ] || vt_skip "user.vmofs.stats has no used_pages"
	sum=$(vt_json_get tree.json 'sum(n["scaled"] for n in (lambda f: f(f, j["vmos"]))(lambda f, l: [x for n in l for x in [n] + f(f, n["clones"] + n["slices"])]))')
	# Rounding: each shared page may lose a byte or so per VMO.
	[ $((used * 4096 - sum)) -le 4096 ] && [ $((sum - used * 4096)) -le 4096 ] ||
		vt_fail "scaled bytes add up to $sum, pages in use $used x 4096"
}

test_stats() {
	local raw keys
	vt_mount -o size=64M
	raw=$(vt_xattr "$MNT" user.vmofs.stats)
	[ -n "$raw" ] || vt_fail "user.vmofs.stats is empty"
	# By default amounts of pages carry their size; counters do not.
	vt_run "$VC" stats "$MNT"
	# keys are padded to the longest one's width, which grows with the list
	printf '%s\n' "$VT_OUT" | grep -Eq '^limit_pages: +16384 \(64\.0M\)$' ||
		vt_fail "limit_pages is not '16384 (64.0M)': $VT_OUT"
	printf '%s\n' "$VT_OUT" | grep -Eq '^pmm_allocs: +[0-9]+$' ||
		vt_fail "pmm_allocs is not a plain count: $VT_OUT"
	vt_eq "$(printf '%s\n' "$raw" | cut -d: -f1)" "$(printf '%s\n' "$VT_OUT" | cut -d: -f1)" "keys"
	vt_eq "$("$VC" stats --bytes "$MNT" | grep -Ev '^(spun_requests|pq_rotations):')" \
		"$("$VC" stats -H "$MNT" | grep -Ev '^(spun_requests|pq_rotations):')" "-H is --bytes"
	vt_run "$VC" stats --bytes "$MNT"
	# --bytes: same keys, same order, values as in the xattr; but spun_requests
	# counts requests as they come, these reads among them: it only grows.
	vt_eq "$(printf '%s\n' "$raw" | cut -d: -f1)" "$(printf '%s\n' "$VT_OUT" | cut -d: -f1)" "keys"
	# pq_rotations likewise moves on its own: the reclaimer thread ages the
	# page queues on a timer (a CI-like run caught it 0 -> 1).
	vt_eq "$(printf '%s\n' "$raw" | grep -Ev '^(spun_requests|pq_rotations):' | sed 's/^[^:]*: *//')" \
		"$(printf '%s\n' "$VT_OUT" | grep -Ev '^(spun_requests|pq_rotations):' | sed 's/^[^:]*: *//')" "values"
	vt_ge "$(printf '%s\n' "$VT_OUT" | sed -n 's/^spun_requests: *//p')" \
		"$(printf '%s\n' "$raw" | sed -n 's/^spun_requests: *//p')" "spun_requests"
	"$VC" stats --json "$MNT" >stats.json
	vt_json stats.json
	keys=$(printf '%s\n' "$raw" | cut -d: -f1 | paste -sd' ')
	vt_eq "$keys" "$(vt_json_get stats.json '" ".join(j.keys())')" "json keys"
	# Not the mount root: a clear message, exit 1.
	mkdir "$MNT/a"
	vt_fails "not the root of a vmofs mount" "$VC" stats "$MNT/a"
	vt_eq 1 "$VT_RC"
}

vt_main test_usage_and_version test_usage_errors test_info_matches_xattrs \
	test_clone_and_slice test_clone_kinds test_range_actions test_tree test_tree_vmo_root_once \
	test_slice_help_default test_list test_json_keys test_progress_chunks \
	test_bash_completion test_make_install test_scaled_adds_up test_stats
