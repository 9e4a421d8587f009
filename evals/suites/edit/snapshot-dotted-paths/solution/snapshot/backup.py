import os
import shutil
from datetime import datetime

STAMP_FORMAT = "%Y%m%d-%H%M"


def backup_name(path, stamp):
    """'notes.txt' -> 'notes.<stamp>.txt'; a file without extension gets '.<stamp>' appended."""
    base, ext = os.path.splitext(path)
    if ext:
        return f"{base}.{stamp}{ext}"
    return f"{path}.{stamp}"


def make_backup(path, when=None):
    """Copy `path` to its timestamped backup name next to it; returns the new path."""
    when = when or datetime.now()
    target = backup_name(str(path), when.strftime(STAMP_FORMAT))
    shutil.copy2(path, target)
    return target
