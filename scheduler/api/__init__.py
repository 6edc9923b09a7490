"""The mentor app's JSON API, mounted at /api/v1/ (see `scheduler.api.api`)."""
