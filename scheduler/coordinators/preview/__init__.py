"""A scenario's preview, beside `scheduler.coordinators.explain`: a test activity, and a preview on real data."""
