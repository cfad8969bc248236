#!/usr/bin/env python3
"""golden-normalise.py ROOT OUT DIR: makes one fixture case's outputs in DIR comparable with its
goldens, rewriting the files in place. This is the only place tests/integration/golden_outputs.sh
weakens its byte-for-byte comparison, and only for what differs from run to run:

- The fixture tree's path (what --root was given) becomes @ROOT@, the --out directory @OUT@
  (plan.json records both).
- Every identifier the plan draws at random (the value of every JSON field whose name is "uuid"
  or ends in "_uuid": partition, filesystem and array UUIDs, FAT volume ids) becomes UUID-<n>,
  numbered in order of first appearance across all files of the case (plan.json first, then
  render/plan.json, then every other file by name). An array UUID also appears in mdadm's
  notation (8:8:8:8 hex digits); that form becomes MDADM-UUID-<n>, with the same n.

Nothing else is touched: GPT type GUIDs are constants and stay verbatim, and a UUID-like string
that no plan contains (a rendered file using another UUID than its plan.json) stays verbatim too,
so it differs from the golden, which holds another random value or a UUID-<n>.
"""
import json
import pathlib
import re
import sys

CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PLANS = ["plan.json", "render/plan.json"]


def random_ids(obj):
    """The values of the plan's random identifier fields, in document order."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if (key == "uuid" or key.endswith("_uuid")) and isinstance(value, str):
                yield value
            else:
                yield from random_ids(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from random_ids(value)


def spellings(ident):
    """(text as written in some output, token prefix) for each way an identifier is written."""
    yield ident, "UUID"
    if CANONICAL.fullmatch(ident):
        hexdigits = ident.replace("-", "")
        yield ":".join(hexdigits[i:i + 8] for i in range(0, 32, 8)), "MDADM-UUID"


def main():
    root, out, case = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    plans = [case / name for name in PLANS if (case / name).is_file()]
    others = sorted(p for p in case.rglob("*") if p.is_file() and p not in plans)
    files = plans + others
    texts = {p: p.read_text(encoding="utf-8", errors="surrogateescape") for p in files}

    written = {}  # spelling -> (identifier, token prefix)
    for path in plans:
        if texts[path].strip():
            for ident in random_ids(json.loads(texts[path])):
                for text, prefix in spellings(ident):
                    written[text] = (ident, prefix)

    number = {}  # identifier -> n, by first appearance

    def token(match):
        ident, prefix = written[match.group(0)]
        n = number.setdefault(ident, len(number) + 1)
        return f"{prefix}-{n}"

    any_id = re.compile("|".join(re.escape(t) for t in sorted(written, key=len, reverse=True))) if written else None
    for path in files:
        text = texts[path].replace(out, "@OUT@").replace(root, "@ROOT@")
        if any_id:
            text = any_id.sub(token, text)
        path.write_text(text, encoding="utf-8", errors="surrogateescape")


if __name__ == "__main__":
    main()
