"""Write or check docs/openapi.json, the OpenAPI document generated from the code.

python scripts/openapi.py write   # regenerate
python scripts/openapi.py check   # fail when the committed document drifted from the code
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "openapi.json"


def render() -> str:
    from loyalty_engine.handlers.openapi import document

    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    text = render()
    if command == "write":
        TARGET.write_text(text)
        print(f"wrote {TARGET.relative_to(ROOT)}")
        return 0
    if not TARGET.exists() or TARGET.read_text() != text:
        print("docs/openapi.json is out of date: run `make openapi` and commit it", file=sys.stderr)
        return 1
    print("docs/openapi.json matches the code")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
