#!/usr/bin/env bash
# Set up everything dcos-core needs on Debian 12 (as root): Debian packages, a virtualenv in
# .venv with dcos-core and its test tools. Idempotent: re-running it only fills what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

need_debs=()
command -v python3 >/dev/null || need_debs+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_debs+=(python3-venv)
command -v git >/dev/null || need_debs+=(git)
# The Docker containerizer's tests start their own engine and import a static busybox image.
{ command -v dockerd || [ -x /usr/sbin/dockerd ]; } >/dev/null || need_debs+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need_debs+=(busybox-static)  # static: copied into images
# The load balancer (`dcos-core lb`) runs its own HAProxy; the Debian service must not start.
{ command -v haproxy || [ -x /usr/sbin/haproxy ]; } >/dev/null || need_debs+=(haproxy)
# Real test hosts (tests/testhosts.py): a bookworm rootfs built with mmdebstrap, booted with
# systemd-nspawn in network namespaces on a bridge, reached over ssh, fed by a flat apt repo.
command -v mmdebstrap >/dev/null || need_debs+=(mmdebstrap)
command -v systemd-nspawn >/dev/null || need_debs+=(systemd-container)
{ command -v ssh && command -v ssh-keygen; } >/dev/null || need_debs+=(openssh-client)
command -v dpkg-scanpackages >/dev/null || need_debs+=(dpkg-dev)
command -v zstd >/dev/null || need_debs+=(zstd)
{ command -v iptables || [ -x /usr/sbin/iptables ]; } >/dev/null || need_debs+=(iptables)
{ command -v ip || [ -x /usr/sbin/ip ]; } >/dev/null || need_debs+=(iproute2)
# Appliance images (appliance/, packer/): Packer 1.6.6 validates and builds (qemu builder), QEMU
# boots them (software emulation), a bootable disk without loop devices (grub-pc-bin, qemu-img),
# config drives (dosfstools, mtools) and DHCP on the test's private bridge (dnsmasq-base).
command -v packer >/dev/null || need_debs+=(packer)
command -v qemu-system-x86_64 >/dev/null || need_debs+=(qemu-system-x86)
command -v qemu-img >/dev/null || need_debs+=(qemu-utils)
command -v grub-mkimage >/dev/null || need_debs+=(grub-pc-bin)
{ command -v mkfs.vfat || [ -x /usr/sbin/mkfs.vfat ]; } >/dev/null || need_debs+=(dosfstools)
command -v mcopy >/dev/null || need_debs+=(mtools)
{ command -v dnsmasq || [ -x /usr/sbin/dnsmasq ]; } >/dev/null || need_debs+=(dnsmasq-base)
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
stamp=.venv/.dcos-core-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing dcos-core and its test tools into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test]'
  touch "$stamp"
fi
