# bash completion for muxrun(1)                                   -*- shell-script -*-

_muxrun() {
    local cur prev words cword
    _init_completion || return
    local subs="--init off --deinit enable disable status doctor -O --help"
    local ssh_opts="-4 -6 -A -a -B -b -C -c -D -E -e -F -f -g -I -i -J -K -k -L -l -M -m
        -N -n -O -o -P -p -q -R -S -s -T -t -v -W -w -X -x -Y -y"
    if [ "$cword" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
        # muxrun CMD: any command too
        [[ $cur == -* ]] || COMPREPLY+=($(compgen -c -- "$cur" | sort -u))
        return
    fi
    case ${words[1]} in
    --init | off | --deinit)
        [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "bash zsh sh fish" -- "$cur"))
        ;;
    enable)
        [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "bash zsh fish profile" -- "$cur"))
        ;;
    disable)
        COMPREPLY=($(compgen -W "bash zsh fish profile" -- "$cur"))
        ;;
    status)
        [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "--json" -- "$cur"))
        ;;
    doctor)
        if [[ $cur == -* ]]; then
            # --json only first, where muxrun takes it
            COMPREPLY=($(compgen -W "$ssh_opts$([ "$cword" -eq 2 ] && echo " --json")" -- "$cur"))
        else
            _known_hosts_real -a -- "$cur"
        fi
        ;;
    -O)
        if [ "$cword" -eq 2 ]; then
            COMPREPLY=($(compgen -W "check stop exit forward cancel" -- "$cur"))
        elif [ "$cword" -eq 3 ]; then
            _known_hosts_real -a -- "$cur"
        fi
        ;;
    --help | -h) ;;
    *)
        _command_offset 1
        ;;
    esac
} && complete -F _muxrun muxrun
