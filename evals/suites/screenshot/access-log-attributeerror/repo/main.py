"""Requests per status code and the slowest endpoints in logs/access.log."""

from weblog.parser import parse_file
from weblog.summary import summarize

if __name__ == "__main__":
    print(summarize(parse_file("logs/access.log")))
