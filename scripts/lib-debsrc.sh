# shellcheck shell=bash
# shellcheck disable=SC2034 # debsrc_error is read by the scripts that source this
# Debian source packages fetched with `apt-get source` from the Debian archive this
# machine's apt already uses, through a private apt state (the system's apt sources and
# state are not touched): apt checks each .dsc and its files against the suite's signed
# Sources index (the Debian archive keyring). Source it.
#
#   debsrc_fetch WORK SUITE PKG...   unpacks PKG... of Debian SUITE (trixie, sid, …) into
#                       WORK/src (WORK/apt is apt's state, WORK/apt.log its output; both
#                       made afresh); 1 with one line in $debsrc_error when it cannot
#   debsrc_fetch_pinned WORK DSC SHA256
#                       the fallback where the suite's index names files this archive no
#                       longer (or not yet) serves: the source package whose .dsc is DSC
#                       (openssh_10.5p1-1.dsc), from the archive's pool, unpacked into
#                       WORK/src; the .dsc must have SHA256 (pinned by the caller, as the
#                       signed index would), its files the .dsc's SHA-256 sums (apt-helper
#                       checks each download); 1 with $debsrc_error when it cannot
#   debsrc_archive_uri  prints the URI of the Debian archive (not debian-security) the
#                       system's apt sources name, one per line

debsrc_error=

debsrc_archive_uri() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             { uri = ""; deb = 0
               for (i = 1; i <= NF; i++) {
                   if ($i ~ /^URIs:/) { split($i, w, " "); uri = w[2] }
                   if ($i ~ /^Types:.*deb/) deb = 1
               }
               if (deb && uri ~ /\/debian\/?$/) { print uri; exit } }' "$f"
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 ~ /^deb(-src)?$/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {
                 if ($i ~ /\/debian\/?$/) print $i; break } }'
}

debsrc_fetch() {
    local work=$1 suite=$2 uri kr p
    local -a apt pkgs=()
    shift 2
    for p in "$@"; do pkgs+=("$p/$suite"); done
    debsrc_error=
    uri=$(debsrc_archive_uri | head -n1 || true)
    [ -n "$uri" ] || { debsrc_error="no Debian archive in the system's apt sources"; return 1; }
    kr=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$kr" ] || kr=/usr/share/keyrings/debian-archive-$suite-stable.gpg
    [ -f "$kr" ] || { debsrc_error="no Debian archive keyring in /usr/share/keyrings"; return 1; }
    command -v dpkg-source >/dev/null ||
        { debsrc_error="dpkg-source (dpkg-dev) is not installed"; return 1; }
    rm -rf "$work/apt" "$work/src"
    mkdir -p "$work/apt/etc/sources.list.d" "$work/apt/etc/preferences.d" \
        "$work/apt/state/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
    echo "deb-src [signed-by=$kr] $uri $suite main" >"$work/apt/etc/sources.list"
    apt=(apt-get -q -o "Dir::State=$work/apt/state" -o "Dir::Cache=$work/apt/cache"
        -o "Dir::Etc::sourcelist=$work/apt/etc/sources.list"
        -o "Dir::Etc::sourceparts=$work/apt/etc/sources.list.d"
        -o "Dir::Etc::preferences=$work/apt/etc/preferences"
        -o "Dir::Etc::preferencesparts=$work/apt/etc/preferences.d"
        -o APT::Sandbox::User="$(id -un)")
    echo "debsrc: fetching Debian $suite's $* source from $uri" >&2
    "${apt[@]}" --error-on=any update >"$work/apt.log" 2>&1 ||
        { debsrc_error="apt-get update of $uri $suite failed, see $work/apt.log"; return 1; }
    # apt checks each .dsc and its files against the signed Sources index.
    (cd "$work/src" && "${apt[@]}" source "${pkgs[@]}") >>"$work/apt.log" 2>&1 ||
        { debsrc_error="apt-get source ${pkgs[*]} failed, see $work/apt.log"; return 1; }
}

debsrc_fetch_pinned() {
    local work=$1 dsc=$2 sum=$3 uri pkg pool f h
    debsrc_error=
    uri=$(debsrc_archive_uri | head -n1 || true)
    [ -n "$uri" ] || { debsrc_error="no Debian archive in the system's apt sources"; return 1; }
    pkg=${dsc%%_*}
    pool=${uri%/}/pool/main/${pkg:0:1}/$pkg
    rm -rf "$work/src"
    mkdir -p "$work/src"
    echo "debsrc: fetching $dsc (SHA-256 pinned) from $pool" >&2
    /usr/lib/apt/apt-helper download-file "$pool/$dsc" "$work/src/$dsc" "SHA256:$sum" \
        >>"$work/apt.log" 2>&1 ||
        { debsrc_error="$dsc with SHA-256 $sum not had from $pool, see $work/apt.log"; return 1; }
    # Each file the .dsc lists, with the sum it gives.
    while read -r h _ f; do
        /usr/lib/apt/apt-helper download-file "$pool/$f" "$work/src/$f" "SHA256:$h" \
            >>"$work/apt.log" 2>&1 ||
            { debsrc_error="$f not had from $pool, see $work/apt.log"; return 1; }
    done < <(sed -n '/^Checksums-Sha256:/,/^[^ ]/s/^ \([0-9a-f]\{64\}\) /\1 /p' "$work/src/$dsc")
    (cd "$work/src" && dpkg-source -x "$dsc") >>"$work/apt.log" 2>&1 ||
        { debsrc_error="dpkg-source -x $dsc failed, see $work/apt.log"; return 1; }
}
