"""A scenario's preview, beside `scheduler.coordinators.explain`: a test activity, and a dry run on real data."""
