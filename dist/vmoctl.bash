# bash completion for vmoctl(1)                            -*- shell-script -*-
#
# Installed by `make install` as share/bash-completion/completions/vmoctl,
# where bash-completion loads it the first time vmoctl is completed; or
# source it by hand: `. dist/vmoctl.bash`.  Self-contained: it needs no
# helper of the bash-completion package.
#
# Completes the commands, the options, and for each argument what it takes:
# a VMO (a directory, or a data/info file) for PATH and SRC, a directory for
# MOUNT (vmofs mount points first), "all" for RANGE, nothing for NAME.
# tests/shell/test_tools.sh checks these lists against `vmoctl --help`.

_vmoctl_commands="info tree list stats clone slice ref contig commit decommit
zero pin unpin prefetch dontneed alwaysneed lock trylock unlock help"
_vmoctl_options="--json --bytes --aolw --modified --help --version -j -b -H -h -V"

# _vmoctl_mounts: the vmofs mount points (from /proc/mounts).
_vmoctl_mounts() {
	local src dir type rest
	while read -r src dir type rest; do
		[ "$type" = fuse.vmofs ] && printf '%b\n' "$dir"
	done </proc/mounts 2>/dev/null
}

# _vmoctl_vmos CUR: directories, and data and info files, starting with CUR.
_vmoctl_vmos() {
	local f
	compgen -d -- "$1"
	while IFS= read -r f; do
		case ${f##*/} in data | info) [ -f "$f" ] && printf '%s\n' "$f" ;; esac
	done < <(compgen -f -- "$1")
}

_vmoctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} cmd="" nargs=0 i w dashdash=0
	COMPREPLY=()
	# The command and how many of its arguments come before the cursor.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [ $dashdash = 0 ] && [ "$w" = -- ]; then
			dashdash=1
		elif [ $dashdash = 0 ] && [[ $w == -?* ]]; then
			continue
		elif [ -z "$cmd" ]; then
			cmd=$w
		else
			nargs=$((nargs + 1))
		fi
	done
	if [ $dashdash = 0 ] && [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$_vmoctl_options" -- "$cur")
		return 0
	fi
	if [ -z "$cmd" ]; then
		mapfile -t COMPREPLY < <(compgen -W "$_vmoctl_commands" -- "$cur")
		return 0
	fi
	case $cmd:$nargs in
	help:0)
		mapfile -t COMPREPLY < <(compgen -W "$_vmoctl_commands" -- "$cur") ;;
	tree:0 | list:0 | stats:0 | contig:0)
		mapfile -t COMPREPLY < <({ _vmoctl_mounts | while IFS= read -r w; do
			[[ $w == "$cur"* ]] && printf '%s\n' "$w"; done
			compgen -d -- "$cur"; } | awk '!seen[$0]++')
		compopt -o filenames 2>/dev/null ;;
	info:0 | clone:0 | slice:0 | ref:0 | commit:0 | decommit:0 | zero:0 | pin:0 | \
	unpin:0 | prefetch:0 | dontneed:0 | alwaysneed:0 | lock:0 | trylock:0 | \
	unlock:0)
		mapfile -t COMPREPLY < <(_vmoctl_vmos "$cur")
		compopt -o filenames 2>/dev/null ;;
	clone:2 | commit:1 | decommit:1 | zero:1 | pin:1 | unpin:1 | \
	prefetch:1 | dontneed:1 | alwaysneed:1)
		mapfile -t COMPREPLY < <(compgen -W "all" -- "$cur") ;;
	esac
	return 0
}

complete -F _vmoctl vmoctl
