// validate_openapi.mjs — checks OpenAPI documents written by protoc-gen-portico with real validators:
//   1. @seriousme/openapi-schema-validator: the document against the official OpenAPI 3.1 schema,
//      then every $ref resolved (resolveRefs throws on a dangling one);
//   2. Ajv (JSON Schema 2020-12, strict): every component schema compiles;
//   3. optional samples: JSON produced by the gateway's own codec (portico transcode) must validate
//      against the component schema of its message, so the documented shapes and the wire agree.
//
// usage: node validate_openapi.mjs NPM_PREFIX [--expect-invalid] DOC.json...
//        [--sample DOC SCHEMA_NAME INSTANCE.json]... [--reject DOC SCHEMA_NAME INSTANCE.json]...
// (--reject: the instance must NOT validate; a negative control for the samples)
// Prints one line per check and "N passed, N failed"; exits 1 when anything failed.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [prefix, ...rest] = process.argv.slice(2);
if (!prefix) {
  console.error("usage: node validate_openapi.mjs NPM_PREFIX [--expect-invalid] DOC.json... [--sample DOC NAME INSTANCE.json]...");
  process.exit(2);
}
const modules = path.join(path.resolve(prefix), "node_modules");
const { Validator } = await import(pathToFileURL(path.join(modules, "@seriousme/openapi-schema-validator/index.js")).href);
const require = createRequire(path.join(modules, "noop.js"));
const Ajv2020 = require("ajv/dist/2020").default;

let passed = 0;
let failed = 0;
function ok(what) {
  passed++;
  console.log(`ok    ${what}`);
}
function fail(what, detail) {
  failed++;
  console.log(`FAIL  ${what}`);
  if (detail) console.log(`      ${JSON.stringify(detail, null, 2).replace(/\n/g, "\n      ")}`);
}

// The formats the proto3 JSON mapping uses beyond JSON Schema's own.
function newAjv() {
  const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: true });
  for (const f of ["int32", "uint32", "int64", "uint64", "float", "double", "byte"]) ajv.addFormat(f, true);
  ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/);
  ajv.addVocabulary(["example"]);
  return ajv;
}

// Component schemas as one 2020-12 schema document: "#/components/schemas/X" -> "#/$defs/X".
function defsDocument(doc) {
  const text = JSON.stringify(doc.components?.schemas ?? {}).replaceAll('"#/components/schemas/', '"#/$defs/');
  return { $id: "urn:portico:openapi", $defs: JSON.parse(text) };
}

async function checkDocument(file, expectValid) {
  let doc, text;
  try {
    text = readFileSync(file, "utf8");
    doc = JSON.parse(text);
  } catch (e) {
    fail(`${file}: is JSON`, String(e));
    return null;
  }
  const validator = new Validator({ strict: false });
  const res = await validator.validate(doc);
  if (!expectValid) {
    if (res.valid) fail(`${file}: rejected by the OpenAPI 3.1 schema (negative control)`);
    else ok(`${file}: rejected by the OpenAPI 3.1 schema (negative control)`);
    return null;
  }
  if (!res.valid || validator.version !== "3.1") {
    fail(`${file}: valid OpenAPI 3.1 (got version ${validator.version})`, res.errors);
    return null;
  }
  ok(`${file}: valid OpenAPI 3.1`);
  try {
    validator.resolveRefs();
    ok(`${file}: every $ref resolves`);
  } catch (e) {
    fail(`${file}: every $ref resolves`, String(e));
  }
  const ajv = newAjv();
  doc = JSON.parse(text); // resolveRefs() dereferenced the first copy in place
  try {
    ajv.addSchema(defsDocument(doc));
    for (const name of Object.keys(doc.components?.schemas ?? {})) ajv.getSchema(`urn:portico:openapi#/$defs/${name}`);
    ok(`${file}: ${Object.keys(doc.components?.schemas ?? {}).length} component schemas compile as JSON Schema 2020-12`);
  } catch (e) {
    fail(`${file}: component schemas compile as JSON Schema 2020-12`, String(e));
    return null;
  }
  return { doc, ajv };
}

const docs = new Map();
let expectValid = true;
for (let i = 0; i < rest.length; i++) {
  const arg = rest[i];
  if (arg === "--expect-invalid") {
    expectValid = false;
    continue;
  }
  if (arg === "--sample" || arg === "--reject") {
    const accept = arg === "--sample";
    const [file, name, instanceFile] = rest.slice(i + 1, i + 4);
    i += 3;
    const d = docs.get(file);
    const what = `${path.basename(instanceFile)} is ${accept ? "a valid" : "not a valid"} ${name} of ${path.basename(file)}`;
    if (!d) {
      fail(what, "the document was not loaded or is invalid");
      continue;
    }
    const validate = d.ajv.getSchema(`urn:portico:openapi#/$defs/${name}`);
    const instance = JSON.parse(readFileSync(instanceFile, "utf8"));
    if (validate && validate(instance) === accept) ok(what);
    else fail(what, validate ? { instance, errors: validate.errors } : "no such component schema");
    continue;
  }
  const d = await checkDocument(arg, expectValid);
  if (d) docs.set(arg, d);
  expectValid = true;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
