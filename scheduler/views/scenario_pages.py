"""The scenario's live sentence endpoint and its preview page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from scheduler.explain import sentence
from scheduler.forms import DryRunForm, ScenarioForm, SimulationForm
from scheduler.models import Scenario
from scheduler.preview.dry_run import dry_run
from scheduler.preview.simulation import TestActivity, simulate

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


def describe_view(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The sentence of an unsaved scenario built from the form's current values."""
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    form = ScenarioForm(request.GET, user=request.user)
    form.is_valid()
    scenario = Scenario()
    for name, value in form.cleaned_data.items():
        setattr(scenario, name, value)
    return JsonResponse({"sentence": sentence(scenario), "errors": form.errors.get_json_data()})


def preview_view(model_admin: ModelAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    scenario = model_admin.get_object(request, object_id)
    if scenario is None:
        raise Http404
    if not model_admin.has_view_or_change_permission(request, scenario):
        raise PermissionDenied
    now = timezone.now()
    simulation_form = SimulationForm(
        request.GET if "sim-kind" in request.GET else None, scenario=scenario
    )
    dry_run_form = DryRunForm(request.GET if "dry-days" in request.GET else None)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": scenario,
        "title": scenario.name,
        "scenario": scenario,
        "sentence": sentence(scenario),
        "simulation_form": simulation_form,
        "dry_run_form": dry_run_form,
        "media": model_admin.media + simulation_form.media,
        "has_view_permission": True,
    }
    if simulation_form.is_bound and simulation_form.is_valid():
        data = simulation_form.cleaned_data
        test = TestActivity(
            data["kind"], data["occurred_at"], data["wellbeing_concern"], data["followed_up"]
        )
        context["simulation"] = simulate(scenario, test, now)
    if dry_run_form.is_bound and dry_run_form.is_valid():
        context["dry_run"] = dry_run(scenario, request.user, now, dry_run_form.cleaned_data["days"])
    return TemplateResponse(request, "admin/scheduler/scenario/preview.html", context)
