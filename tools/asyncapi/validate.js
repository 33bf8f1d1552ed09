// Validates an AsyncAPI document with the official parser (@asyncapi/parser): prints every
// diagnostic and exits 1 when there is an error or a warning (the document is ours to keep clean).
// Usage: node validate.js path/to/asyncapi.yaml
"use strict";
const fs = require("fs");
const { Parser, fromFile } = require("@asyncapi/parser");

const SEVERITY = ["error", "warning", "info", "hint"];

async function main(file) {
  const parser = new Parser();
  const { document, diagnostics } = await fromFile(parser, file).parse();
  for (const d of diagnostics) {
    const where = (d.path || []).join(".");
    console.log(`${SEVERITY[d.severity] || d.severity} ${d.code} at ${where}: ${d.message}`);
  }
  const blocking = diagnostics.filter((d) => d.severity <= 1);
  if (!document || blocking.length) {
    console.log(`INVALID: ${blocking.length} error(s)/warning(s)`);
    process.exit(1);
  }
  const channels = document.channels().all().map((c) => c.address());
  console.log(`VALID asyncapi ${document.version()}: ${channels.length} channels`);
  console.log(JSON.stringify({ channels }));
}

const file = process.argv[2];
if (!file || !fs.existsSync(file)) {
  console.error("usage: node validate.js <asyncapi.yaml>");
  process.exit(2);
}
main(file).catch((e) => {
  console.error(e);
  process.exit(1);
});
