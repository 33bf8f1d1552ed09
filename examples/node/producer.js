// Publishes one AccountProfileUpdated as the `accounts` principal and one PlaceTransactionBan
// as `moderation`, each validated against the published schemas first, signed with the
// principal's key (<PRINCIPAL>_SIGNING_KEY) and in the CloudEvents structured mode.
// Kafka passwords: <PRINCIPAL>_KAFKA_PASSWORD (SASL is on when they are set).
// Usage: SCHEMAS_DIR=schemas/json node producer.js <profile user id> <banned user id>
"use strict";
const crypto = require("crypto");
const { kafka, topic, schemas, signer } = require("./common");

function envelope(source, type, aggregateid, data) {
  const id = crypto.randomUUID();
  return {
    specversion: "1.0", id, source, type, dataversion: 1, time: new Date().toISOString(),
    subject: data.user_id, datacontenttype: "application/json", aggregateid,
    aggregateversion: 1, correlationid: id, causationid: null, data,
  };
}

async function publish(principal, contractTopic, doc, check) {
  const why = check(doc);
  if (why) throw new Error(`refusing to publish an invalid ${doc.type}: ${why}`);
  const P = principal.toUpperCase();
  const password = process.env[`${P}_KAFKA_PASSWORD`];
  const client = kafka(`coinstream-node-${principal}`, password ? principal : undefined, password);
  const producer = client.producer({ idempotent: true });
  await producer.connect();
  const key = doc.aggregateid; // the binding's key: the aggregate, so its events keep order
  const value = JSON.stringify(doc);
  const headers = signer(principal, process.env[`${P}_SIGNING_KEY`])(contractTopic, key, value);
  await producer.send({ topic: topic(contractTopic), acks: -1, messages: [{ key, value, headers }] });
  await producer.disconnect();
  return { principal, topic: contractTopic, id: doc.id, type: doc.type };
}

async function main([profileUser, bannedUser]) {
  const check = schemas(process.env.SCHEMAS_DIR);
  const sent = [];
  sent.push(await publish("accounts", "coinstream.accounts.events", envelope(
    "/accounts", "AccountProfileUpdated", `account-${profileUser}`,
    { user_id: profileUser, country: "DE", birthdate: "1990-04-01", account_type: "personal", timezone: "UTC" },
  ), check));
  const banId = `node-${crypto.randomUUID()}`;
  sent.push(await publish("moderation", "coinstream.moderation.commands", envelope(
    "/moderation", "PlaceTransactionBan", `ban-${banId}`,
    { ban_id: banId, user_id: bannedUser, scopes: ["gift"], reason: "node example" },
  ), check));
  console.log(JSON.stringify(sent));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e);
  process.exit(1);
});
