"""Words of Django's admin, django-q2 and django-axes that their Norwegian catalogues lack.

Nothing calls this module: it is here so `makemessages` keeps these words in the
project's catalogue (scheduler/locale), which comes before the libraries' own
because `scheduler` is first in INSTALLED_APPS. A word listed here is looked up
under the very msgid the library uses.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop, ngettext_lazy

DJANGO_ADMIN = (
    gettext_noop("Skip to main content"),
    gettext_noop("Start typing to filter…"),
    gettext_noop("Filter navigation items"),
    gettext_noop("Sidebar"),
    gettext_noop("Breadcrumbs"),
    gettext_noop("Show counts"),
    gettext_noop("Hide counts"),
    gettext_noop("Toggle theme (current theme: auto)"),
    gettext_noop("Toggle theme (current theme: light)"),
    gettext_noop("Toggle theme (current theme: dark)"),
    gettext_noop("Error:"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("Model name"),
    gettext_noop("Select all objects on this page for an action"),
    gettext_noop("Select this object for an action - {}"),
    # Django's "Legg til ny %(name)s" is wrong for every neuter name ("ny scenario").
    gettext_noop("Add %(name)s"),
    gettext_noop("Add %s"),
)
FORM_ERRORS = ngettext_lazy("Please correct the error below.", "Please correct the errors below.")
DJANGO_Q = (
    gettext_noop("Successful tasks"),
    gettext_noop("Failed tasks"),
    gettext_noop("Scheduled tasks"),
    gettext_noop("Queued tasks"),
    gettext_noop("Successful task"),
    gettext_noop("Failed task"),
    gettext_noop("Scheduled task"),
    gettext_noop("Queued task"),
)
AXES = (
    gettext_noop("access attempts"),
    gettext_noop("access failures"),
    gettext_noop("access logs"),
    gettext_noop("access attempt"),
    gettext_noop("access failure"),
    gettext_noop("access log"),
    gettext_noop("access attempt expirations"),
)
