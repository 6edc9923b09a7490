"""The dispatch benchmark behind `python manage.py bench_dispatch`: a development app.

It builds its own tagged data set, measures the evaluation against a naive
per-activity design and a hand-written SQL floor, dispatches through the real
pipeline and Supabase backend to a loopback push server, and reads each size's
peak memory in a fresh process. `config/settings.py` installs it only when
DEBUG or BENCH is on; the scheduler app never imports it.
"""
