"""The dispatch benchmark behind `python manage.py bench_dispatch`.

It builds its own tagged data set, measures the evaluation against a naive
per-activity design and a hand-written SQL floor, dispatches through the real
pipeline to a loopback HTTP server, and reads each size's peak memory in a
fresh process.
"""
