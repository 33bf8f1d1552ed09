"""schemas/asyncapi.yaml through the official AsyncAPI parser (@asyncapi/parser, pinned in
tools/asyncapi/package-lock.json, installed by infra.node into .cache/node; Node itself from
Debian's packages when the machine lacks it): no error and no warning, every topic a channel.
A broken copy is refused, so the check is the parser's and not a formality."""

import json
import shutil
from pathlib import Path

import yaml

from infra import node
from schemas import topics

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "asyncapi"
DOCUMENT = ROOT / "schemas" / "asyncapi.yaml"


def test_the_official_parser_validates_the_document():
    done = node.run(TOOL, "validate.js", str(DOCUMENT))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VALID asyncapi 3.0.0" in done.stdout, done.stdout
    channels = json.loads(done.stdout.strip().splitlines()[-1])["channels"]
    assert sorted(channels) == sorted(topics.ALL)


def test_the_official_parser_refuses_a_broken_document(tmp_path):
    doc = yaml.safe_load(DOCUMENT.read_text())
    channel = next(iter(doc["channels"].values()))
    channel["messages"]["Nowhere"] = {"$ref": "#/components/messages/NoSuchMessage"}
    doc["operations"][next(iter(doc["operations"]))]["action"] = "publish"  # 2.x wording
    shutil.copytree(DOCUMENT.parent / "json", tmp_path / "json")  # its references resolve
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(yaml.safe_dump(doc, sort_keys=False))
    done = node.run(TOOL, "validate.js", str(broken))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "INVALID" in done.stdout
    assert "NoSuchMessage" in done.stdout or "action" in done.stdout, done.stdout
