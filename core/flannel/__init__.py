"""Flannel over etcd: the network config, subnet leases, subnet.env, docker options, the vxlan kernel state and
a flanneld-compatible agent, all matching flanneld's formats."""
