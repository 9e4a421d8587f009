from .backup import backup_name, make_backup

__all__ = ["backup_name", "make_backup"]
