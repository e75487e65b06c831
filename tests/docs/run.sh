#!/bin/bash
# tests/docs/run.sh [BUILD_DIR]: the man pages say what the documentation says. The hand-over
# table of muxshim(7) names, row by row, the options of the one in docs/served-and-handed.md
# (the authoritative list); README's short table is a part of it; what README and that page
# say is served is named in muxshim(7)'s WHAT IS SERVED; every -O operation served is named
# in muxssh(1) and muxrun(1); scdoc builds every man page. Runs no program of the project and
# logs in nowhere (BUILD_DIR is not used). Options are extracted by tests/docs/optwords.py.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=docs
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"
T=$(mktemp -d /tmp/muxshim-docs-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$ROOT" || exit 1

DOCS=docs/served-and-handed.md
MAN7=man/muxshim.7.scd
README_SERVED='## What is served and what is handed to ssh'
DOCS_HANDED='## Handed to ssh'
DOCS_SERVED='## Served options'
MAN_HANDED='# WHAT IS HANDED TO SSH, AND WHY'
MAN_SERVED='# WHAT IS SERVED'

# words NAME FILE [HEADING] / rows NAME FILE HEADING: optwords.py's answer into $T/NAME;
# its complaint (a heading or table not found) fails CASE.
extract() {
    local name=$1 mode=$2
    shift 2
    if ! python3 "$ROOT/tests/docs/optwords.py" "$mode" "$@" >"$T/$name" 2>"$T/$name.err"; then
        notok "$CASE" "$(cat "$T/$name.err")"
        return 1
    fi
}
# only A B [SEP]: the lines of $T/A that $T/B lacks (as many times as A has them more), on
# one line, SEP (a space, else one character) between them
only() { comm -23 <(sort "$T/$1") <(sort "$T/$2") | paste -sd"${3:- }" -; }

# The options named in the first column of the two hand-over tables: the same set, then the
# same rows (each row's options; a row naming none counts too, so the tables have as many).
CASE=handed-options
if extract d_rows rows "$DOCS" "$DOCS_HANDED" && extract m_rows rows "$MAN7" "$MAN_HANDED"; then
    tr ',' '\n' <"$T/d_rows" | sed 's/^ *//; /^-$/d' | sort -u >"$T/d_set"
    tr ',' '\n' <"$T/m_rows" | sed 's/^ *//; /^-$/d' | sort -u >"$T/m_set"
    a=$(only d_set m_set) b=$(only m_set d_set)
    verdict "$CASE" "${a:+only in $DOCS: $a}${a:+${b:+; }}${b:+only in $MAN7: $b}" \
        "$CASE ($(grep -c . "$T/d_set") options in both hand-over tables)"
    CASE=handed-rows
    a=$(only d_rows m_rows / | head -c 300) b=$(only m_rows d_rows / | head -c 300)
    verdict "$CASE" "${a:+$DOCS: [$a]}${a:+${b:+; }}${b:+$MAN7: [$b]}" \
        "$CASE ($(wc -l <"$T/d_rows") rows, each naming the same options)"
fi

# README's short table: each of its rows is one of the whole table's.
CASE=readme-handed
if extract r_rows rows README.md "$README_SERVED" && [ -s "$T/d_rows" ]; then
    a=$(only r_rows d_rows /)
    verdict "$CASE" "${a:+README rows not in $DOCS: $a}" \
        "$CASE ($(wc -l <"$T/r_rows") rows, all in $DOCS)"
fi

# What README and docs/served-and-handed.md say is served: every option named in muxshim(7).
CASE=served-readme
extract s_man words "$MAN7" "$MAN_SERVED"
if [ -s "$T/s_man" ]; then
    for src in readme:README.md:"$README_SERVED" docs:"$DOCS:$DOCS_SERVED"; do
        CASE=served-${src%%:*} src=${src#*:}
        file=${src%%:*}
        if extract "s_$CASE" words "$file" "${src#*:}"; then
            a=$(only "s_$CASE" s_man)
            verdict "$CASE" "${a:+served in $file, not in WHAT IS SERVED of $MAN7: $a}" \
                "$CASE ($(grep -c . "$T/s_$CASE") options of the served list of $file, all in $MAN7)"
        fi
    done
fi

# Every -O operation served (docs/served-and-handed.md) is named in muxssh(1) and muxrun(1).
for page in man/muxssh.1.scd man/muxrun.1.scd; do
    CASE=O-$(basename "$page" .scd)
    if [ -s "$T/s_served-docs" ] && extract o_page words "$page"; then
        grep '^-O ' "$T/s_served-docs" >"$T/o_docs"
        # muxrun(1)'s synopsis names them as -O *check*|*stop*|...
        sed -n 's/^\*muxrun\* -O //p' "$page" | tr -d '*' | awk '{print $1}' | tr '|' '\n' |
            sed 's/^/-O /' >>"$T/o_page"
        a=$(only o_docs o_page)
        verdict "$CASE" "${a:+not named in $page: $a}" \
            "$CASE ($(grep -c . "$T/o_docs") operations named)"
    fi
done

# scdoc accepts every page (make man builds them so).
if command -v scdoc >/dev/null; then
    bad=
    for page in man/*.scd; do
        scdoc <"$page" >/dev/null 2>"$T/scdoc.err" || bad="$bad $page: $(head -c 200 "$T/scdoc.err")"
    done
    verdict scdoc "${bad# }" "scdoc ($(find man -name '*.scd' | wc -l) pages)"
else
    skip scdoc "no scdoc (scripts/install-deps.sh --build installs it)"
fi

[ "$failures" -eq 0 ]
