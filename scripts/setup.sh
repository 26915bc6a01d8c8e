#!/usr/bin/env bash
# Set up dcos-core on Debian 12 (as root), for one of three uses:
#
#   bash scripts/setup.sh          run a cluster (`dcos-core local`, the daemons, the `dcos` CLI):
#                                  python3-venv and .venv with dcos-core; nothing else
#   bash scripts/setup.sh deploy   also pyinfra and testinfra (install clusters on your hosts,
#                                  bake appliance images): git, openssh-client, packer
#   bash scripts/setup.sh test     everything the test suite uses (.ci/run): the test tools, a
#                                  Docker engine, HAProxy, test hosts (mmdebstrap, nspawn), QEMU...
#
# Idempotent: re-running it only fills what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

mode=${1:-run}
case "$mode" in
  run) extras="" ;;
  deploy) extras="[deploy]" ;;
  test) extras="[test]" ;;
  *) echo "usage: scripts/setup.sh [run|deploy|test]" >&2; exit 2 ;;
esac

need_debs=()
command -v python3 >/dev/null || need_debs+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_debs+=(python3-venv)
if [ "$mode" != run ]; then
  command -v git >/dev/null || need_debs+=(git)
  { command -v ssh && command -v ssh-keygen; } >/dev/null || need_debs+=(openssh-client)
  command -v packer >/dev/null || need_debs+=(packer)  # appliance images (packer/)
fi
if [ "$mode" = test ]; then
  # The Docker containerizer's tests start their own engine and import a static busybox image.
  { command -v dockerd || [ -x /usr/sbin/dockerd ]; } >/dev/null || need_debs+=(docker.io)
  dpkg -s busybox-static >/dev/null 2>&1 || need_debs+=(busybox-static)  # static: copied into images
  # The load balancer (`dcos-core lb`) runs its own HAProxy; the Debian service must not start.
  { command -v haproxy || [ -x /usr/sbin/haproxy ]; } >/dev/null || need_debs+=(haproxy)
  # Real test hosts (tests/testhosts.py): a bookworm rootfs built with mmdebstrap, booted with
  # systemd-nspawn in network namespaces on a bridge, reached over ssh, fed by a flat apt repo.
  command -v mmdebstrap >/dev/null || need_debs+=(mmdebstrap)
  command -v systemd-nspawn >/dev/null || need_debs+=(systemd-container)
  command -v dpkg-scanpackages >/dev/null || need_debs+=(dpkg-dev)
  command -v zstd >/dev/null || need_debs+=(zstd)
  { command -v iptables || [ -x /usr/sbin/iptables ]; } >/dev/null || need_debs+=(iptables)
  { command -v ip || [ -x /usr/sbin/ip ]; } >/dev/null || need_debs+=(iproute2)
  # Appliance images (appliance/, packer/): QEMU boots them (software emulation), a bootable disk
  # without loop devices (grub-pc-bin, qemu-img), config drives (dosfstools, mtools) and DHCP on
  # the test's private bridge (dnsmasq-base).
  command -v qemu-system-x86_64 >/dev/null || need_debs+=(qemu-system-x86)
  command -v qemu-img >/dev/null || need_debs+=(qemu-utils)
  command -v grub-mkimage >/dev/null || need_debs+=(grub-pc-bin)
  { command -v mkfs.vfat || [ -x /usr/sbin/mkfs.vfat ]; } >/dev/null || need_debs+=(dosfstools)
  command -v mcopy >/dev/null || need_debs+=(mtools)
  { command -v dnsmasq || [ -x /usr/sbin/dnsmasq ]; } >/dev/null || need_debs+=(dnsmasq-base)
fi
if ((${#need_debs[@]})); then
  echo "==> installing Debian packages: ${need_debs[*]}"
  apt-get update -qq
  # No service may start at install (dockerd, containerd): a policy-rc.d that says 101 forbids it
  # (these machines have one; add one for the install where there is none).
  rc_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    rc_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$rc_policy" && chmod 755 "$rc_policy"
  fi
  apt-get install -y -qq "${need_debs[@]}" >/dev/null
  [ -z "$rc_policy" ] || rm -f "$rc_policy"
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"dcos-core needs Python 3.11 or newer, found {sys.version.split()[0]}")
PY

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
# One stamp per use; a wider one will do: `test` holds `deploy`'s packages (pyinfra, testinfra)
# and `deploy` holds what `run` needs.
case "$mode" in
  run) stamps="run deploy test" ;;
  deploy) stamps="deploy test" ;;
  test) stamps="test" ;;
esac
installed=""
for m in $stamps; do
  s=.venv/.dcos-core-installed-$m
  if [ -f "$s" ] && [ ! pyproject.toml -nt "$s" ]; then installed=$m; break; fi
done
stamp=.venv/.dcos-core-installed-$mode
if [ -z "$installed" ]; then
  echo "==> installing dcos-core${extras} into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".${extras}"
  touch "$stamp"
fi
