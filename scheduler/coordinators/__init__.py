"""What coordinators see beyond the admin's model pages: why a prompt is due, charts, the report, the preview."""
