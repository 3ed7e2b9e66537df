"""Prompt templates: files in ``prompts/`` rendered with Jinja2, failing loudly on a missing variable.

A template may be split into chat messages by marker lines ``--- system ---`` / ``--- user ---`` /
``--- assistant ---``. The template source is split *before* rendering, so text substituted into a
variable (an article, a question) can never open a new message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

SUFFIXES = (".md", ".txt")
ROLE_MARKER = re.compile(r"^---[ \t]*(system|user|assistant)[ \t]*---[ \t]*\r?\n?", re.MULTILINE)


class PromptError(Exception):
    """A prompt file is missing, malformed, or was rendered without one of its variables."""


def list_prompts(prompts_dir: Path) -> list[str]:
    """Names (file stems) of the prompt templates in the folder, sorted."""
    if not prompts_dir.is_dir():
        return []
    return sorted({p.stem for p in prompts_dir.iterdir() if p.is_file() and p.suffix in SUFFIXES})


def prompt_path(prompts_dir: Path, name: str) -> Path:
    """The file of a prompt (``name.md`` or ``name.txt``); PromptError naming the folder if there is none."""
    for suffix in SUFFIXES:
        path = prompts_dir / f"{name}{suffix}"
        if path.is_file():
            return path
    known = ", ".join(list_prompts(prompts_dir)) or "none"
    raise PromptError(f"no prompt {name!r} ({name}.md or {name}.txt) in {prompts_dir} (known prompts: {known})")


def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True, trim_blocks=True
    )


def prompt_variables(prompts_dir: Path, name: str) -> set[str]:
    """The variables a prompt template uses."""
    from jinja2 import TemplateSyntaxError, meta

    path = prompt_path(prompts_dir, name)
    try:
        return set(meta.find_undeclared_variables(_environment().parse(path.read_text(encoding="utf-8"))))
    except TemplateSyntaxError as exc:
        raise PromptError(f"prompt {path}: template syntax error at line {exc.lineno}: {exc.message}") from exc


def _render(path: Path, source: str, variables: dict[str, str]) -> str:
    from jinja2 import TemplateError, UndefinedError

    try:
        return _environment().from_string(source).render(**variables)
    except UndefinedError as exc:
        raise PromptError(f"prompt {path}: {exc.message} (pass it to render_prompt)") from exc
    except TemplateError as exc:
        raise PromptError(f"prompt {path}: {exc}") from exc


def _check_variables(prompts_dir: Path, name: str, variables: dict[str, str]) -> Path:
    missing = sorted(prompt_variables(prompts_dir, name) - variables.keys())
    path = prompt_path(prompts_dir, name)
    if missing:
        raise PromptError(f"prompt {path}: missing variable(s) {', '.join(missing)}")
    return path


def render_prompt(prompts_dir: Path, name: str, /, **variables: str) -> str:
    """Render a prompt file to one string; PromptError naming the file and any missing variable."""
    path = _check_variables(prompts_dir, name, variables)
    return _render(path, path.read_text(encoding="utf-8"), variables)


def render_messages(prompts_dir: Path, name: str, /, **variables: str) -> list[tuple[str, str]]:
    """Render a prompt file to (role, content) chat messages split at its ``--- role ---`` marker lines."""
    path = _check_variables(prompts_dir, name, variables)
    source = path.read_text(encoding="utf-8")
    parts = ROLE_MARKER.split(source)  # [before, role1, body1, role2, body2, ...]
    if len(parts) == 1:
        return [("user", _render(path, source, variables).strip())]
    if _render(path, parts[0], variables).strip():
        raise PromptError(f"prompt {path}: text before the first '--- role ---' marker line")
    messages = []
    for role, body in zip(parts[1::2], parts[2::2], strict=True):
        messages.append((role, _render(path, body, variables).strip()))
    return messages
