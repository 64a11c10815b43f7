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
	for c in info tree stats clone slice commit decommit zero pin unpin \
		prefetch dontneed alwaysneed; do
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
	usage_error 2 "unexpected argument 'extra'" info /x extra
	usage_error 2 "--json applies to info, tree and stats" clone --json /x c
	usage_error 2 "--bytes applies to info and tree" stats --bytes /x
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
	# JSON: numbers are numbers.
	"$VC" info --json "$MNT/a" >info.json
	vt_json info.json
	vt_eq 8292 "$(vt_json_get info.json 'j["size"]')" "json size"
	vt_eq anonymous "$(vt_json_get info.json 'j["kind"]')" "json kind"
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
	# A VMO directory: its subtree only.
	vt_run "$VC" tree "$MNT/a/clones/c"
	want=$(printf '%s\n' "└── c" "    └── cc")
	vt_eq "$want" "$(tree_names "$VT_OUT")" "subtree shape"
	# JSON: nested children, numbers from the xattrs.
	"$VC" tree --json "$MNT" >tree.json
	vt_json tree.json
	vt_eq "['a', 'b']" "$(vt_json_get tree.json '[k["name"] for k in j["children"]]')"
	vt_eq "['c', 's']" "$(vt_json_get tree.json '[k["name"] for k in j["children"][0]["children"]]')"
	vt_eq "['cc']" "$(vt_json_get tree.json '[k["name"] for k in j["children"][0]["children"][0]["children"]]')"
	vt_eq "$(vt_xattr "$MNT/a/clones/c/data" user.vmo.private)" \
		"$(vt_json_get tree.json 'j["children"][0]["children"][0]["private"]')" "c private"
	vt_eq "$MNT/a/clones/c/clones/cc" \
		"$(vt_json_get tree.json 'j["children"][0]["children"][0]["children"][0]["path"]')"
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
	sum=$(vt_json_get tree.json 'sum(n["scaled"] for n in (lambda f: f(f, j["children"]))(lambda f, l: [x for n in l for x in [n] + f(f, n["children"])]))')
	# Rounding: each shared page may lose a byte or so per VMO.
	[ $((used * 4096 - sum)) -le 4096 ] && [ $((sum - used * 4096)) -le 4096 ] ||
		vt_fail "scaled bytes add up to $sum, pages in use $used x 4096"
}

test_stats() {
	local raw keys
	vt_mount -o size=64M
	raw=$(vt_xattr "$MNT" user.vmofs.stats)
	[ -n "$raw" ] || vt_fail "user.vmofs.stats is empty"
	vt_run "$VC" stats "$MNT"
	# Same keys, same order, values as in the xattr; but spun_requests
	# counts requests as they come, these reads among them: it only grows.
	vt_eq "$(printf '%s\n' "$raw" | cut -d: -f1)" "$(printf '%s\n' "$VT_OUT" | cut -d: -f1)" "keys"
	vt_eq "$(printf '%s\n' "$raw" | grep -v '^spun_requests:' | sed 's/^[^:]*: *//')" \
		"$(printf '%s\n' "$VT_OUT" | grep -v '^spun_requests:' | sed 's/^[^:]*: *//')" "values"
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
	test_clone_and_slice test_range_actions test_tree test_scaled_adds_up \
	test_stats
