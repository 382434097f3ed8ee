#!/usr/bin/env python3
"""Checks that the library's layers form no cycle: every `crate::a::b` a file under src/ names is
an edge from its module to `a::b`'s module, at the depth the layers are drawn: top-level modules,
and one level down inside `import` (plan, apply, prune, ... must not lean on each other in
circles; a child naming `super::x` and its parent's own code naming the child both count).
Inside `objects` the registry and the kinds it lists refer to each other by design, so `objects`
is one layer. Test code (`#[cfg(test)]` parts, `tests.rs`) is left out: a test may reach
across layers. It also holds every file to the size limits docs/development.md gives: a file's
code (its tests left out) at most 400 lines, a function at most 80. Prints any cycle or file or
function over its limit and exits 1; `-v` prints the graph."""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
DEEP = {"import"}  # modules whose children are layers of their own
USE = re.compile(r"crate::((?:\w+::)*\w+)")
SUPER = re.compile(r"((?:super::)+)(?:((?:\w+::)*)\{([^}]*)\}|((?:\w+::)*\w+))")


def exists(*parts):
    base = os.path.join(SRC, *parts)
    return os.path.isfile(base + ".rs") or os.path.isdir(base)


def module_of(parts):
    """The layer a path names, or None when it names no module (a re-export at the root)."""
    if not parts or not exists(parts[0]):
        return None
    if parts[0] in DEEP and len(parts) > 1 and exists(parts[0], parts[1]):
        return f"{parts[0]}::{parts[1]}"
    return parts[0]


def graph():
    edges = {}
    for root, _, files in os.walk(SRC):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), SRC)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            me = module_of(rel) or "lib"
            if f == "tests.rs" or f.endswith("_tests.rs"):
                continue  # tests may reach across layers; the shipped code may not
            text = open(os.path.join(root, f), encoding="utf-8").read()
            text = text.split("#[cfg(test)]")[0]
            # Brace imports: `crate::a::{b, c::d}` names a::b and a::c.
            for m in re.finditer(r"crate::((?:\w+::)*)\{([^}]*)\}", text):
                base = [p for p in m.group(1).split("::") if p]
                for item in m.group(2).split(","):
                    item = item.strip().split(" as ")[0]
                    if item and item != "self":
                        dep = module_of(base + item.split("::"))
                        if dep and dep != me:
                            edges.setdefault(me, set()).add(dep)
                    elif item == "self":
                        dep = module_of(base)
                        if dep and dep != me:
                            edges.setdefault(me, set()).add(dep)
            # `super::a` names a sibling of this module, `super::super::a` one of its parent.
            for m in SUPER.finditer(text):
                up = m.group(1).count("super::")
                names = [m.group(4)] if m.group(4) else [
                    m.group(2) + i.strip().split(" as ")[0] for i in m.group(3).split(",") if i.strip()]
                here = rel[:-up] if up <= len(rel) else []
                for name in names:
                    dep = module_of(here + [p for p in name.split("::") if p])
                    if dep and dep != me:
                        edges.setdefault(me, set()).add(dep)
            # A parent module's own code naming a child (`pass::run(..)`, `use pass::Run`) leans
            # on it; its `mod` lines and re-exports (`pub use`) only declare it.
            if len(rel) == 1 and rel[0] in DEEP:
                code = "\n".join(l for l in text.splitlines()
                                  if not re.match(r"\s*(pub(\([^)]*\))?\s+)?(mod|use)\b", l)
                                  or re.match(r"\s*use\b", l))
                for child in re.findall(r"\b(\w+)::", code):
                    dep = module_of(rel + [child])
                    if dep and dep != me and "::" in dep:
                        edges.setdefault(me, set()).add(dep)
            for m in USE.finditer(text):
                dep = module_of(m.group(1).split("::"))
                if dep and dep != me and not dep.startswith("{"):
                    edges.setdefault(me, set()).add(dep)
    return edges


FILE_LINES, FN_LINES = 400, 80
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def code_lines(line):
    """A line without its string and char literals and its comment, for counting braces."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//")[0]


def fn_end(lines, start, end):
    """The last line of the function whose signature starts at `start` (None: no body)."""
    depth, opened = 0, False
    for j in range(start, end):
        s = code_lines(lines[j])
        for ch in s:
            if ch == "{":
                depth, opened = depth + 1, True
            elif ch == "}":
                depth -= 1
        if not opened and ";" in s:
            return None
        if opened and depth == 0:
            return j
    return None


def too_long():
    """Files whose code (up to their `#[cfg(test)]` part) passes FILE_LINES, and functions in it
    that pass FN_LINES. Test files (`tests.rs`, `*_tests.rs`) are not held to them."""
    out = []
    for root, _, files in os.walk(SRC):
        for f in sorted(files):
            if not f.endswith(".rs") or f == "tests.rs" or f.endswith("_tests.rs"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, os.path.join(SRC, ".."))
            lines = open(path, encoding="utf-8").read().split("\n")
            end = next((i for i, l in enumerate(lines) if l.strip() == "#[cfg(test)]"), len(lines))
            if end > FILE_LINES:
                out.append(f"{rel}: {end} lines of code (limit {FILE_LINES})")
            for i in range(end):
                m = FN.match(lines[i])
                last = fn_end(lines, i, end) if m else None
                if last is not None and last - i + 1 > FN_LINES:
                    out.append(f"{rel}:{i + 1}: fn {m.group(6)} is {last - i + 1} lines (limit {FN_LINES})")
    return out


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    edges = graph()
    if "-v" in sys.argv:
        for k in sorted(edges):
            print(f"{k} -> {', '.join(sorted(edges[k]))}")
    found = cycles(edges)
    for c in found:
        print("module cycle: " + " ".join(c))
    long = too_long()
    for line in long:
        print("too long: " + line)
    sys.exit(1 if found or long else 0)
