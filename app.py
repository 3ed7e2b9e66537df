"""Start the web chat on the demo corpus: ``python app.py`` (settings from ASSISTANT_* variables)."""

from __future__ import annotations

if __name__ == "__main__":
    from assistant.cli import main

    main(["serve", "--demo"])  # the CLI turns bad settings into one clear line
