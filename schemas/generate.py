"""Writes schemas/json/*.json from the models: `python -m schemas.generate` (after a change),
`--check` exits 1 when the checked-in files drift from the models."""

import json
import sys
from pathlib import Path

from schemas.envelope import Envelope
from schemas.registry import PAYLOADS

OUT = Path(__file__).resolve().parent / "json"


def rendered() -> dict[str, str]:
    files = {"Envelope.json": Envelope.model_json_schema()}
    for (event_type, version), model in sorted(PAYLOADS.items()):
        schema = model.model_json_schema()
        schema["$id"] = f"https://coinstream.dev/schemas/{event_type}/v{version}"
        files[f"{event_type}.v{version}.json"] = schema
    return {name: json.dumps(s, indent=2, sort_keys=True) + "\n" for name, s in files.items()}


def drift() -> list[str]:
    want = rendered()
    have = {p.name: p.read_text() for p in OUT.glob("*.json")}
    return sorted(n for n in want.keys() | have.keys() if want.get(n) != have.get(n))


def main() -> None:
    if "--check" in sys.argv:
        changed = drift()
        if changed:
            sys.exit(f"schemas drifted from the models: {changed}; run python -m schemas.generate")
        return
    OUT.mkdir(exist_ok=True)
    for name, text in rendered().items():
        (OUT / name).write_text(text)


if __name__ == "__main__":
    main()
