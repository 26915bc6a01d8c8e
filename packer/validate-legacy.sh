#!/usr/bin/env bash
# Validate this directory with Packer 1.6.6 (Debian's packer, builders built in), offline:
#
#   packer/validate-legacy.sh [packer validate options...]
#   packer/validate-legacy.sh -only=qemu.dcos -var qemu_base_image=/tmp/base.qcow2 \
#       -var qemu_ssh_private_key_file=/tmp/key
#
# Packer 1.6.6 does not know `required_plugins`, so it validates "the directory without
# packer.pkr.hcl": every other *.pkr.hcl is copied into a temporary mirror of the repository
# (the other files of packer/ and the repository's top-level entries are symlinked), so that
# `path.root/..` still reaches the repository (appliance/seal.sh, pyproject.toml). Relative
# paths in the options are relative to the current directory, as with `packer validate`.
# Exit status: that of `packer validate` ($PACKER, default packer).
set -euo pipefail

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
CHECKPOINT_DISABLE=1 "${PACKER:-packer}" validate "$@" "$tmp/packer" || status=$?
exit "$status"
