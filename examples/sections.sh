# SPDX-License-Identifier: MIT
# The demo's table: each section of the seed tutorial (and a few beyond
# it), and the program that runs it in each language.  Sourced by
# examples/run-all and examples/check, with $top set.

SECTIONS="01_basic 02_producers 03_try_recv 04_async 05_actor 06_bounded
07_scm_rights 08_select"
LANGUAGES="C Rust Python Go"

section_title() {
	case $1 in
	01_basic) echo "Seed section 2: basic message passing" ;;
	02_producers) echo "Seed section 3: multiple producers" ;;
	03_try_recv) echo "Seed section 4: try_recv, Empty vs Disconnected" ;;
	04_async) echo "Seed section 7: asynchronous, tokio's bounded channel" ;;
	05_actor) echo "Seed section 8: the actor model" ;;
	06_bounded) echo "Beyond the seed: backpressure on a bounded channel" ;;
	07_scm_rights) echo "Beyond the seed: a producer in another process (SCM_RIGHTS)" ;;
	08_select) echo "Beyond the seed: select over channels" ;;
	esac
}

# The command running section $1 in language $2, or nothing.
section_cmd() {
	case $2 in
	C) f="$top/examples/bin/$1" ;;
	Rust) f="$top/bindings/rust/target/debug/examples/$1" ;;
	Go) f="$top/bindings/go/bin/$1" ;;
	Python)
		f="$top/bindings/python/examples/$1.py"
		[ -f "$f" ] && echo "/usr/bin/python3 $f"
		return 0
		;;
	esac
	[ -x "$f" ] && echo "$f"
	return 0
}

export PYTHONPATH="$top/bindings/python" PYTHONDONTWRITEBYTECODE=1
