"""The lab: the seed's whole scenario on one machine — Docker hosts in network namespaces on an underlay
bridge, one etcd — recorded in one state file so that ``down`` and ``status`` never guess."""
