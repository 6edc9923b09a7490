"""A scenario's preview, beside `scheduler.explain`: a test activity, and a dry run on real data."""
