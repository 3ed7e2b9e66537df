"""The Slack app manifest with the configured slash command: ``python -m assistant.slackbot.manifest``."""

from __future__ import annotations

import re
from pathlib import Path

MANIFEST_PATH = Path(__file__).resolve().parent.parent.parent / "slack" / "manifest.yml"
_COMMAND_LINE = re.compile(r"^(\s*- command: )/\S+", re.MULTILINE)


def render_manifest(command: str, template: str | None = None) -> str:
    """``slack/manifest.yml`` (or ``template``) with its slash command renamed to ``command``."""
    text = MANIFEST_PATH.read_text(encoding="utf-8") if template is None else template
    return _COMMAND_LINE.sub(lambda m: m.group(1) + command, text, count=1)


def main() -> None:
    """Print the manifest for the current settings (ASSISTANT_SLACK_COMMAND)."""
    from ..settings import Settings

    print(render_manifest(Settings().slack_command), end="")


if __name__ == "__main__":
    main()
