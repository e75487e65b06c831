#!/bin/bash
# complete.sh SHELL DIR LINE: the completions SHELL (bash, zsh or fish) offers for LINE
# with muxrun's completion files from DIR (muxrun.bash, _muxrun, muxrun.fish) loaded as
# the shell loads them, one per line. The shells are real: bash runs bash-completion's
# functions, zsh completes in a pseudo-terminal (zpty) with compadd recorded, fish
# answers `complete -C`.
set -euo pipefail
sh=$1 dir=$2 line=$3
case "$sh" in
bash)
    bash --norc --noprofile -c '
        . /usr/share/bash-completion/bash_completion
        . "$1/muxrun.bash"
        COMP_LINE=$2 COMP_POINT=${#2}
        read -ra COMP_WORDS <<<"$2"
        [[ $2 != *" " ]] || COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMPREPLY=()
        _muxrun muxrun "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
        printf "%s\n" "${COMPREPLY[@]}"' complete "$dir" "$line" 2>/dev/null
    ;;
zsh)
    # An interactive zsh in a pseudo-terminal: LINE, a Tab, then a line that marks the end
    # (zle runs the Tab's completion before it reads the next key).
    zsh -f -c '
        zmodload zsh/zpty
        zpty z zsh -f -i
        zpty -w z "PS1= RPS1=; fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -D"
        zpty -w z "compadd() { local -a m; builtin compadd -O m \"\$@\"; (( \$#m )) && print -rl -- \${m/#/MATCH:} >/dev/tty; builtin compadd \"\$@\"; }"
        zpty -w z "LISTMAX=100000; print -r -- READY-\$((6*7))"
        while zpty -r z l; do [[ $l == *READY-42* ]] && break; done
        zpty -n -w z "$2"$'"'"'\t'"'"'
        # the matches first (up to 20 s, until 1 s without output once some came): keys
        # typed ahead of a completion can make zle skip it on a loaded machine
        integer end=$((SECONDS + 20)) got=0 quiet=0
        while (( SECONDS < end )); do
            if zpty -r -t z l; then
                quiet=0
                [[ $l == *MATCH:* ]] && { print -r -- "${l##*MATCH:}"; got=1; }
            else
                (( got && ++quiet > 10 )) && break
                sleep 0.1
            fi
        done
        zpty -w z $'"'"'\C-u'"'"'"print -r -- DONE-\$((6*7))"
        while zpty -r z l; do
            [[ $l == *DONE-42* ]] && break
            [[ $l == *MATCH:* ]] && print -r -- "${l##*MATCH:}"
        done
        zpty -d z' complete "$dir" "$line" | tr -d '\r' | awk 'NF && !seen[$0]++'
    ;;
fish)
    fish --no-config -c 'source $argv[1]/muxrun.fish; complete -C $argv[2]' "$dir" "$line" |
        cut -f1
    ;;
*)
    echo "complete.sh: bash, zsh or fish" >&2
    exit 2
    ;;
esac
