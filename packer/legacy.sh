#!/usr/bin/env bash
# Run this directory with Packer 1.6.6 (Debian's packer, builders built in):
#
#   packer/legacy.sh validate [packer validate options...]      # offline; what CI checks
#   packer/legacy.sh validate -only=qemu.dcos -var qemu_base_image=/tmp/base.qcow2 \
#       -var qemu_ssh_private_key_file=/tmp/key
#   packer/legacy.sh build -only=qemu.dcos -var qemu_accelerator=tcg ...   # the CI image build
#
# Packer 1.6.6 does not know `required_plugins`, so it runs "the directory without
# packer.pkr.hcl": every other *.pkr.hcl is copied into a temporary mirror of the repository
# (the other files of packer/ and the repository's top-level entries are symlinked), so that
# `path.root/..` still reaches the repository (appliance/seal.sh, pyproject.toml). Relative
# paths in the options are relative to the current directory, as with `packer`.
# Exit status: that of packer ($PACKER, default packer).
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: packer/legacy.sh validate|build|console|inspect [packer options...]" >&2
  exit 2
fi
command=$1
shift

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dcos-packer-legacy.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

shopt -s nullglob
for entry in "$repo"/*; do
  [ "$entry" = "$here" ] || ln -s "$entry" "$tmp/"
done
mkdir "$tmp/packer"
for file in "$here"/*; do
  case "$(basename "$file")" in
    packer.pkr.hcl) ;;
    *.pkr.hcl) cp "$file" "$tmp/packer/" ;;
    *) ln -s "$file" "$tmp/packer/" ;;
  esac
done

status=0
CHECKPOINT_DISABLE=1 "${PACKER:-packer}" "$command" "$@" "$tmp/packer" || status=$?
exit "$status"
