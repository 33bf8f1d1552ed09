// Reads the given contract topics from the start up to their current end, validates every
// message against the published JSON Schemas and prints a JSON summary: how many were read,
// the invalid ones with the reason, and the count of GiftSent events (any version).
// Usage: SCHEMAS_DIR=schemas/json node consumer.js coinstream.gifting.events [...]
"use strict";
const { kafka, topic, schemas } = require("./common");

async function main(names) {
  const check = schemas(process.env.SCHEMAS_DIR);
  const client = kafka("coinstream-node-consumer");
  const admin = client.admin();
  await admin.connect();
  const remaining = new Map(); // "topic/partition" -> offset of the last message to read
  for (const name of names) {
    for (const p of await admin.fetchTopicOffsets(topic(name))) {
      if (Number(p.high) > Number(p.low)) remaining.set(`${topic(name)}/${p.partition}`, Number(p.high) - 1);
    }
  }
  await admin.disconnect();
  const summary = { read: 0, invalid: [], giftsent: 0, types: {}, binding: {} };
  if (remaining.size) {
    const group = process.env.KAFKA_GROUP || `coinstream-node-${process.pid}-${Date.now()}`;
    const consumer = client.consumer({ groupId: group });
    await consumer.connect();
    for (const name of names) await consumer.subscribe({ topic: topic(name), fromBeginning: true });
    await new Promise((resolve, reject) => {
      consumer.run({
        eachMessage: async ({ topic: t, partition, message }) => {
          summary.read += 1;
          const ct = message.headers["content-type"];
          const mode = ct ? ct.toString() : "none (published before the binding)";
          summary.binding[mode] = (summary.binding[mode] || 0) + 1;
          let doc = null;
          try {
            doc = JSON.parse(message.value.toString("utf8"));
          } catch (e) {
            summary.invalid.push({ topic: t, offset: message.offset, reason: `not JSON: ${e.message}` });
          }
          if (doc) {
            const why = check(doc);
            if (why) summary.invalid.push({ topic: t, offset: message.offset, reason: why });
            else {
              summary.types[doc.type] = (summary.types[doc.type] || 0) + 1;
              if (doc.type === "GiftSent") summary.giftsent += 1;
            }
          }
          const id = `${t}/${partition}`;
          if (remaining.has(id) && Number(message.offset) >= remaining.get(id)) remaining.delete(id);
          if (!remaining.size) resolve();
        },
      }).catch(reject);
    });
    await consumer.disconnect();
  }
  console.log(JSON.stringify(summary));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e);
  process.exit(1);
});
