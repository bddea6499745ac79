"""Write or check docs/events/<kind>.json, the JSON Schema of each domain event's `detail`,
generated from the pydantic models in functions/loyalty_engine/events/models.py.

python scripts/event_schemas.py write   # regenerate
python scripts/event_schemas.py check   # fail when the committed schemas drifted from the models
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "events"
SCHEMA_BASE = "urn:loyalty-engine:events:"


def render() -> dict[str, str]:
    """File name -> its text, one per event kind."""
    from loyalty_engine.events.models import MODELS_BY_KIND, SOURCE

    documents = {}
    for kind, model in MODELS_BY_KIND.items():
        schema = model.model_json_schema(mode="serialization")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{SCHEMA_BASE}{kind}",
            "description": (
                f"The `detail` of an EventBridge event with source `{SOURCE}` and detail-type `{kind}`. "
                + (model.__doc__ or "").strip()
            ).strip(),
            **schema,
        }
        documents[f"{kind}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return documents


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    documents = render()
    if command == "write":
        TARGET.mkdir(parents=True, exist_ok=True)
        for stale in set(p.name for p in TARGET.glob("*.json")) - set(documents):
            (TARGET / stale).unlink()
        for name, text in documents.items():
            (TARGET / name).write_text(text)
        print(f"wrote {len(documents)} schemas in {TARGET.relative_to(ROOT)}")
        return 0
    present = {p.name: p.read_text() for p in TARGET.glob("*.json")} if TARGET.exists() else {}
    if present != documents:
        drifted = sorted(
            set(present) ^ set(documents) | {n for n in documents if present.get(n) != documents[n]}
        )
        print(
            f"docs/events/ is out of date ({', '.join(drifted)}): run `make openapi` and commit it",
            file=sys.stderr,
        )
        return 1
    print(f"docs/events/ matches the {len(documents)} event models")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
