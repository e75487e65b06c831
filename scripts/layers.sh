#!/bin/bash
# scripts/layers.sh BUILD LAYER...: the broker's folders are layers, and each calls only the layers
# below it. From the built objects (nm): every symbol an object of broker/F/ uses (a call, a
# variable) that an object of a higher folder defines is printed as
#   layers: broker/session/policy.c uses pool_attach of broker/pool/pool.c (session is below pool)
# and the check fails. An include check alone would miss a hand-written prototype. Run by
# `make check` with the order, lowest first, from the Makefile's LAYERS; proto/ uses nothing
# of the broker.
set -euo pipefail
B=${1:?usage: layers.sh BUILD LAYER...}
shift
LAYERS=("$@")
O=$B/obj/broker
[ -d "$O" ] || {
    echo "layers: no objects in $O (run make first)" >&2
    exit 2
}
declare -A level def
for i in "${!LAYERS[@]}"; do level[${LAYERS[$i]}]=$i; done
objs=()
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for f in "$O"/*/*.o; do
    d=$(basename "$(dirname "$f")")
    # An object whose source is gone (a file moved or removed) is left over in the build
    # directory, not part of the broker.
    [ -f "$ROOT/broker/$d/$(basename "$f" .o).c" ] || continue
    [ -n "${level[$d]:-}" ] || {
        echo "layers: $f: folder broker/$d/ has no place in the order (scripts/layers.sh)" >&2
        exit 2
    }
    objs+=("$f")
done
for f in "${objs[@]}"; do
    while read -r sym; do def[$sym]=$f; done < <(nm --defined-only -g "$f" | awk '$2 ~ /[TDBRCVWGS]/ { print $3 }')
done
src() { local r=${1#"$O"/}; echo "broker/${r%.o}.c"; }
bad=0
for f in "${objs[@]}"; do
    d=$(basename "$(dirname "$f")")
    while read -r sym; do
        t=${def[$sym]:-}
        [ -n "$t" ] || continue
        td=$(basename "$(dirname "$t")")
        if [ "$d" = proto ] && [ "$td" != proto ] || [ "${level[$td]}" -gt "${level[$d]}" ]; then
            echo "layers: $(src "$f") uses $sym of $(src "$t") ($d is below $td)"
            bad=$((bad + 1))
        fi
    done < <(nm -u "$f" | awk '{ print $2 }')
done
if [ "$bad" -gt 0 ]; then
    echo "layers: $bad upward use(s); the order, lowest first: ${LAYERS[*]}" >&2
    exit 1
fi
echo "layers: ${#objs[@]} objects, each uses only its own folder and those below (${LAYERS[*]})"
