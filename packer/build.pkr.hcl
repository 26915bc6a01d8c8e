# How the dcos-core appliance image is made, the same way for every source: wait for boot,
# install with the project's pyinfra roles (from this machine, over the build's SSH connection),
# check it with the testinfra image checks, seal it; then record it in <output_dir>/manifest.json.
# Valid for Packer 1.6.6 and current Packer alike.

build {
  sources = [
    "source.amazon-ebs.dcos",
    "source.azure-arm.dcos",
    "source.qemu.dcos",
  ]

  # 1. Wait until the machine has finished booting (cloud-init on the cloud images).
  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; {{ .Vars }} sudo -E sh '{{ .Path }}'"
    inline = [
      "if command -v cloud-init >/dev/null; then cloud-init status --wait || true; fi",
      "systemctl is-system-running --wait || true",
    ]
  }

  # 2. Install: the project's pyinfra roles, run from the repository root against the build VM
  #    (inventories/image.py reads these variables). This is the only way the image is installed.
  provisioner "shell-local" {
    environment_vars = [
      "DCOS_IMAGE_HOST=${build.Host}",
      "DCOS_IMAGE_PORT=${build.Port}",
      "DCOS_IMAGE_USER=${build.User}",
      "DCOS_IMAGE_SSH_PRIVATE_KEY=${build.SSHPrivateKey}",
      # Packer 1.6.6 leaves build.SSHPrivateKey empty when the key comes from a file (qemu)
      "DCOS_IMAGE_SSH_KEY_FILE=${abspath(var.qemu_ssh_private_key_file)}",
      "DCOS_IMAGE_ROLES=${var.roles}",
      "DCOS_IMAGE_DOCKER=${var.docker_enabled}",
      "DCOS_IMAGE_VERSION=${var.dcos_version}",
    ]
    inline = [
      "set -eu",
      "cd \"${local.repo}\"",
      "${var.pyinfra} -y inventories/image.py deploy.py",
    ]
  }

  # 3. Check: the testinfra image checks (tests/infra) against the build VM, from this machine
  #    over SSH with the build's key (check-image.sh; --sudo when the user is not root).
  provisioner "shell-local" {
    environment_vars = [
      "DCOS_IMAGE_HOST=${build.Host}",
      "DCOS_IMAGE_PORT=${build.Port}",
      "DCOS_IMAGE_USER=${build.User}",
      "DCOS_IMAGE_SSH_PRIVATE_KEY=${build.SSHPrivateKey}",
      "DCOS_IMAGE_SSH_KEY_FILE=${abspath(var.qemu_ssh_private_key_file)}",
      "DCOS_IMAGE_PYTHON=${var.python}",
    ]
    script = "${abspath(path.root)}/check-image.sh"
  }

  # 4. Seal: remove SSH host keys, build keys, machine-id, logs; `cloud-init clean` (as root).
  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; {{ .Vars }} sudo -E sh '{{ .Path }}'"
    script          = "${local.repo}/appliance/seal.sh"
  }

  # 5. Azure only: deprovision the Azure Linux agent and the build user (the documented last step).
  provisioner "shell" {
    only            = ["azure-arm.dcos"]
    execute_command = "chmod +x {{ .Path }}; {{ .Vars }} sudo -E sh '{{ .Path }}'"
    inline_shebang  = "/bin/sh -x"
    inline = [
      "/usr/sbin/waagent -force -deprovision+user && export HISTSIZE=0 && sync",
    ]
  }

  post-processor "manifest" {
    output     = "${var.output_dir}/manifest.json"
    strip_path = true
    custom_data = {
      dcos_version   = local.dcos_version
      roles          = var.roles
      docker_enabled = var.docker_enabled ? "true" : "false"
    }
  }
}
