"""Admin pages beyond Django's own: previews, verdicts, the live rule sentence, run now."""
