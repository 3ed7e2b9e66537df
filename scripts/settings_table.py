"""Print the configuration table for the README from the Settings model (run: python scripts/settings_table.py)."""

from __future__ import annotations

from pathlib import Path

from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def env_name(name: str, field: object) -> str:
    """The environment variable(s) that set a field."""
    alias = getattr(field, "validation_alias", None)
    choices = getattr(alias, "choices", None)
    return " / ".join(f"`{c}`" for c in choices) if choices else f"`ASSISTANT_{name.upper()}`"


def default_of(field: object) -> str:
    """A field's default as shown to users (paths relative to the repository)."""
    factory = getattr(field, "default_factory", None)
    value = factory() if factory else getattr(field, "default", "")
    value = getattr(value, "get_secret_value", lambda: value)()
    if isinstance(value, Path):
        value = value.relative_to(ROOT) if value.is_relative_to(ROOT) else str(value).replace(str(Path.home()), "~")
    return f"`{value}`" if str(value) != "" else "empty"


def main() -> None:
    """Print the markdown table."""
    print("| variable | default | meaning |\n|---|---|---|")
    for name, field in Settings.model_fields.items():
        print(f"| {env_name(name, field)} | {default_of(field)} | {field.description or ''} |")


if __name__ == "__main__":
    main()
