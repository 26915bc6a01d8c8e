# Variables of the dcos-core appliance images. Set them with `-var name=value`, a
# `*.pkrvars.hcl` file (`-var-file=...`) or the environment (`PKR_VAR_name=value`).
# Relative paths are relative to the directory Packer runs in (the repository root in the docs).
# Valid for Packer 1.6.6 and current Packer alike (see README.md).

# --- what goes into the image ----------------------------------------------------------------

variable "dcos_version" {
  type        = string
  default     = ""
  description = "dcos-core version recorded in the image (tags, names, manifest); \"\" = the version of this checkout (pyproject.toml)."
}

variable "roles" {
  type        = string
  default     = "master,agent,public_agent"
  description = "Comma-separated roles the image can boot as (master, agent, public_agent)."
}

variable "docker_enabled" {
  type        = bool
  default     = false
  description = "Install the Docker engine in the image (the deploy's docker_enabled)."
}

# --- build machine ---------------------------------------------------------------------------

variable "output_dir" {
  type        = string
  default     = "build/appliance"
  description = "Directory for the QEMU image (<output_dir>/qemu), its serial console log and manifest.json."
}

variable "pyinfra" {
  type        = string
  default     = "pyinfra"
  description = "pyinfra command that installs the image (run from the repository root), e.g. .venv/bin/pyinfra."
}

variable "python" {
  type        = string
  default     = "python3"
  description = "Python with pytest and pytest-testinfra that runs the image checks (tests/infra), e.g. .venv/bin/python."
}

# --- amazon-ebs ------------------------------------------------------------------------------

variable "aws_region" {
  type        = string
  default     = "us-east-1"
  description = "AWS region the AMI is built in."
}

variable "aws_instance_type" {
  type        = string
  default     = "t3.large"
  description = "EC2 instance type of the build instance."
}

variable "aws_root_volume_size" {
  type        = number
  default     = 16
  description = "Size of the AMI's root volume in GiB."
}

variable "aws_ami_regions" {
  type        = list(string)
  default     = []
  description = "Other regions the AMI is copied to."
}

variable "aws_ami_groups" {
  type        = list(string)
  default     = []
  description = "Groups allowed to launch the AMI; [\"all\"] makes it public."
}

# --- azure-arm -------------------------------------------------------------------------------
# Authentication: the Azure CLI's login (`az login`, or `az login --service-principal ...` in CI).

variable "azure_location" {
  type        = string
  default     = "westeurope"
  description = "Azure region the managed image is built in."
}

variable "azure_resource_group" {
  type        = string
  default     = "dcos-core-images"
  description = "Existing resource group that receives the managed image."
}

variable "azure_vm_size" {
  type        = string
  default     = "Standard_D2s_v5"
  description = "VM size of the build VM."
}

# --- qemu ------------------------------------------------------------------------------------

variable "qemu_base_image" {
  type        = string
  default     = "build/appliance/base.qcow2"
  description = "Debian 12 qcow2 the QEMU image starts from (python -m appliance.base_image); it must let root log in with qemu_ssh_private_key_file."
}

variable "qemu_ssh_private_key_file" {
  type        = string
  default     = "build/appliance/base_key"
  description = "Private SSH key for root on qemu_base_image."
}

variable "qemu_accelerator" {
  type        = string
  default     = "kvm"
  description = "QEMU accelerator: kvm, or tcg where there is no KVM (CI)."
}

variable "qemu_disk_size" {
  type        = string
  default     = "4G"
  description = "Disk size of the QEMU image (the base image is grown to it), e.g. 4G or 4096M."
}

variable "qemu_cpus" {
  type        = number
  default     = 2
  description = "CPUs of the QEMU build VM."
}

variable "qemu_memory" {
  type        = number
  default     = 2048
  description = "Memory of the QEMU build VM in MiB."
}
