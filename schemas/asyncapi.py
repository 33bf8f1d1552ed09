"""The AsyncAPI 3.0 document of the contract (schemas/asyncapi.yaml), built from the models,
the topic table (schemas.topics: OWNER publishes, READERS consume) and CARRIED_ON.

Each message is one (type, version): an envelope (json/Envelope.json) whose `type` and
`dataversion` are fixed and whose `data` is that version's payload schema (json/<type>.v<n>
.json), both referenced, not copied, so the document and the JSON Schemas cannot disagree.
"""

from typing import Any

from schemas import headers, topics
from schemas.events.base import Payload
from schemas.registry import CARRIED_ON, PAYLOADS

KAFKA_BINDING = "0.5.0"
# The value's media type: the envelope is a CloudEvent in the JSON event format.
STRUCTURED_MEDIA_TYPE = headers.STRUCTURED_CONTENT_TYPE.split(";")[0]

SIGNED_HEADERS = {
    "type": "object",
    "description": "Every message on an owned topic is signed by the topic's owner "
    "(docs/event-signing.md) and in the CloudEvents Kafka binding's structured content mode "
    "(docs/contract.md; messages published before the binding carry no content-type and are "
    "still read).",
    "required": [headers.CONTENT_TYPE, headers.KEY_ID, headers.SIGNATURE],
    "properties": {
        headers.CONTENT_TYPE: {
            "type": "string",
            "const": headers.STRUCTURED_CONTENT_TYPE,
            "description": "The value is the whole CloudEvent as JSON (structured mode); "
            "ce_* headers are optional and must then match the event",
        },
        headers.KEY_ID: {
            "type": "string",
            "description": "Id of the owner's Ed25519 key in the keyring, `<owner>-<16 hex>`",
        },
        headers.SIGNATURE: {
            "type": "string",
            "description": "Raw 64-byte Ed25519 signature over the contract topic name, "
            "the key and the value, each length-prefixed",
        },
    },
}
# The dead-letter headers (eventkit.deadletter writes them).
DEAD_LETTER_HEADERS = {
    "type": "object",
    "description": "Why the message could not be applied, where it was read and by whom.",
    "required": list(headers.DEAD_LETTER),
    "properties": {name: {"type": "string"} for name in headers.DEAD_LETTER},
}
AGGREGATE_KEY = {
    "type": "string",
    "description": "The envelope's `aggregateid` (UTF-8): one aggregate's events stay in "
    "order on one partition",
}


def message_id(model: type[Payload]) -> str:
    return f"{model.event_type}.v{model.version}"


def channel_id(topic: str) -> str:
    return topic.removeprefix("coinstream.").replace(".", "-")


def _summary(model: type[Payload]) -> str:
    return " ".join((model.__doc__ or model.event_type).split())


def _message(model: type[Payload]) -> dict[str, Any]:
    return {
        "name": model.event_type,
        "title": f"{model.event_type} v{model.version}",
        "summary": _summary(model),
        "contentType": STRUCTURED_MEDIA_TYPE,
        "headers": {"$ref": "#/components/schemas/SignedHeaders"},
        "payload": {
            "allOf": [
                {"$ref": "json/Envelope.json"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": model.event_type},
                        "dataversion": {"const": model.version},
                        "data": {"$ref": f"json/{message_id(model)}.json"},
                    },
                },
            ]
        },
        # Inline: the binding's `key` is "a Reference or a Schema", and a {"$ref"} is both.
        "bindings": {"kafka": {"key": AGGREGATE_KEY, "bindingVersion": KAFKA_BINDING}},
    }


def _models_on(topic: str) -> list[type[Payload]]:
    return [m for (t, _), m in sorted(PAYLOADS.items()) if CARRIED_ON[t] == topic]


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in topics.ALL:
        cid = channel_id(topic)
        ref = {"$ref": f"#/channels/{cid}"}
        if topic == topics.DEAD_LETTER:
            channels[cid] = {
                "address": topic,
                "title": "Dead letters",
                "description": "Messages a consumer could not apply, as they were read (key "
                "and value unchanged), with the reason in a header. Every principal may "
                "write it; operators read it, and the projections worker reads its headers to count "
                "dead letters by reason for the ops view (never the values).",
                "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
                "bindings": {
                    "kafka": {"partitions": topics.PARTITIONS, "bindingVersion": KAFKA_BINDING}
                },
            }
            continue
        models = _models_on(topic)
        channels[cid] = {
            "address": topic,
            "title": topic,
            "description": f"Published by {topics.OWNER[topic]}; read by "
            f"{', '.join(topics.READERS[topic])}. Keyed by the envelope's aggregateid.",
            "messages": {
                message_id(m): {"$ref": f"#/components/messages/{message_id(m)}"} for m in models
            },
            "bindings": {
                "kafka": {"partitions": topics.PARTITIONS, "bindingVersion": KAFKA_BINDING}
            },
        }
        messages = [{"$ref": f"#/channels/{cid}/messages/{message_id(m)}"} for m in models]
        operations[f"{topics.OWNER[topic]}.send.{cid}"] = {
            "action": "send",
            "channel": ref,
            "summary": f"{topics.OWNER[topic]} publishes (and signs) {topic}",
            "messages": messages,
        }
        for reader in topics.READERS[topic]:
            operations[f"{reader}.receive.{cid}"] = {
                "action": "receive",
                "channel": ref,
                "summary": f"{reader} consumes {topic}",
                "messages": messages,
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Coinstream event contract",
            "version": "1.0.0",
            "description": "Kafka topics of Coinstream: which types each carries, their "
            "payload schemas (schemas/json), the key and headers, who publishes and who "
            "consumes. Generated by `python -m schemas.generate`; the evolution rules are "
            "schemas/COMPATIBILITY.md.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": {
                "SignedHeaders": SIGNED_HEADERS,
                "DeadLetterHeaders": DEAD_LETTER_HEADERS,
            },
            "messages": {
                **{message_id(m): _message(m) for _, m in sorted(PAYLOADS.items())},
                "DeadLetter": {
                    "name": "DeadLetter",
                    "summary": "A message some consumer refused, unchanged, with the reason",
                    "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
                    "payload": {"description": "The refused message's value, as read"},
                },
            },
        },
    }
