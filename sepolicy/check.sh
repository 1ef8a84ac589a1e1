#!/usr/bin/env bash
# Host-side check of the mediaproviderd SELinux policy.
#
#   sepolicy/check.sh            (as root it installs its Debian tools if missing)
#
# 1. Compiles sepolicy/*.te against the minimal base policy in sepolicy/base/ the way AOSP does
#    (system/sepolicy build/soong/policy.go): m4 -> policy.conf -> checkpolicy (binary policy,
#    neverallows enforced) and checkpolicy -C -> CIL -> secilc (neverallows enforced again).
# 2. Validates sepolicy/file_contexts against the compiled policy (setfiles -c).
# 3. Verifies with sesearch that every rule the daemon needs is in the policy (ALLOW_CHECKS) and
#    that a few things it must not have are absent (DENY_CHECKS).
# 4. Proves the neverallows bite: for each rule in VIOLATIONS, compiles a copy with that rule
#    appended and requires BOTH checkpolicy and secilc to reject it for a neverallow.
#
# Exit status: 0 ok; 1 a check failed; 3 the tools are missing and cannot be installed.
# Debian packages: checkpolicy secilc setools m4 policycoreutils.
# Set SEPOLICY_OUT=DIR to keep the build outputs.

set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASE="$HERE/base"
POLICYVERS=30
PACKAGES=(checkpolicy secilc setools m4 policycoreutils)

die() {
    echo "sepolicy: FAIL: $*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Tools.
# ---------------------------------------------------------------------------------------------
missing_tools() {
    local t missing=()
    for t in m4 checkpolicy secilc sesearch setfiles; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    echo "${missing[*]}"
}

ensure_tools() {
    local missing
    missing=$(missing_tools)
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "sepolicy: cannot run: missing tools ($missing); install as root with:" \
            "apt-get update && apt-get install -y ${PACKAGES[*]}" >&2
        exit 3
    fi
    echo "sepolicy: installing ${PACKAGES[*]} (missing: $missing)" >&2
    local apt=(apt-get -o DPkg::Lock::Timeout=600 -q)
    if ! { "${apt[@]}" update >/dev/null &&
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends \
            "${PACKAGES[@]}" >/dev/null; }; then
        echo "sepolicy: cannot run: apt-get install ${PACKAGES[*]} failed" >&2
        exit 3
    fi
    missing=$(missing_tools)
    if [ -n "$missing" ]; then
        echo "sepolicy: cannot run: still missing after install: $missing" >&2
        exit 3
    fi
}

# ---------------------------------------------------------------------------------------------
# Build.
# ---------------------------------------------------------------------------------------------
# build OUTDIR [EXTRA.te]: policy.conf, policy.$POLICYVERS, policy.cil, policy.secilc in OUTDIR.
# Output of the compilers goes to OUTDIR/checkpolicy.log and OUTDIR/secilc.log.
build_conf() {
    local out=$1 extra=${2:-}
    local te=("$HERE"/*.te)
    [ -n "$extra" ] && te+=("$extra")
    m4 --fatal-warnings -s -D target_build_variant=user \
        "$BASE/security_classes" "$BASE/initial_sids" "$BASE/access_vectors" \
        "$BASE/global_macros" "$BASE/te_macros" "$BASE/mls" "$BASE/policy_capabilities" \
        "$BASE/attributes" "$BASE/base.te" "$BASE/neverallows.te" "${te[@]}" \
        "$BASE/roles" "$BASE/users" "$BASE/initial_sid_contexts" "$BASE/fs_use" \
        "$BASE/genfs_contexts" >"$out/policy.conf"
}

run_checkpolicy() {
    local out=$1
    checkpolicy -M -c "$POLICYVERS" -o "$out/policy.$POLICYVERS" "$out/policy.conf" \
        >"$out/checkpolicy.log" 2>&1
}

run_secilc() {
    local out=$1
    checkpolicy -C -M -c "$POLICYVERS" -o "$out/policy.cil" "$out/policy.conf" \
        >"$out/checkpolicy-cil.log" 2>&1 || return 2
    secilc -m -M true -G -c "$POLICYVERS" -o "$out/policy.secilc" -f /dev/null \
        "$out/policy.cil" >"$out/secilc.log" 2>&1
}

# ---------------------------------------------------------------------------------------------
# Checks: "SOURCE TARGET CLASS PERM[,PERM...]" (all perms required, attributes expanded), or
# "type_transition SOURCE TARGET CLASS DEFAULT".
# ---------------------------------------------------------------------------------------------
ALLOW_CHECKS=(
    # init starts it in its own domain (init_daemon_domain)
    "type_transition init mediaproviderd_exec process mediaproviderd"
    "init mediaproviderd_exec file execute,read,open,getattr"
    "init mediaproviderd process transition"
    "mediaproviderd mediaproviderd_exec file entrypoint,execute,read,open"
    # init makes /data/misc/mediaproviderd and /dev/socket/mediaproviderd_fuse
    "init mediaproviderd_data_file dir create,setattr,getattr"
    "init mediaproviderd_fuse_socket sock_file create,setattr"
    # /dev/fuse fd handed over by vold over the init socket
    "mediaproviderd vold fd use"
    "mediaproviderd fuse_device chr_file read,write,ioctl,getattr"
    "mediaproviderd mediaproviderd unix_stream_socket accept,listen,read,write,getopt"
    "vold mediaproviderd_fuse_socket sock_file write"
    "vold mediaproviderd unix_stream_socket connectto"
    # the query socket (SPEC §11): init makes it, apps connect
    "init mediaproviderd_query_socket sock_file create,setattr"
    "untrusted_app mediaproviderd_query_socket sock_file write"
    "untrusted_app mediaproviderd unix_stream_socket connectto"
    # mounting by itself
    "mediaproviderd fuse_device chr_file open"
    "mediaproviderd fuse filesystem mount,unmount"
    "mediaproviderd mnt_user_file dir search,mounton"
    # passthrough (FUSE_DEV_IOC_BACKING_OPEN)
    "mediaproviderd mediaproviderd capability sys_admin"
    # lower storage
    "mediaproviderd media_userdir_file dir search,open,read,getattr"
    "mediaproviderd media_rw_data_file dir create,open,read,search,write,add_name,remove_name,rename,reparent,rmdir,setattr,getattr"
    "mediaproviderd media_rw_data_file file create,open,read,write,append,getattr,setattr,rename,unlink,lock,map"
    "mediaproviderd media_rw_data_file lnk_file getattr,read,unlink,rename"
    "mediaproviderd labeledfs filesystem getattr"
    # its database and control socket
    "mediaproviderd system_data_file dir search"
    "mediaproviderd mediaproviderd_data_file dir create,open,read,search,write,add_name,remove_name,rename,rmdir"
    "mediaproviderd mediaproviderd_data_file file create,open,read,write,append,lock,getattr,setattr,rename,unlink,map"
    "mediaproviderd mediaproviderd_data_file sock_file create,unlink,write"
    "mediaproviderd mediaproviderd unix_stream_socket create,bind,connect,connectto"
    # packages.list
    "mediaproviderd packages_list_file file open,read,getattr,watch"
)

# Must be absent (checked with sesearch; the neverallows below guarantee it at build time).
DENY_CHECKS=(
    "mediaproviderd mediaproviderd capability sys_module"
    "mediaproviderd mediaproviderd capability sys_ptrace"
    "mediaproviderd media_rw_data_file file execute"
    "shell mediaproviderd_data_file file write"
    "untrusted_app mediaproviderd_fuse_socket sock_file write"
    "system_server mediaproviderd unix_stream_socket connectto"
    "system_server mediaproviderd process transition"
)

# Each line is a rule that one of the neverallows must reject.
VIOLATIONS=(
    "allow mediaproviderd self:capability sys_module;"
    "allow mediaproviderd self:capability sys_ptrace;"
    "allow mediaproviderd media_rw_data_file:file execute;"
    "allow mediaproviderd fuse:file execute;"
    "allow shell mediaproviderd_data_file:file { open write };"
    "allow system_server mediaproviderd_data_file:file { open read };"
    "allow shell mediaproviderd_data_file:dir { write add_name };"
    "allow system_server mediaproviderd:process transition;"
    "allow mediaproviderd system_file:file entrypoint;"
    "allow untrusted_app mediaproviderd_fuse_socket:sock_file write;"
    "allow system_server mediaproviderd:unix_stream_socket connectto;"
    "allow system_server mediaproviderd_query_socket:sock_file write;"
    "allow mediaproviderd untrusted_app:process ptrace;"
    # AOSP neverallows mirrored in base/neverallows.te
    "allow mediaproviderd vendor_data_file:file { open read };"
    "allow mediaproviderd labeledfs:filesystem mount;"
    "allow mediaproviderd self:capability dac_override;"
    "allow untrusted_app fuse_device:chr_file { read write };"
)

# Union of the permissions sesearch reports for SOURCE TARGET:CLASS.
perms_of() {
    local policy=$1 src=$2 tgt=$3 cls=$4
    sesearch -A -s "$src" -t "$tgt" -c "$cls" "$policy" 2>/dev/null |
        sed -n 's/.*{\(.*\)}.*/\1/p; s/^allow [^{]*:[^ ]* \([^ {;]*\);$/\1/p' |
        tr ' ' '\n' | sed '/^$/d' | sort -u
}

main() {
    ensure_tools

    # Global: the EXIT trap runs after main returns.
    if [ -n "${SEPOLICY_OUT:-}" ]; then
        out=$SEPOLICY_OUT
        mkdir -p "$out"
    else
        out=$(mktemp -d)
        trap 'rm -rf "$out"' EXIT
    fi

    # 1. Compile.
    mkdir -p "$out/good"
    build_conf "$out/good" || die "m4 failed on the policy sources"
    if ! run_checkpolicy "$out/good"; then
        cat "$out/good/checkpolicy.log" >&2
        die "checkpolicy rejected the policy (above)"
    fi
    if ! run_secilc "$out/good"; then
        cat "$out/good/checkpolicy-cil.log" "$out/good/secilc.log" 2>/dev/null >&2 || true
        die "CIL conversion or secilc rejected the policy (above)"
    fi
    local policy="$out/good/policy.$POLICYVERS"

    # 2. file_contexts.
    if ! setfiles -c "$policy" "$HERE/file_contexts" >"$out/setfiles.log" 2>&1; then
        cat "$out/setfiles.log" >&2
        die "sepolicy/file_contexts has contexts the policy does not define (above)"
    fi

    # 3. Rules present / absent.
    local n_allow=0 n_deny=0 check src tgt cls want have p missing
    for check in "${ALLOW_CHECKS[@]}"; do
        # shellcheck disable=SC2086
        set -- $check
        if [ "$1" = type_transition ]; then
            have=$(sesearch -T -s "$2" -t "$3" -c "$4" -D "$5" "$policy" 2>/dev/null || true)
            [ -n "$have" ] || die "missing: type_transition $2 $3:$4 $5"
        else
            src=$1 tgt=$2 cls=$3 want=$4
            have=$(perms_of "$policy" "$src" "$tgt" "$cls")
            missing=()
            for p in ${want//,/ }; do
                grep -qx -- "$p" <<<"$have" || missing+=("$p")
            done
            [ ${#missing[@]} -eq 0 ] ||
                die "missing: allow $src $tgt:$cls { ${missing[*]} } (policy has: $(tr "\n" " " <<<"$have"))"
        fi
        n_allow=$((n_allow + 1))
    done
    for check in "${DENY_CHECKS[@]}"; do
        # shellcheck disable=SC2086
        set -- $check
        have=$(perms_of "$policy" "$1" "$2" "$3")
        if grep -qx -- "$4" <<<"$have"; then
            die "must not be allowed: allow $1 $2:$3 $4"
        fi
        n_deny=$((n_deny + 1))
    done

    # 4. Neverallows bite.
    local i=0 rule dir n_bite=0
    for rule in "${VIOLATIONS[@]}"; do
        i=$((i + 1))
        dir="$out/bad$i"
        mkdir -p "$dir"
        printf '# deliberate violation\n%s\n' "$rule" >"$dir/violation.te"
        build_conf "$dir" "$dir/violation.te" || die "m4 failed with violation: $rule"
        if run_checkpolicy "$dir"; then
            die "neverallow does not bite: checkpolicy accepted '$rule'"
        fi
        grep -qi neverallow "$dir/checkpolicy.log" ||
            die "checkpolicy rejected '$rule' but not for a neverallow: $(head -3 "$dir/checkpolicy.log")"
        local rc=0
        run_secilc "$dir" || rc=$?
        [ $rc -ne 0 ] || die "neverallow does not bite: secilc accepted '$rule'"
        [ $rc -ne 2 ] || die "CIL conversion failed for '$rule': $(head -3 "$dir/checkpolicy-cil.log")"
        grep -qi neverallow "$dir/secilc.log" ||
            die "secilc rejected '$rule' but not for a neverallow: $(head -3 "$dir/secilc.log")"
        n_bite=$((n_bite + 1))
    done

    echo "sepolicy: $n_allow allow checks passed, $n_deny deny checks passed," \
        "neverallow bite ok ($n_bite/${#VIOLATIONS[@]} violations rejected by checkpolicy and secilc)"
}

main "$@"
