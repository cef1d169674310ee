#!/usr/bin/env python3
"""tests/layering.py: the folders are layers, and this keeps the picture true.

1. Includes: a file under one layer includes only headers of its own layer
   or a lower one (acl < core < store < workers < plugin; tools and tests may
   include any layer).
2. No circles between files: no two object files of the product each call
   a function the other defines (read from `nm` of the build's objects).

usage: tests/layering.py SOURCE_DIR BUILD_DIR
Prints every violation and "layering: clean" when there is none.
"""
import os
import re
import subprocess
import sys

LAYERS = ["acl", "core", "store", "workers", "plugin"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def headers_by_layer(src):
    owner = {}
    for layer in LAYERS:
        for name in os.listdir(os.path.join(src, layer)):
            if name.endswith(".h"):
                owner[name] = layer
    return owner


def include_violations(src):
    owner = headers_by_layer(src)
    problems = []
    for rank, layer in enumerate(LAYERS):
        folder = os.path.join(src, layer)
        for name in sorted(os.listdir(folder)):
            if not name.endswith((".c", ".h")):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                for header in INCLUDE.findall(f.read()):
                    target = owner.get(os.path.basename(header))
                    if target and LAYERS.index(target) > rank:
                        problems.append(f"{layer}/{name} includes {header} of the higher layer {target}/")
    return problems


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("T", "D", "B", "R"):
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
    return defined, used


def product_objects(build):
    found = []
    for layer in LAYERS:
        for root, _dirs, files in os.walk(os.path.join(build, layer)):
            found += [os.path.join(root, f) for f in files if f.endswith(".c.o")]
    return found


def circle_violations(build):
    objects = {o: symbols(o) for o in product_objects(build)}
    if not objects:
        return [f"no object files under {build}: build first"]
    problems = []
    names = sorted(objects)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            a_uses_b = objects[a][1] & objects[b][0]
            b_uses_a = objects[b][1] & objects[a][0]
            if a_uses_b and b_uses_a:
                short = lambda p: os.path.relpath(p, build).replace("CMakeFiles/", "")
                problems.append(f"{short(a)} and {short(b)} call each other "
                                f"({sorted(a_uses_b)[0]} / {sorted(b_uses_a)[0]})")
    return problems


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    problems = include_violations(sys.argv[1]) + circle_violations(sys.argv[2])
    for p in problems:
        print("layering:", p)
    if problems:
        sys.exit(1)
    print("layering: clean")


if __name__ == "__main__":
    main()
