"""The loopback news site both feed and watch tests poll: real RIA article HTML from the corus samples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.feed_site import Page, Site, Story, ria_stories, start_site


@pytest.fixture(scope="module")
def stories(shared_dir: Path) -> list[Story]:
    """The RIA stories of ../shared's corus samples."""
    return ria_stories(shared_dir)


@pytest.fixture(scope="module")
def site(stories: list[Story]) -> Iterator[Site]:
    """A loopback site serving every story's page; feeds are added by each test."""
    site, server = start_site()
    for story in stories:
        site.routes[f"/news/{story.slug}.html"] = Page(story.page())
    yield site
    server.shutdown()
