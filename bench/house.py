#!/usr/bin/env python3
"""The shape of the code, for the before/after table of a restructuring.

    python3 bench/house.py [ROOT]

Prints the largest source files, the ten longest functions, the number of test binaries
(`cargo metadata`: targets of kind "test") and the lines of code per layer (non-blank lines
of `.rs` files, test modules included, since they live beside the code they test).
Reads files only; runs `cargo metadata --offline`.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

FN = re.compile(r"^\s*(pub(\([a-z:]+\))?\s+)?(const\s+)?(async\s+)?fn\s+(\w+)")

LAYERS = [
    ("pure crate (domain/)", ["domain/src"]),
    ("shell (common/)", ["common/src"]),
    ("operator tooling (ops/)", ["ops/src"]),
    ("binaries (salesapp/, reportsengine/)", ["salesapp/src", "reportsengine/src"]),
    ("end-to-end tests (tests/)", ["tests"]),
    ("benchmarks (benches/, bench/)", ["benches", "bench"]),
]


def code_only(text):
    """The text with strings, chars and comments blanked (newlines kept), so braces can be counted."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j])); i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 12]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            close = '"' + hashes
            j = text.find(close, i + 2 + len(hashes))
            j = n if j < 0 else j + len(close)
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j])); i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j])); i = j
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]) or (c == "'" and re.match(r"'\\[xu]", text[i:i + 3])):
            j = text.find("'", i + 2) + 1
            out.append(" " * (j - i)); i = j
        else:
            out.append(c); i += 1
    return "".join(out)


def functions(path):
    lines = code_only(path.read_text(errors="replace")).split("\n")
    for i, line in enumerate(lines):
        if re.match(r"^\s*#\[cfg\(test\)\]", line):
            return  # the rest of the file is its test module
        m = FN.match(line)
        if not m:
            continue
        depth, started = 0, False
        for j in range(i, len(lines)):
            if not started and ";" in lines[j] and "{" not in lines[j]:
                break
            depth += lines[j].count("{") - lines[j].count("}")
            started = started or "{" in lines[j]
            if started and depth <= 0:
                yield m.group(5), j - i + 1
                break


def rust_files(root, folder):
    base = root / folder
    return sorted(p for p in base.rglob("*.rs") if "target" not in p.parts) if base.exists() else []


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    # Test modules of their own (`tests.rs`) are left out of the sizes and functions, as the
    # before-stop hook does: they are the code's tests, not the code.
    sources = [p for folder in ["domain/src", "common/src", "salesapp/src", "reportsengine/src"]
               for p in rust_files(root, folder) if p.name != "tests.rs"]
    sizes = sorted(((len(p.read_text().splitlines()), p.relative_to(root)) for p in sources), reverse=True)
    fns = sorted(((n, f"{p.relative_to(root)}:{name}") for p in sources for name, n in functions(p)), reverse=True)
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1"],
        cwd=root, capture_output=True, check=True, text=True).stdout)
    tests = [t["name"] for pkg in meta["packages"] for t in pkg["targets"] if "test" in t["kind"]]

    print(f"largest source file: {sizes[0][1]} ({sizes[0][0]} lines)")
    print("ten longest functions: " + ", ".join(f"{w} {n}" for n, w in fns[:10]))
    print(f"test binaries: {len(tests)} ({', '.join(tests)})")
    counted = set()
    for name, folders in reversed(LAYERS):  # the narrower folder claims its files first
        files = [p for f in folders for p in rust_files(root, f) if p not in counted]
        counted.update(files)
        loc = sum(1 for p in files for line in p.read_text().splitlines() if line.strip())
        LAYERS[LAYERS.index((name, folders))] = (name, folders, loc, len(files))
    for name, _, loc, n in LAYERS:
        print(f"  {name}: {loc} lines in {n} files")


if __name__ == "__main__":
    main()
