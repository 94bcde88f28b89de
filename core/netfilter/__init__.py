"""iptables as the kernel applies it, modelled once for the doctor and the trace: ``rules`` parses what
``iptables-save -c`` prints (every table, with packet counters), ``evaluate`` walks a chain for a described
packet to its first terminal verdict (filter verdicts and Docker's NAT: DNAT for published ports, SNAT and
MASQUERADE), ``read`` runs ``iptables-save`` inside a namespace.
"""
