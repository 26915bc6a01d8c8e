"""dcos-core appliance images: the local recipe for a bootable Debian 12 disk (base_image)."""
