"""Where gemma-code keeps what it can rebuild: assembled models, parsed tags, measured facts."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR_ENV = "GEMMA_CODE_CACHE_DIR"


def user_cache_dir() -> Path:
    """`GEMMA_CODE_CACHE_DIR` when set, else the platform's cache directory for gemma-code."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("gemma-code"))
