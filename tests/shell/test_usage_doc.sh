#!/usr/bin/env bash
# test_usage_doc.sh - docs/usage.md, followed to the letter.
#
# Invariant: the tour in docs/usage.md is true.  Every "$ command" of its
# sections 2 to 10 runs, in order, on a fresh mount, and prints what the
# page shows, except where the output is the machine's (timings, dates,
# df, counters).  A change to vmofs or vmoctl that breaks the tour breaks
# this test: fix the page or the code.
. "$(dirname "$0")/lib.sh"

# Commands whose output depends on the machine or the moment.
# (cmp of random bytes: the line number varies, and the word with the locale.)
VOLATILE='^(ls -l |df |vmoctl stats|dd if=/tmp/disk.img of=base/data |cmp base/data base/clones/snap/data$)'

# doc_steps FILE: write "command NUL expected-output NUL" pairs of the
# tour (from "## 2." on) to stdout.
doc_steps() {
	python3 - "$1" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
text = text[text.index("\n## 2."):]
out = sys.stdout
for block in re.findall(r"^```\n(.*?)^```", text, re.S | re.M):
    cmd, exp = None, []
    for line in block.splitlines():
        if line.startswith("$ "):
            if cmd is not None:
                out.write(cmd + "\0" + "\n".join(exp) + "\0")
            cmd, exp = line[2:], []
        elif cmd is not None:
            exp.append(line)
    if cmd is not None:
        out.write(cmd + "\0" + "\n".join(exp) + "\0")
EOF
}

# trim: drop trailing blank lines.
trim() {
	sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

test_usage_tour() {
	local cmd exp got vol n=0 bad=0
	vt_need python3 jq
	vt_mount -o size=1G
	export PATH=$(dirname "$VMOCTL_BIN"):$PATH
	doc_steps "$VT_ROOT/docs/usage.md" >"$VT_WORK/steps"
	cd "$MNT"
	while IFS= read -r -d '' cmd && IFS= read -r -d '' exp; do
		case $cmd in
		"cd /mnt/vmofs"|"cd /"|"export PATH="*) continue ;;
		"fusermount3 -u /mnt/vmofs") cd "$VT_WORK"; continue ;;
		esac
		n=$((n + 1))
		vol=0
		[[ $cmd =~ $VOLATILE ]] && vol=1
		cmd=${cmd//\/tmp\/disk.img/$VT_WORK/disk.img}
		cmd=${cmd//\/mnt\/vmofs/$MNT}
		got=$(bash -c "$cmd" 2>&1 | trim || true)
		[ $vol = 1 ] && continue
		exp=${exp//\/tmp\/disk.img/$VT_WORK/disk.img}
		exp=$(printf '%s\n' "$exp" | trim)
		if [ "$got" != "$exp" ]; then
			echo "    usage.md step $n: \$ $cmd" >&2
			diff <(printf '%s\n' "$exp") <(printf '%s\n' "$got") | sed 's/^/      /' >&2 || true
			bad=$((bad + 1))
		fi
	done <"$VT_WORK/steps"
	cd "$VT_WORK"
	[ "$n" -ge 40 ] || vt_fail "only $n steps found in docs/usage.md"
	[ "$bad" -eq 0 ] || vt_fail "$bad of $n steps of docs/usage.md print something else"
}

vt_main test_usage_tour
