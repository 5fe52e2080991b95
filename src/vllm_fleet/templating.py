"""Jinja rendering shared by the two template folders (images/templates/, templates/): strict
about undefined names, and every template problem reported as one RenderError naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from vllm_fleet.errors import RenderError


def strict_environment(folder: Path, **options: Any) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        **options,
    )


def render(env: jinja2.Environment, name: str, **context: Any) -> str:
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as err:
        raise RenderError(err.name or name, err.lineno, err.message or "") from err
    except jinja2.TemplateNotFound as err:
        folder = getattr(env.loader, "searchpath", ["?"])[0]
        raise RenderError(str(err), None, f"template not found in {folder}") from err
    except jinja2.UndefinedError as err:
        raise RenderError(name, None, str(err)) from err
