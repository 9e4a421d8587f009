import sys

from .convert import c_to_f, f_to_c, parse_reading


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m thermo READING   (e.g. 21C or 70F)", file=sys.stderr)
        return 2
    try:
        value, unit = parse_reading(argv[0])
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if unit == "F":
        print(f"{f_to_c(value):.1f}°C")
    else:
        print(f"{c_to_f(value):.1f}°F")
    return 0


if __name__ == "__main__":
    sys.exit(main())
