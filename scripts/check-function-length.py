#!/usr/bin/env python3
"""Lists the longest functions of lib/ and tools/, and checks the size limits.

Usage: scripts/check-function-length.py [--check] [--most N] [--allow WHAT]... [SOURCE_DIR]

The limits that keep the code readable (README, "Layout"):

  * a library function (lib/**/*.cpp, *.hpp) stays under 120 lines;
  * a tool (tools/*.cpp) is at most 150 lines, and its main() at most 60:
    a tool declares its options and calls the library.

A function's length is its lines of code from the first line of its
declaration to its closing brace (blank and comment-only lines not counted);
a tool's length is all its lines. Functions are found by following braces with comments, strings and
character literals removed: a brace at namespace or class scope whose header
holds a parameter list opens a function; lambdas and local classes count
towards the function they are in.

Prints the longest functions (--most, default 15), longest first, then the tools;
with --check, exits 1 when a limit is exceeded and names each excess. --allow
names a known excess that does not fail the check (still listed): a tool file
(tools/sinkhorn.cpp) or a function (tools/train-register.cpp:main,
lib/orbit/ot/exact.cpp:emd), for code whose split is under way.
"""
import argparse
import os
import re
import sys

LIB_FUNCTION_LIMIT = 120  # a library function must stay below this
TOOL_FILE_LIMIT = 150
TOOL_MAIN_LIMIT = 60

RAW_STRING = re.compile(r'R"([^(\s"\\]{0,16})\(')


def strip_code(text):
    """The text with comments, string and character literals blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == "R" and RAW_STRING.match(text, i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = RAW_STRING.match(text, i)
            end = ")" + m.group(1) + '"'
            j = text.find(end, m.end())
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == '"' or (c == "'" and not (i > 0 and text[i - 1].isalnum())):  # 1'000 digit separators aside
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        elif c == "#" and (i == 0 or text[i - 1] == "\n"):  # a preprocessor line (continuations too)
            j = i
            while True:
                k = text.find("\n", j)
                if k < 0:
                    j = n
                    break
                if text[k - 1] != "\\":
                    j = k
                    break
                out.append("\n")
                j = k + 1
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


SCOPE_WORDS = re.compile(r"^\s*(template\s*<.*>\s*)?(namespace|extern\s*\"\"|struct|class|union|enum)\b", re.S)
CONTROL = re.compile(r"\b(if|for|while|switch|catch|do|else|try)\s*$")


def functions(path):
    """(name, first line, last line, lines of code) of every function defined in the file."""
    with open(path, encoding="utf-8") as f:
        code = strip_code(f.read())
    found = []
    stack = []  # scope kinds: ns, class, func, block; with the function's name and first line
    header_start = 0  # index where the current declaration began
    for i, c in enumerate(code):
        if c == "{":
            inside_function = any(kind in ("func", "block") for kind, _, _ in stack)
            header = code[header_start:i]
            if inside_function:
                stack.append(("block", None, 0))
            elif SCOPE_WORDS.match(header) and "(" not in header.split("{")[0].split(":")[0]:
                stack.append(("ns" if "namespace" in header or "extern" in header else "class", None, 0))
            elif ")" in header and not CONTROL.search(header.strip()) and "=" not in header.split("(")[0]:
                first = header_start + len(header) - len(header.lstrip())
                name = re.findall(r"([~\w:]+(?:operator\s*\S+?)?)\s*\(", header)
                stack.append(("func", name[0] if name else "?", code.count("\n", 0, first) + 1))
            else:
                stack.append(("block", None, 0))
            header_start = i + 1
        elif c == "}":
            if stack:
                kind, name, line = stack.pop()
                if kind == "func":
                    found.append((name, line, code.count("\n", 0, i) + 1))
            header_start = i + 1
        elif c == ";":
            if not any(kind in ("func", "block") for kind, _, _ in stack):
                header_start = i + 1
    lines = code.split("\n")
    code_lines = lambda a, b: sum(1 for k in range(a - 1, b) if lines[k].strip())
    return [(name, first, last, code_lines(first, last)) for name, first, last in found]


def sources(root, folder, endings):
    for base, _, files in os.walk(os.path.join(root, folder)):
        for f in sorted(files):
            if f.endswith(endings):
                yield os.path.join(base, f)


def main():
    ap = argparse.ArgumentParser(description="Longest functions of lib/ and tools/, and the size limits.")
    ap.add_argument("source_dir", nargs="?", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--check", action="store_true", help="exit 1 when a limit is exceeded")
    ap.add_argument("--most", type=int, default=15, help="how many of the longest functions to list")
    ap.add_argument("--allow", action="append", default=[], help="a known excess (FILE or FILE:FUNCTION) that does not fail")
    args = ap.parse_args()
    root = os.path.abspath(args.source_dir)
    rel = lambda p: os.path.relpath(p, root)
    rows, problems = [], []
    for path in sources(root, "lib", (".cpp", ".hpp", ".cu")):
        for name, first, last, n in functions(path):
            rows.append((n, f"{rel(path)}:{first}", name))
            if n >= LIB_FUNCTION_LIMIT:
                problems.append((f"{rel(path)}:{name}", f"{rel(path)}:{first}: {name} is {n} lines (a library function stays under {LIB_FUNCTION_LIMIT})"))
    tools = []
    for path in sources(root, "tools", (".cpp",)):
        with open(path, encoding="utf-8") as f:
            lines = f.read().count("\n")
        main_lines = 0
        for name, first, last, n in functions(path):
            rows.append((n, f"{rel(path)}:{first}", name))
            if name == "main":
                main_lines = n
        tools.append((lines, main_lines, rel(path)))
        if lines > TOOL_FILE_LIMIT:
            problems.append((rel(path), f"{rel(path)}: {lines} lines (a tool is at most {TOOL_FILE_LIMIT})"))
        if main_lines > TOOL_MAIN_LIMIT:
            problems.append((f"{rel(path)}:main", f"{rel(path)}: main() is {main_lines} lines (at most {TOOL_MAIN_LIMIT})"))
    rows.sort(key=lambda r: (-r[0], r[1]))
    print(f"longest functions (lib/ and tools/; a library function stays under {LIB_FUNCTION_LIMIT} lines):")
    for n, where, name in rows[: args.most]:
        print(f"  {n:5d}  {where}  {name}")
    print(f"tools (at most {TOOL_FILE_LIMIT} lines, main() at most {TOOL_MAIN_LIMIT}):")
    for lines, main_lines, path in sorted(tools, reverse=True):
        print(f"  {lines:5d}  main {main_lines:3d}  {path}")
    failing = [text for key, text in problems if key not in args.allow]
    for key, text in problems:
        if key in args.allow:
            print("known: " + text)
    if args.check and failing:
        for text in failing:
            print("FAIL: " + text, file=sys.stderr)
        return 1
    if args.check:
        print(f"ok: {len(rows)} functions, {len(tools)} tools within the limits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
