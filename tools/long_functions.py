#!/usr/bin/env python3
"""Lists the functions in C++ sources longer than a limit: `long_functions.py [--max N] FILE...`.

It counts braces with strings, character literals, raw strings and comments blanked out. Namespace,
class, struct, union and enum bodies are scopes it looks into; any other brace opened there after a
`(` (a function or lambda body at that level) starts a function, which runs from the line after the
previous statement to its closing brace. Exit status 1 when a function is over the limit."""
import argparse
import re
import sys

SCOPE = re.compile(r"\b(namespace|class|struct|union|enum)\b[^()]*$")


def blank(text):
    """The text with comments and literals replaced by spaces (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2) + 2
            j = n if j < 2 else j
        elif re.match(r'R"([^(\s]*)\(', text[i:i + 20]):
            delim = re.match(r'R"([^(\s]*)\(', text[i:]).group(1)
            j = text.find(")" + delim + '"', i) + len(delim) + 2
        elif text[i] in "\"'" and not (text[i] == "'" and i > 0 and text[i - 1].isalnum()):
            quote, j = text[i], i + 1
            while j < n and text[j] != quote:
                j += 2 if text[j] == "\\" else 1
            j += 1
        else:
            out.append(text[i])
            i += 1
            continue
        out.append("".join(c if c == "\n" else " " for c in text[i:j]))
        i = j
    return "".join(out)


def functions(path):
    """(name, first line, last line) of every function body in the file."""
    text = blank(open(path, encoding="utf-8").read())
    stack = []  # per open brace: "scope", "function" or "inner"
    start, head, found = 1, "", []
    line = 1
    for ch in text:
        if ch == "\n":
            line += 1
        in_function = any(kind == "function" for kind, _ in stack)
        if ch == "{":
            if in_function:
                stack.append(("inner", 0))
            elif SCOPE.search(head) or "(" not in head:
                stack.append(("scope", 0))
            else:
                name = re.findall(r"([~\w:]+)\s*\(", head)
                stack.append(("function", (name[0] if name else "?", start)))
            head = ""
        elif ch == "}":
            kind, info = stack.pop() if stack else ("scope", 0)
            if kind == "function":
                found.append((info[0], info[1], line))
            if not in_function or kind == "function":
                head, start = "", line + 1
        elif ch == ";" and not in_function:
            head, start = "", line + 1
        elif not in_function:
            if not head.strip() and ch.isspace():
                start = line
            head += ch
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=80, help="the longest a function may be, in lines")
    parser.add_argument("--top", type=int, default=0, help="also print the N longest functions")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    every = [(last - first + 1, path, name, first) for path in args.files for name, first, last in functions(path)]
    every.sort(reverse=True)
    for length, path, name, first in every[:args.top]:
        print(f"{length:5d} {path}:{first} {name}")
    over = [f for f in every if f[0] > args.max]
    for length, path, name, first in over:
        print(f"{path}:{first}: {name} is {length} lines (over {args.max})", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
