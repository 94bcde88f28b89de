"""``netcon exporter``: what netcon measures, from inside the container namespaces, as Prometheus metrics."""
