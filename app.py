"""Start the web chat on the demo corpus: ``python app.py`` (settings from ASSISTANT_* variables)."""

from __future__ import annotations

from assistant.settings import Settings
from assistant.web import serve

if __name__ == "__main__":
    serve(Settings(), demo=True)
