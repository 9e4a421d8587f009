from dataclasses import dataclass, field
from datetime import date

from .slug import slugify


@dataclass
class Post:
    title: str
    body: str
    published: date
    tags: list = field(default_factory=list)

    @property
    def slug(self):
        return slugify(self.title)

    @property
    def url(self):
        return f"/posts/{self.slug}"


def archive(posts):
    """Newest first: a list of (date, title, url)."""
    ordered = sorted(posts, key=lambda p: p.published, reverse=True)
    return [(p.published.isoformat(), p.title, p.url) for p in ordered]
