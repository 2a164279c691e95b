#!/bin/sh
# Every bind and connect of the programs goes through common/tf_secure.c, so no tcp endpoint is
# ever used without CURVE (issue 10). This lists any other place in the non-test sources that
# binds, connects or makes a socket with an endpoint, and fails when there is one.
#   usage: socket_guard.sh SOURCE-DIR
set -u
src=${1:?usage: socket_guard.sh SOURCE-DIR}
cd "$src" || exit 2

# Allowed outside tf_secure: path, then why. Keep it short; each needs a reason. (None today.)
allowed=''

pattern='zsock_(bind|connect|attach)[[:space:]]*\(|zmq_(bind|connect)[[:space:]]*\(|zsock_new_[a-z_]+[[:space:]]*\('
offenders=$(find . -path ./build -prune -o -path ./tests -prune -o -path './build-*' -prune -o \
                 \( -name '*.c' -o -name '*.h' \) -print |
    grep -v -e '^./common/tf_secure\.[ch]$' |
    sort |
    xargs grep -nE "$pattern" /dev/null |
    grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/\*|\*|//)' |
    while IFS= read -r line; do
        file=${line%%:*}
        file=${file#./}
        case " $allowed " in
            *" $file "*) ;;
            *) printf '%s\n' "$line" ;;
        esac
    done)
if [ -n "$offenders" ]; then
    echo "sockets bound or connected outside common/tf_secure.c (use tf_secure_bind/tf_secure_connect):"
    printf '%s\n' "$offenders"
    exit 1
fi
echo "every bind and connect goes through common/tf_secure.c"
