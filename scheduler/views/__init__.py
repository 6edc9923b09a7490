"""Public views outside the admin that are not monitoring: the browser's favicon."""
