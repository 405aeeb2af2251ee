#!/usr/bin/env python3
"""Checks that api/openapi.json describes exactly the routes the agent serves.

Usage: openapi_check.py SOURCE_DIR

Reads every `const struct route NAME[] = { ... };` table in SOURCE_DIR/api/*.c
(and which of them api/routes.c registers), loads SOURCE_DIR/api/openapi.json,
and fails (exit 1, one line per difference) when:
  - the document is not valid JSON, or has no "paths" object;
  - a route of the tables has no operation in the document, or the document
    has an operation no table serves;
  - an operation has no "responses" object (or an empty one);
  - an operation's x-lmnet-scope differs from the route's SCOPE_*;
  - a {param} of a path is not declared as a path parameter, or a declared
    path parameter is not in the path;
  - a local "$ref" points at nothing;
  - a route table cannot be read, or is defined but not listed in
    api/routes.c (or listed but not defined).
Standard library only.
"""
import glob
import json
import os
import re
import sys

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
TABLE_RE = re.compile(r"\bconst\s+struct\s+route\s+(\w+)\s*\[\s*\]\s*=\s*\{")
ENTRY_RE = re.compile(r"^\{\s*HTTP_([A-Z]+)\s*,\s*\"([^\"]*)\"\s*,\s*SCOPE_([A-Z]+)\s*,\s*(\w+)\s*\}$")
END_RE = re.compile(r"^\{\s*0\s*,\s*NULL\s*,\s*0\s*,\s*NULL\s*\}$")


def strip_comments(text):
    """Removes C comments, keeping string literals intact."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_entries(text, start):
    """Reads the initialiser whose '{' is at TEXT[START]: returns its top-level
    {...} entries, whatever else stands between them (only commas and blanks
    are expected), and the index after its closing '}' (None if unclosed)."""
    entries, gaps, depth, entry_start, gap_start = [], [], 0, None, start + 1
    i, in_str = start + 1, False
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "{":
            if depth == 0:
                gaps.append(text[gap_start:i])
                entry_start = i
            depth += 1
        elif c == "}":
            if depth == 0:
                gaps.append(text[gap_start:i])
                rest = "".join(gaps).replace(",", "").strip()
                return entries, rest, i + 1
            depth -= 1
            if depth == 0:
                entries.append(text[entry_start:i + 1])
                gap_start = i + 1
        i += 1
    return entries, "", None


def normalise_path(pattern):
    """The route pattern in OpenAPI's form: {name} stays, :name and <name> become {name}."""
    segs = []
    for seg in pattern.split("/"):
        m = re.fullmatch(r":(\w+)|<(\w+)>", seg)
        segs.append("{%s}" % (m.group(1) or m.group(2)) if m else seg)
    return "/".join(segs)


def read_routes(src, errors):
    """Returns {(method, path): (scope, table, file)} of the served routes."""
    tables = {}
    for path in sorted(glob.glob(os.path.join(src, "api", "*.c"))):
        text = strip_comments(open(path, encoding="utf-8").read())
        for m in TABLE_RE.finditer(text):
            name = m.group(1)
            entries, rest, end = split_entries(text, m.end() - 1)
            where = "%s (%s)" % (name, os.path.relpath(path, src))
            if end is None:
                errors.append("route table %s: no closing brace" % where)
            if rest:
                errors.append("route table %s: cannot read %r" % (where, rest[:60]))
            routes = []
            for e in entries:
                e1 = " ".join(e.split())
                em = ENTRY_RE.match(e1)
                if em:
                    routes.append((em.group(1).lower(), em.group(2), em.group(3).lower(), em.group(4)))
                elif not END_RE.match(e1):
                    errors.append("route table %s: cannot read entry %s" % (where, e1))
            if not routes:
                errors.append("route table %s: no routes found" % where)
            if name in tables:
                errors.append("route table %s is defined twice" % name)
            tables[name] = (os.path.relpath(path, src), routes)
    if not tables:
        errors.append("no route tables found in %s/api/*.c" % src)

    routes_c = os.path.join(src, "api", "routes.c")
    registered = None
    if os.path.exists(routes_c):
        text = strip_comments(open(routes_c, encoding="utf-8").read())
        m = re.search(r"api_route_tables\s*\[\s*\]\s*=\s*\{(.*?)\}\s*;", text, re.S)
        if m:
            registered = [t.strip() for t in m.group(1).split(",") if t.strip()]
    if registered is None:
        errors.append("api/routes.c: cannot find the api_route_tables list")
        registered = list(tables)
    for name in registered:
        if name not in tables:
            errors.append("api/routes.c lists %s, which no api/*.c defines" % name)
    for name in tables:
        if name not in registered:
            errors.append("route table %s (%s) is not listed in api/routes.c, so it is not served"
                          % (name, tables[name][0]))

    served = {}
    for name in registered:
        if name not in tables:
            continue
        file, routes = tables[name]
        for method, pattern, scope, handler in routes:
            key = (method, normalise_path(pattern))
            if key in served:
                errors.append("%s %s is served twice (%s and %s)" % (method.upper(), key[1],
                                                                    served[key][1], name))
                continue
            served[key] = (scope, name, file, handler)
    return served


def resolve(doc, pointer):
    node = doc
    for part in pointer.lstrip("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def check_refs(doc, node, where, errors):
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str) and r.startswith("#/") and resolve(doc, r) is None:
            errors.append("%s: $ref %s points at nothing" % (where, r))
        for k, v in node.items():
            check_refs(doc, v, where, errors)
    elif isinstance(node, list):
        for v in node:
            check_refs(doc, v, where, errors)


def deref(doc, node):
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        target = resolve(doc, node["$ref"])
        if target is None:
            return node
        node = target
    return node


def check_document(doc, served, errors):
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        errors.append("api/openapi.json has no \"paths\" object")
        return 0
    documented = {}
    for path, item in doc["paths"].items():
        if not isinstance(item, dict):
            errors.append("paths[%s] is not an object" % path)
            continue
        path_params = [p for p in item.get("parameters", []) if isinstance(p, dict)]
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = item[method]
            label = "%s %s" % (method.upper(), path)
            documented[(method, path)] = operation
            if not isinstance(operation, dict):
                errors.append("%s: the operation is not an object" % label)
                continue
            responses = operation.get("responses")
            if not isinstance(responses, dict) or not responses:
                errors.append("%s: no responses object" % label)
            declared = set()
            for p in path_params + [p for p in operation.get("parameters", []) if isinstance(p, dict)]:
                p = deref(doc, p)
                if isinstance(p, dict) and p.get("in") == "path":
                    declared.add(p.get("name"))
                    if p.get("required") is not True:
                        errors.append("%s: path parameter %s must have required: true" % (label, p.get("name")))
            in_path = set(re.findall(r"\{([^}/]+)\}", path))
            for name in sorted(in_path - declared):
                errors.append("%s: path parameter {%s} is not declared" % (label, name))
            for name in sorted(declared - in_path):
                errors.append("%s: declares path parameter %s, which is not in the path" % (label, name))
            key = (method, path)
            if key in served:
                scope = operation.get("x-lmnet-scope")
                if scope != served[key][0]:
                    errors.append("%s: x-lmnet-scope is %r; %s (%s) says SCOPE_%s"
                                  % (label, scope, served[key][1], served[key][2], served[key][0].upper()))
    for key in sorted(served):
        if key not in documented:
            scope, table, file, handler = served[key]
            errors.append("missing from api/openapi.json: %s %s (%s in %s, %s)"
                          % (key[0].upper(), key[1], handler, file, table))
    for key in sorted(documented):
        if key not in served:
            errors.append("api/openapi.json lists %s %s, which no route table serves"
                          % (key[0].upper(), key[1]))
    check_refs(doc, doc, "api/openapi.json", errors)
    return len(documented)


def main(argv):
    if len(argv) != 2:
        print("usage: %s SOURCE_DIR" % os.path.basename(argv[0]), file=sys.stderr)
        return 2
    src = argv[1]
    errors = []
    served = read_routes(src, errors)
    doc_path = os.path.join(src, "api", "openapi.json")
    try:
        with open(doc_path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        errors.append("cannot read %s: %s" % (doc_path, e.strerror))
        doc = None
    except ValueError as e:
        errors.append("%s is not valid JSON: %s" % (doc_path, e))
        doc = None
    n = check_document(doc, served, errors) if doc is not None else 0
    if errors:
        for e in errors:
            print("openapi: " + e)
        print("openapi: %d problem(s); the document must list exactly the routes of api/*.c" % len(errors))
        return 1
    print("openapi: %d operations match the route tables" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
