"""``netcon trace SRC DST``: why can (or can't) A reach B — the path a packet takes through every namespace,
bridge, route, firewall chain and VXLAN tunnel, predicted from kernel state and proven by a real probe.

- ``model``: the hops and the answer, frozen dataclasses (the CLI's --json shape).
- ``hosts``: the hosts the trace can read (this one, or every lab host) and their namespaces.
- ``question``: SRC and DST as the user gives them, checked and resolved.
- ``walk`` and ``links``: the prediction — the kernel's route choice, the netfilter verdicts (``firewall``),
  then the device the packet leaves by: a bridge, a veth, flannel's VXLAN device, the underlay.
- ``probe``, ``nftrace`` and ``proof``: one real packet, captured on every predicted hop at once, its
  netfilter path traced by the kernel where nftables allows it; the first hop where it was not seen.
- ``remote``, ``legs`` and ``remote_proof``: hosts read over SSH (``--via``): the netcon there walks its part
  of the path and captures the probe on its hops.
- ``run``: the whole trace.
"""
