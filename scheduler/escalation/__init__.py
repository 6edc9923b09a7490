"""Escalation: a finished prompt not followed up in time is told to the mentor's coordinators."""
