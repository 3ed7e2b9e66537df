"""Wiki markup left in article text (Wikinews dumps): cleaned at load time so that quotes read as prose."""

from __future__ import annotations

import re

EXTERNAL_LINK = re.compile(r"\[(?:https?|ftp)://[^\s\]]+(?:\s+([^\]]*))?\]")
INTERNAL_LINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")
EMPHASIS = re.compile(r"'{2,5}(?=\S)(.+?)(?<=\S)'{2,5}")
MEDIA_LINE = re.compile(r"^[ \t]*(?:File|Файл|Image|Изображение|Media|Медиа):[^\n]*\n?", re.MULTILINE | re.IGNORECASE)
THUMB_LINE = re.compile(r"^[ \t]*(?:thumb|мини|миниатюра)(?:\|[^\n]*)?\n?", re.MULTILINE | re.IGNORECASE)
TEMPLATE = re.compile(r"\{\{[^{}\n]*\}\}")
TAG_LINE = re.compile(r"^[ \t]*</?(?:gallery|ref|references)[^>\n]*>[ \t]*\n?", re.MULTILINE | re.IGNORECASE)


def clean_markup(text: str) -> str:
    """Text with wiki links, emphasis quotes, templates and media/thumbnail caption lines removed."""
    if not any(mark in text for mark in ("[", "''", "{{", ":", "thumb", "<")):
        return text
    text = MEDIA_LINE.sub("", text)
    text = THUMB_LINE.sub("", text)
    text = TAG_LINE.sub("", text)
    text = EXTERNAL_LINK.sub(lambda m: m.group(1) or "", text)
    text = INTERNAL_LINK.sub(r"\1", text)
    text = TEMPLATE.sub("", text)
    return EMPHASIS.sub(r"\1", text)
