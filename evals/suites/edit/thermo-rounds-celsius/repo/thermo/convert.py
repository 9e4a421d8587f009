"""Temperature conversions."""


def f_to_c(fahrenheit):
    """Degrees Fahrenheit to degrees Celsius."""
    return (fahrenheit - 32) * 5 // 9


def c_to_f(celsius):
    """Degrees Celsius to degrees Fahrenheit."""
    return celsius * 9 / 5 + 32


def parse_reading(text):
    """'98.6F' -> (98.6, 'F'); '-4c' -> (-4.0, 'C')."""
    text = text.strip()
    unit = text[-1:].upper()
    if unit not in ("C", "F"):
        raise ValueError(f"expected a reading like 21C or 70F, got {text!r}")
    return float(text[:-1]), unit
