#!/bin/sh
# The image checks of a Packer build (build.pkr.hcl, `shell-local`): the testinfra checks
# tests/infra/test_common.py and tests/infra/test_image.py against the build VM, over SSH with the
# build's key, from the repository root. Packer passes the connection in the environment:
#   DCOS_IMAGE_HOST, DCOS_IMAGE_PORT, DCOS_IMAGE_USER, DCOS_IMAGE_SSH_PRIVATE_KEY (the key itself;
#   when empty, DCOS_IMAGE_SSH_KEY_FILE)
#   DCOS_IMAGE_PYTHON  the Python with pytest and pytest-testinfra (default python3)
# A user other than root (the cloud images' admin/packer users) runs the checks with --sudo.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
umask 077
if [ -n "${DCOS_IMAGE_SSH_PRIVATE_KEY:-}" ]; then
  printf '%s\n' "$DCOS_IMAGE_SSH_PRIVATE_KEY" >"$tmp/key"
else  # Packer 1.6.6 gives no key content when the key comes from a file (qemu)
  cp "$DCOS_IMAGE_SSH_KEY_FILE" "$tmp/key"
fi
cat >"$tmp/ssh_config" <<CONFIG
Host dcos-image
  HostName $DCOS_IMAGE_HOST
  Port $DCOS_IMAGE_PORT
  User $DCOS_IMAGE_USER
  IdentityFile $tmp/key
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
CONFIG
set -- --hosts=ssh://dcos-image --ssh-config="$tmp/ssh_config"
if [ "$DCOS_IMAGE_USER" != root ]; then
  set -- "$@" --sudo
fi
"${DCOS_IMAGE_PYTHON:-python3}" -m pytest -p no:cacheprovider -q \
  tests/infra/test_common.py tests/infra/test_image.py "$@"
