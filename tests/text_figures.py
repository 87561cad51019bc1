"""The figures of a line the user reads, in order: what a test of a message pins, leaving its wording free."""
import re

# A clock (m:ss) or a number, as the messages write them.
FIGURE = re.compile(r"\d+:\d\d|\d+(?:\.\d+)?")


def figures(text: str) -> list[str]:
    return FIGURE.findall(text)
