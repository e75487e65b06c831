# fish completion for muxrun(1)

function __muxrun_first
    set -l tokens (commandline -opc)
    test (count $tokens) -eq 1
end

function __muxrun_after
    set -l tokens (commandline -opc)
    test (count $tokens) -ge 2; and contains -- $tokens[2] $argv
end

complete -c muxrun -f
# muxrun CMD: any command
complete -c muxrun -n '__muxrun_first; and not string match -q -- "-*" (commandline -ct)' -a '(__fish_complete_command)'
complete -c muxrun -n __muxrun_first -a '--init' -d 'print the line that switches the shim on'
complete -c muxrun -n __muxrun_first -a 'off --deinit' -d 'print the line that switches the shim off'
complete -c muxrun -n __muxrun_first -a enable -d 'add the activation line to a start-up file'
complete -c muxrun -n __muxrun_first -a disable -d 'remove the activation line'
complete -c muxrun -n __muxrun_first -a status -d "the broker's connections and counters"
complete -c muxrun -n __muxrun_first -a doctor -d 'would ssh DEST be served, or why not'
complete -c muxrun -n __muxrun_first -a -O -d 'check, stop, exit, forward or cancel on a shared connection'
complete -c muxrun -n __muxrun_first -a --help -d 'show the help'

complete -c muxrun -n '__muxrun_after --init off --deinit' -a 'bash zsh sh fish'
complete -c muxrun -n '__muxrun_after enable disable' -a 'bash zsh fish profile'
complete -c muxrun -n '__muxrun_after -O; and test (count (commandline -opc)) -eq 2' -a 'check stop exit forward cancel'
# --json right after status or doctor (the only place muxrun takes it)
complete -c muxrun -n '__muxrun_after status doctor; and test (count (commandline -opc)) -eq 2' -a --json -d 'one JSON object'
complete -c muxrun -n '__muxrun_after doctor; and not string match -q -- "-*" (commandline -ct)' -a '(__fish_complete_user_at_hosts)'
complete -c muxrun -n '__muxrun_after -O; and test (count (commandline -opc)) -eq 3' -a '(__fish_complete_user_at_hosts)'
for o in 4 6 A a B b C c D E e F f g I i J K k L l M m N n O o P p q R S s T t v W w X x Y y
    complete -c muxrun -n "__muxrun_after doctor; and string match -q -- '-*' (commandline -ct)" -a "-$o"
end
# muxrun CMD ARGS: what CMD completes
complete -c muxrun -n 'not __muxrun_first; and not __muxrun_after --init off --deinit enable disable status doctor -O --help -h' -a '(__fish_complete_subcommand)'
