from .convert import c_to_f, f_to_c, parse_reading

__all__ = ["c_to_f", "f_to_c", "parse_reading"]
