from datetime import date

import pytest

from blog.posts import Post
from blog.slug import slugify


@pytest.mark.parametrize("title, slug", [
    ("Hello,  World!", "hello-world"),
    ("Hello World", "hello-world"),
    ("  Already-slugged   title ", "already-slugged-title"),
    ("C++ & Rust: a comparison", "c-rust-a-comparison"),
    ("Version 2.0 released!!!", "version-2-0-released"),
    ("...why?", "why"),
    ("plain", "plain"),
])
def test_slugify(title, slug):
    assert slugify(title) == slug


def test_post_url():
    post = Post("News -- May 2024?", "body", date(2024, 5, 1))
    assert post.url == "/posts/news-may-2024"
