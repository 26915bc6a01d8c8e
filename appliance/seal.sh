#!/bin/sh
# Seal an appliance image: the last step of an image build (packer/build.pkr.hcl), as root.
#
# Removes what belongs to the build VM and must not be shared by every VM booted from the image:
# SSH host keys (regenerated at boot: by cloud-init on cloud images, by the base image's
# ssh-keygen unit otherwise), the build's authorised keys, the machine-id (systemd makes a new one
# at first boot), cloud-init's state (so it runs again on the new instance), boot settings and
# first-boot state, logs, apt caches and temporary files.
set -eu

echo "seal: cloud-init state"
if command -v cloud-init >/dev/null 2>&1; then
  cloud-init clean --logs --seed || cloud-init clean --logs
fi
rm -rf /var/lib/cloud/instance /var/lib/cloud/instances/*

echo "seal: dcos-core boot settings and first-boot state"
rm -f /etc/dcos-core/appliance.toml /etc/dcos-core/firstboot.json
# the image's host checks (tests/infra/test_image_sealed.py) select on this role
grep -qx sealed /etc/dcos-core/roles || echo sealed >>/etc/dcos-core/roles

echo "seal: SSH host keys and authorised keys"
rm -f /etc/ssh/ssh_host_*
rm -f /root/.ssh/authorized_keys
for home in /home/*; do
  [ -d "$home/.ssh" ] && rm -f "$home/.ssh/authorized_keys"
done

echo "seal: machine-id"
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id

echo "seal: logs, caches, temporary files"
apt-get clean
rm -rf /var/lib/apt/lists/*
if command -v journalctl >/dev/null 2>&1; then
  journalctl --rotate >/dev/null 2>&1 || true
  journalctl --vacuum-time=1s >/dev/null 2>&1 || true
fi
find /var/log -type f \( -name '*.gz' -o -name '*.[0-9]' \) -delete
find /var/log -type f -exec truncate -s 0 {} +
rm -rf /tmp/* /var/tmp/* /root/.cache
rm -f /root/.bash_history
sync
echo "seal: done"
