// What both scripts share: the Kafka connection from the environment, the published JSON
// Schemas (schemas/json) and the signing scheme of docs/event-signing.md.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const { Kafka, logLevel } = require("kafkajs");
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;

// Structured content mode of the CloudEvents Kafka binding (docs/contract.md).
const CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8";

// KAFKA_BROKERS=host:port[,..]; SASL/SCRAM-SHA-512 when KAFKA_SASL_USERNAME is set (the
// principal, password KAFKA_SASL_PASSWORD or passed in); KAFKA_SSL=1 for SASL_SSL.
function kafka(clientId, username, password) {
  const user = username || process.env.KAFKA_SASL_USERNAME;
  const secret = password || process.env.KAFKA_SASL_PASSWORD;
  return new Kafka({
    clientId,
    brokers: (process.env.KAFKA_BROKERS || "127.0.0.1:9092").split(","),
    ssl: process.env.KAFKA_SSL === "1",
    sasl: user ? { mechanism: "scram-sha-512", username: user, password: secret } : undefined,
    logLevel: logLevel.WARN,
  });
}

const topic = (name) => `${process.env.TOPIC_PREFIX || ""}${name}`;

// One validator per (type, version) from the published files alone.
function schemas(dir) {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const load = (file) => JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
  const envelope = ajv.compile(load("Envelope.json"));
  const payloads = {};
  for (const file of fs.readdirSync(dir)) {
    const m = /^(\w+)\.v(\d+)\.json$/.exec(file);
    if (m) payloads[`${m[1]}.v${m[2]}`] = ajv.compile(load(file));
  }
  // null when valid, else why not
  return function check(doc) {
    if (!envelope(doc)) return `envelope: ${ajv.errorsText(envelope.errors)}`;
    const payload = payloads[`${doc.type}.v${doc.dataversion}`];
    if (!payload) return `no schema for ${doc.type} v${doc.dataversion}`;
    if (!payload(doc.data)) return `${doc.type} v${doc.dataversion}: ${ajv.errorsText(payload.errors)}`;
    return null;
  };
}

const unb64 = (text) => Buffer.from(text, "base64url");

// The private key of a principal is the base64url of its raw 32 bytes; its key id is
// `<principal>-<first 16 hex of sha256(public key)>`.
function signer(principal, privateKey) {
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), unb64(privateKey)]);
  const key = crypto.createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  const spki = crypto.createPublicKey(key).export({ format: "der", type: "spki" });
  const publicRaw = spki.subarray(spki.length - 32);
  const kid = `${principal}-${crypto.createHash("sha256").update(publicRaw).digest("hex").slice(0, 16)}`;
  // Signed: the contract topic (no prefix), the key and the value, each length-prefixed.
  return function headers(contractTopic, msgKey, value) {
    const parts = [Buffer.from(contractTopic), Buffer.from(msgKey || ""), Buffer.from(value || "")];
    const framed = Buffer.concat(parts.flatMap((p) => {
      const n = Buffer.alloc(4);
      n.writeUInt32BE(p.length);
      return [n, p];
    }));
    return {
      "coinstream-key-id": Buffer.from(kid),
      "coinstream-signature": crypto.sign(null, framed, key),
      "content-type": Buffer.from(CONTENT_TYPE),
    };
  };
}

module.exports = { CONTENT_TYPE, kafka, topic, schemas, signer };
