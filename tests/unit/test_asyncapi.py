"""schemas/asyncapi.yaml: generated from the models and the topic table (the drift test in
test_schemas.py covers it with the JSON Schemas), valid AsyncAPI 3.0 by the specification's own
JSON Schema (vendored from asyncapi/spec-json-schemas), every reference resolving, and saying
what schemas/topics.py and the registry say."""

import json
from pathlib import Path

import jsonschema_rs
import yaml

from schemas import generate, topics
from schemas.registry import CARRIED_ON, PAYLOADS

HERE = generate.HERE
SPEC = HERE / "vendor" / "asyncapi-3.0.0.schema.json"


def document() -> dict:
    return yaml.safe_load(generate.ASYNCAPI.read_text())


def validator():
    return jsonschema_rs.validator_for(json.loads(SPEC.read_text()))


def test_the_document_is_valid_asyncapi_3():
    errors = [
        f"{list(e.instance_path)}: {e.message[:200]}" for e in validator().iter_errors(document())
    ]
    assert errors == []


def test_the_validation_can_fail():
    doc = document()
    doc["channels"]["gifting-events"]["address"] = 7
    del doc["info"]["version"]
    assert len(list(validator().iter_errors(doc))) >= 2


def refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_reference_resolves():
    doc = document()
    for ref in set(refs(doc)):
        if ref.startswith("#/"):
            target = doc
            for part in ref[2:].split("/"):
                assert part in target, ref
                target = target[part]
        else:  # a published JSON Schema beside the document
            assert (HERE / ref).is_file(), ref
            assert (HERE / ref).parent == HERE / "json"


def test_channels_say_what_the_topic_table_and_the_registry_say():
    doc = document()
    by_address = {c["address"]: (cid, c) for cid, c in doc["channels"].items()}
    assert set(by_address) == set(topics.ALL)
    for event_type, version in PAYLOADS:
        cid, channel = by_address[CARRIED_ON[event_type]]
        assert f"{event_type}.v{version}" in channel["messages"]
        message = doc["components"]["messages"][f"{event_type}.v{version}"]
        data = message["payload"]["allOf"][1]["properties"]
        assert data["data"] == {"$ref": f"json/{event_type}.v{version}.json"}
        assert data["dataversion"] == {"const": version}
    for topic, owner in topics.OWNER.items():
        cid, _ = by_address[topic]
        ops = {
            k: o
            for k, o in doc["operations"].items()
            if o["channel"]["$ref"] == f"#/channels/{cid}"
        }
        assert {k for k, o in ops.items() if o["action"] == "send"} == {f"{owner}.send.{cid}"}
        assert {k.split(".")[0] for k, o in ops.items() if o["action"] == "receive"} == set(
            topics.READERS[topic]
        )


def test_the_vendored_specification_is_the_one_named():
    spec = json.loads(SPEC.read_text())
    assert spec["$schema"].startswith("http://json-schema.org/draft-07/schema")
    assert "3.0.0" in spec["properties"]["asyncapi"]["const"]
    assert Path(SPEC.with_name("README.md")).is_file()
