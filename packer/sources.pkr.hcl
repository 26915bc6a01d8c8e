# The three builders of the dcos-core appliance image, all named `dcos`; build.pkr.hcl installs
# them with the project's pyinfra roles. Valid for Packer 1.6.6 and current Packer alike.

locals {
  # The repository root, absolute: what a relative path given to file() is relative to differs
  # between Packer versions (1.6.6: the template directory).
  repo = "${abspath(path.root)}/.."
  # "" = the version of this checkout: `version` in the [project] table of pyproject.toml.
  dcos_version = var.dcos_version != "" ? var.dcos_version : regex_replace(
    file("${local.repo}/pyproject.toml"),
    "(?s)^(?:.*?\\n)?\\[project\\][^\\[]*?\\nversion = \"([^\"]+)\".*$",
    "$1",
  )
  # Image names allow fewer characters than versions (e.g. no "+").
  version_label = regex_replace(local.dcos_version, "[^A-Za-z0-9._-]", "-")
  build_time    = timestamp()
  build_stamp   = formatdate("YYYYMMDDhhmmss", local.build_time)
  image_name    = "dcos-core-${local.version_label}-${local.build_stamp}"
  tags = {
    Name              = local.image_name
    dcos_core_version = local.dcos_version
    roles             = var.roles
    docker_enabled    = var.docker_enabled ? "true" : "false"
    build_time        = local.build_time
  }
}

# AWS: an EBS-backed AMI from the official Debian 12 image (owner: the Debian cloud team).
source "amazon-ebs" "dcos" {
  region        = var.aws_region
  instance_type = var.aws_instance_type
  source_ami_filter {
    filters = {
      name                = "debian-12-amd64-*"
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["136693071363"]
    most_recent = true
  }
  ssh_username    = "admin"
  ami_name        = local.image_name
  ami_description = "dcos-core ${local.dcos_version} appliance (roles ${var.roles}) on Debian 12"
  ami_regions     = var.aws_ami_regions
  ami_groups      = var.aws_ami_groups
  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = var.aws_root_volume_size
    volume_type           = "gp3"
    throughput            = 125
    iops                  = 3000
    delete_on_termination = true
  }
  tags          = local.tags
  snapshot_tags = local.tags
  run_tags      = local.tags
}

# Azure: a managed image from the Debian 12 (gen2) marketplace image; authenticates with the
# Azure CLI's login. build.pkr.hcl ends it with the waagent deprovisioning step.
source "azure-arm" "dcos" {
  use_azure_cli_auth                = true
  location                          = var.azure_location
  vm_size                           = var.azure_vm_size
  os_type                           = "Linux"
  image_publisher                   = "Debian"
  image_offer                       = "debian-12"
  image_sku                         = "12-gen2"
  managed_image_resource_group_name = var.azure_resource_group
  managed_image_name                = local.image_name
  azure_tags                        = local.tags
}

# QEMU: a qcow2 from a local Debian 12 base image, for local images and CI. The guest's network
# is always QEMU user networking with restrict=on (no way out of the VM); only the SSH port is
# forwarded, on 127.0.0.1. The serial console goes to <output_dir>/qemu-console.log.
source "qemu" "dcos" {
  disk_image           = true
  iso_url              = var.qemu_base_image
  iso_checksum         = "none"
  accelerator          = var.qemu_accelerator
  headless             = true
  format               = "qcow2"
  disk_size            = var.qemu_disk_size
  disk_interface       = "virtio"
  net_device           = "virtio-net"
  cpus                 = var.qemu_cpus
  memory               = var.qemu_memory
  output_directory     = "${var.output_dir}/qemu"
  vm_name              = "dcos-core.qcow2"
  ssh_username         = "root"
  ssh_private_key_file = var.qemu_ssh_private_key_file
  ssh_timeout          = "10m"
  shutdown_command     = "systemctl poweroff"
  boot_wait            = "1s" # no boot command to type: SSH is waited for anyway
  vnc_bind_address     = "127.0.0.1"
  host_port_min        = 2222
  host_port_max        = 4444
  qemuargs = [
    ["-netdev", "user,id=user.0,restrict=on,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"],
    ["-device", "virtio-net,netdev=user.0"],
    ["-serial", "file:${var.output_dir}/qemu-console.log"],
  ]
}
