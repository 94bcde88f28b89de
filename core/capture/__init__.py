"""Packet capture on any interface of any namespace netcon knows, tcpdump's filters compiled by libpcap into
the kernel, decoded down to the frame inside VXLAN, saved as pcapng.

``bpf`` compiles filters; ``ring`` is one packet socket with its kernel ring; ``session`` captures on several
interfaces at once; ``targets`` turns what the user names into interfaces; ``decode``, ``layers`` and
``summary`` make sense of a frame; ``pcapng`` writes and reads files; ``flows`` keeps bounded results.
"""
