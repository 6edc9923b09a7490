"""Whether runs happen and how they go: /healthz and the admin banner, Prometheus metrics, the outside ping."""
