# A network namespace for tests and benchmarks that need hosts "behind" a bastion. Source it.
#
#   netns_up NAME NET ADDR...   as root: first an `unreachable` route for NET (e.g.
#                       10.77.0.0/16, so nothing sent to it can leave the machine), then
#                       namespace NAME joined to this one by a veth pair: this side
#                       NET's x.x.1.1/30, the namespace's side x.x.1.2/30 (NETNS_PEER),
#                       and each ADDR (IPv4 /32 or IPv6 /128) on the namespace's loopback,
#                       reachable only from inside. IPv6 ADDRs need NETNS_NET6 (e.g.
#                       fd77::/16) for their own unreachable route. Returns nonzero on
#                       any failure (call netns_down anyway).
#   netns_down          ends the namespace's processes, removes it, the veth pair and the
#                       routes
#   netns_exec CMD...   runs CMD inside the namespace (in the foreground: to start a
#                       server in the background, use ip netns exec "$NETNS_NAME" CMD &
#                       so that $! is the server itself)

netns_up() {
    NETNS_NAME=$1
    NETNS_NET=$2
    shift 2
    local base=${NETNS_NET%.0.0/16} a peerif=mx${NETNS_NAME: -8}n
    NETNS_HOSTIF=mx${NETNS_NAME: -8}h
    NETNS_PEER=$base.1.2
    ip route add unreachable "$NETNS_NET" || return 1
    if [ -n "${NETNS_NET6:-}" ]; then
        ip -6 route add unreachable "$NETNS_NET6" || return 1
    fi
    ip netns add "$NETNS_NAME" &&
        ip link add "$NETNS_HOSTIF" type veth peer name "$peerif" &&
        ip link set "$peerif" netns "$NETNS_NAME" &&
        ip addr add "$base.1.1/30" dev "$NETNS_HOSTIF" && ip link set "$NETNS_HOSTIF" up &&
        netns_exec ip addr add "$NETNS_PEER/30" dev "$peerif" &&
        netns_exec ip link set "$peerif" up &&
        netns_exec ip link set lo up || return 1
    for a in "$@"; do
        case $a in
        *:*) netns_exec ip -6 addr add "$a/128" dev lo nodad || return 1 ;;
        *) netns_exec ip addr add "$a/32" dev lo || return 1 ;;
        esac
    done
}

netns_exec() {
    ip netns exec "$NETNS_NAME" "$@"
}

netns_down() {
    [ -n "${NETNS_NAME:-}" ] || return 0
    # Its processes first (sshd's sessions too): once the veth pair is gone, their TCP
    # peers can no longer tell them the connection ended, and they would stay for ever.
    local p i
    for p in $(ip netns pids "$NETNS_NAME" 2>/dev/null); do kill "$p" 2>/dev/null; done
    for i in $(seq 1 20); do
        [ -z "$(ip netns pids "$NETNS_NAME" 2>/dev/null)" ] && break
        sleep 0.1
    done
    for p in $(ip netns pids "$NETNS_NAME" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$NETNS_NAME" 2>/dev/null
    ip link del "$NETNS_HOSTIF" 2>/dev/null
    ip route del unreachable "$NETNS_NET" 2>/dev/null
    [ -z "${NETNS_NET6:-}" ] || ip -6 route del unreachable "$NETNS_NET6" 2>/dev/null
    return 0
}
