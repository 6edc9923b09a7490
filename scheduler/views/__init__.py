"""Public views outside the admin: the health check and the Prometheus metrics."""
