"""Wire messages: the Mesos v1 JSON shapes and the master<->agent internal protocol."""
