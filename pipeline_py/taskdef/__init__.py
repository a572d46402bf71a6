"""Task definitions: jinja2 render, botocore-model validation, normalise, diff, register.

``from pipeline_py import taskdef; taskdef.render(...)`` is the interface the rest of the
package uses; the submodules hold one concern each.
"""

from __future__ import annotations

from pipeline_py.taskdef.diffing import canonical_json, diff, same
from pipeline_py.taskdef.image_ref import resolve_image, version_of
from pipeline_py.taskdef.live import from_live, latest_active, register, service_task_definition
from pipeline_py.taskdef.normalisation import DESCRIBE_ONLY, normalise, strip_describe_only
from pipeline_py.taskdef.template import Rendered, render, render_template, template_context
from pipeline_py.taskdef.validation import FARGATE_SIZES, problems, validate

__all__ = [
    "DESCRIBE_ONLY",
    "FARGATE_SIZES",
    "Rendered",
    "canonical_json",
    "diff",
    "from_live",
    "latest_active",
    "normalise",
    "problems",
    "register",
    "render",
    "render_template",
    "resolve_image",
    "same",
    "service_task_definition",
    "strip_describe_only",
    "template_context",
    "validate",
    "version_of",
]
