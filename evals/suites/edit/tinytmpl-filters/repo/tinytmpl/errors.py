class TemplateError(Exception):
    """A template could not be parsed or rendered."""
