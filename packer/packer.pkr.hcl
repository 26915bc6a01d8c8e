# Current Packer (1.10+) only: the plugins the sources in this directory need. Install them with
# `packer init packer/` before `packer build packer/`. Packer 1.6.6 (Debian) has these builders
# built in and does not know `required_plugins`: legacy.sh validates the directory
# without this file. Keep this the only block here.
packer {
  required_version = ">= 1.10.0"
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.2.0"
    }
    azure = {
      source  = "github.com/hashicorp/azure"
      version = ">= 2.0.0"
    }
    qemu = {
      source  = "github.com/hashicorp/qemu"
      version = ">= 1.1.0"
    }
  }
}
