#!/usr/bin/env python3
"""Checks that the library's layers form no cycle: every `crate::a::b` a file under src/ names is
an edge from its module to `a::b`'s module, at the depth the layers are drawn: top-level modules,
and one level down inside `import` (plan, apply, prune, ... must not lean on each other in
circles). Inside `objects` the registry and the kinds it lists refer to each other by design, so
`objects` is one layer. Prints any cycle and exits 1; `-v` prints the graph."""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
DEEP = {"import"}  # modules whose children are layers of their own
USE = re.compile(r"crate::((?:\w+::)*\w+)")


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
            text = open(os.path.join(root, f), encoding="utf-8").read()
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
            # `super::a` names a sibling of this module.
            for m in re.finditer(r"super::((?:\w+::)*)\{([^}]*)\}|super::((?:\w+::)*\w+)", text):
                names = [m.group(3)] if m.group(3) else [
                    m.group(1) + i.strip().split(" as ")[0] for i in m.group(2).split(",") if i.strip()]
                for name in names:
                    dep = module_of(rel[:-1] + [p for p in name.split("::") if p])
                    if dep and dep != me:
                        edges.setdefault(me, set()).add(dep)
            for m in USE.finditer(text):
                dep = module_of(m.group(1).split("::"))
                if dep and dep != me and not dep.startswith("{"):
                    edges.setdefault(me, set()).add(dep)
    return edges


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
    sys.exit(1 if found else 0)
