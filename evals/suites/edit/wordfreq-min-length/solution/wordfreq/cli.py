import argparse

from .counter import count_words


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m wordfreq",
                                     description="Count the most common words in a file.")
    parser.add_argument("file", help="text file to read")
    parser.add_argument("--top", type=int, default=None, metavar="N",
                        help="only show the N most common words")
    parser.add_argument("--min-length", type=int, default=1, metavar="N",
                        help="ignore words shorter than N letters")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    with open(args.file, encoding="utf-8") as fh:
        text = fh.read()
    for word, count in count_words(text, top=args.top, min_length=args.min_length):
        print(f"{count:6d}  {word}")
    return 0
