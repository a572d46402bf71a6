"""Issue 14: ``--var db_pass=...`` was printed in clear by render, --diff, --register and deploy
--dry-run (7 outputs). Now every one of them, text and --json, shows it redacted, with a warning
pointing to ``secrets:``."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import run_cli
from tests.integration.deploy_fixtures import Project, project

__all__ = ["project"]

VALUE = 'Hunter"2\\Xy9q'
FORMS = (VALUE, json.dumps(VALUE)[1:-1], json.dumps(json.dumps(VALUE))[3:-3], repr(VALUE)[1:-1])


def test_a_secret_looking_var_is_redacted_everywhere(project: Project, aws: Any) -> None:
    template = project.dir / "deploy" / "taskdef.json.j2"
    template.write_text(template.read_text().replace('"APP_ENV": env', '"APP_ENV": env, "DB_SECRET_VALUE": db_pass'))
    var = ["--image", "task-api:v2", "--var", f"db_pass={VALUE}"]
    runs = {
        "render": ["render", *var], "render --diff": ["render", "--diff", *var],
        "render --register --dry-run": ["--dry-run", "render", "--register", *var],
        "render --register": ["render", "--register", *var], "deploy --dry-run": ["--dry-run", "deploy", *var],
    }
    seen = 0
    for name, argv in runs.items():
        for as_json in (False, True):
            r = run_cli(*project.args(*(["--json"] if as_json else []), *argv))
            assert r.code == 0, (name, r.stderr)
            for form in FORMS:
                assert form not in r.stdout and form not in r.stderr, (name, as_json, form)
            assert "(it carries template variable db_pass)" in r.stderr and "secrets:" in r.stderr, name
            seen += "****" in r.stdout + r.stderr
    assert seen >= len(runs)  # the value was there to redact, in each command's output
