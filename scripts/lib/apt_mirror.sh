# shellcheck shell=bash
# apt_mirror [APT_DIR]: print the Debian archive URL this machine's apt is configured with, so
# that scripts fetch Debian from wherever the machine (or CI runner) already does. Sourced by
# scripts/ha-chroot.sh; tested by tests/test_scripts.py with sample sources in a tmp dir.
#
# APT_DIR (default /etc/apt) is read the way apt reads it: sources.list first, then
# sources.list.d/*.list and *.sources (deb822) in name order. The first entry that is the main
# Debian archive wins: type `deb` (not deb-src), enabled, component `main`, a Debian suite
# (sid, trixie, stable, bookworm-updates, ...) or a URL with a /debian path, and not a
# security archive (suite *-security or a *-security URL). A `mirror+file:` URI gives the first
# URL in its list file. Prints nothing and returns 1 when no entry qualifies.

_APT_MIRROR_SUITES=" sid unstable testing stable oldstable oldoldstable experimental \
buster bullseye bookworm trixie forky duke "

_apt_mirror_pick() {  # _apt_mirror_pick URI SUITE COMPONENTS...: print URI and return 0 if it fits
  local uri=${1%/} suite=$2 base list
  shift 2
  case " $* " in *" main "*) ;; *) return 1 ;; esac
  case "$suite" in *-security|*/updates) return 1 ;; esac
  case "$uri" in *-security|*-security/*) return 1 ;; esac
  base=${suite%%-*}
  case "$_APT_MIRROR_SUITES" in
    *" $base "*) ;;
    *) case "$uri/" in */debian/*) ;; *) return 1 ;; esac ;;
  esac
  case "$uri" in
    mirror+file:*)  # apt-transport-mirror: the first URL in the list file
      list=${uri#mirror+file:}; list=${list#//}
      uri=$(grep -m1 -oE '^[a-z+]+://[^[:space:]]+' "$list" 2>/dev/null) || return 1
      uri=${uri%/} ;;
    http://*|https://*|ftp://*|file:/*) ;;
    *) return 1 ;;  # cdrom:, tor+..., mirror+http: ... : nothing debootstrap can take
  esac
  printf '%s\n' "$uri"
}

_apt_mirror_list() {  # one-line format: deb [ options ] URI SUITE COMPONENT...
  local line type uri suite
  local -a words
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%%#*}
    # The [ options ] block may hold spaces: drop it whole.
    if [[ $line =~ ^([[:space:]]*[a-z-]+)[[:space:]]+\[[^]]*\](.*)$ ]]; then
      line="${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
    fi
    read -r -a words <<<"$line"
    [ ${#words[@]} -ge 3 ] || continue
    type=${words[0]} uri=${words[1]} suite=${words[2]}
    [ "$type" = deb ] || continue
    _apt_mirror_pick "$uri" "$suite" "${words[@]:3}" && return 0
  done < "$1"
  return 1
}

_apt_mirror_stanza() {  # the stanza in the caller's types/uris/suites/comps/enabled
  local uri suite
  local -a uri_list suite_list comp_list
  [ "$enabled" != no ] || return 1
  case " $types " in *" deb "*) ;; *) return 1 ;; esac
  read -r -a uri_list <<<"$uris"
  read -r -a suite_list <<<"$suites"
  read -r -a comp_list <<<"$comps"
  for uri in "${uri_list[@]}"; do
    for suite in "${suite_list[@]}"; do
      _apt_mirror_pick "$uri" "$suite" "${comp_list[@]}" && return 0
    done
  done
  return 1
}

_apt_mirror_deb822() {  # stanzas of Types/URIs/Suites/Components/Enabled fields
  local line key value field=""
  local types="" uris="" suites="" comps="" enabled=yes
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in \#*) continue ;; esac
    if [[ $line =~ ^[[:space:]]*$ ]]; then  # a blank line ends the stanza
      [ -z "$uris" ] || { _apt_mirror_stanza && return 0; }
      types="" uris="" suites="" comps="" enabled=yes field=""
      continue
    fi
    if [[ $line =~ ^[[:space:]] ]]; then value=$line  # a continuation of the last field
    elif [[ $line =~ ^([A-Za-z0-9-]+):(.*)$ ]]; then
      key=${BASH_REMATCH[1],,}; value=${BASH_REMATCH[2]}; field=$key
    else continue
    fi
    case "$field" in
      types) types+=" $value" ;;
      uris) uris+=" $value" ;;
      suites) suites+=" $value" ;;
      components) comps+=" $value" ;;
      enabled) enabled=$(tr -d '[:space:]' <<<"${value,,}") ;;
    esac
  done < "$1"
  [ -n "$uris" ] && _apt_mirror_stanza
}

apt_mirror() {
  local dir=${1:-/etc/apt} file
  local -a files=()
  [ ! -f "$dir/sources.list" ] || files+=("$dir/sources.list")
  for file in "$dir"/sources.list.d/*; do
    case "$file" in *.list|*.sources) [ -f "$file" ] && files+=("$file") ;; esac
  done
  for file in "${files[@]}"; do
    case "$file" in
      *.sources) _apt_mirror_deb822 "$file" && return 0 ;;
      *) _apt_mirror_list "$file" && return 0 ;;
    esac
  done
  return 1
}
