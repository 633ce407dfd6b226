// Compatibility suite: Microsoft's Azure Attestation SDKs for JavaScript
// (@azure/arm-attestation, @azure/attestation), unchanged, against a running
// avow server over HTTPS. Run by .ci/run; see README.md beside this file.
//
// Environment:
//   AVOW_URL      the server's base URL (https://localhost:PORT)
//   AVOW_TOKEN    an owner admin token (the SDKs get it from a TokenCredential)
//   AVOW_BIN      the avow binary, for simulated quotes (avow sim quote)
//   AVOW_SIM_DIR  the simulated platform the server trusts (avow serve --dev --sim-dir)
//   NODE_EXTRA_CA_CERTS  the server's self-signed certificate (<data>/tls-cert.pem)
//
// Every token the SDKs receive is validated by the SDKs themselves:
// signature against the provider's /certs, exp and nbf with no slack, and
// the issuer (the provider's attestUri).

import { createRequire } from "node:module";
import { createHash, generateKeyPairSync, X509Certificate } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const { AttestationManagementClient } = require("@azure/arm-attestation");
const {
  AttestationClient,
  AttestationAdministrationClient,
  createAttestationPolicyToken,
} = require("@azure/attestation");
const { RestError } = require("@azure/core-rest-pipeline");
const jsrsasign = require("jsrsasign");

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return v;
};
const AVOW_URL = env("AVOW_URL").replace(/\/$/, "");
const AVOW_TOKEN = env("AVOW_TOKEN");
const AVOW_BIN = env("AVOW_BIN");
const AVOW_SIM_DIR = env("AVOW_SIM_DIR");

// ---------------------------------------------------------------- harness

let passed = 0;
let failed = 0;
async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}`);
    const details = e instanceof RestError ? ` (HTTP ${e.statusCode}, code ${e.code})` : "";
    console.log(`     ${(e && e.stack) || e}${details}`.split("\n").slice(0, 8).join("\n     "));
  }
}

async function rejects(promise, check) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, "the call succeeded; it should have failed");
  check(err);
  return err;
}

// ---------------------------------------------------------------- helpers

// The credential the SDKs ask for a token: an avow admin token.
const credential = {
  async getToken(scopes) {
    credential.scopes.push(...[].concat(scopes));
    return { token: AVOW_TOKEN, expiresOnTimestamp: Date.now() + 3600 * 1000 };
  },
  scopes: [],
};

// SDK token validation, all checks on. validateAttestationToken records the
// signer the SDK found, so that the tests can see validation ran.
let lastSigner = null;
let validated = 0;
const validation = (issuer) => ({
  validateToken: true,
  validateExpirationTime: true,
  validateNotBeforeTime: true,
  validateIssuer: true,
  expectedIssuer: issuer,
  timeValidationSlack: 0,
  validateAttestationToken: (token, signer) => {
    validated++;
    lastSigner = signer ?? null;
    return undefined;
  },
});

const sha256 = (b) => createHash("sha256").update(b).digest();
const b64url = (b) => Buffer.from(b).toString("base64url");

const work = mkdtempSync(join(tmpdir(), "avow-sdk-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

// A simulated SGX quote whose report data starts with SHA-256(runtimeData),
// made by `avow sim quote` with the platform the server trusts.
let quoteCount = 0;
function simQuote(runtimeData, extra = []) {
  const out = join(work, `quote${quoteCount++}.bin`);
  execFileSync(AVOW_BIN, ["sim", "quote", "--sim-dir", AVOW_SIM_DIR, "--out", out,
    "--report-data", sha256(runtimeData).toString("hex"), ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  return readFileSync(out);
}

// The arguments of `avow sim quote` that make the enclave bind init-time
// data (KSS, CONFIGID = SHA-256 of the data): the service refuses init-time
// data a quote does not bind.
function bindInit(data) {
  const file = join(work, `init${quoteCount++}.bin`);
  writeFileSync(file, data);
  return ["--bind-init-time-data", file];
}

// The OpenEnclave report: a 16-byte header (version 1, type 2 = remote,
// size) before the SGX quote.
function openEnclaveReport(quote) {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(1, 0);
  h.writeUInt32LE(2, 4);
  h.writeBigUInt64LE(BigInt(quote.length), 8);
  return Buffer.concat([h, quote]);
}

// A key pair and a self-signed certificate (PEM), for policy signing.
function signingIdentity(cn, kind = "RSA") {
  const { privateKey, publicKey } = kind === "RSA"
    ? generateKeyPairSync("rsa", { modulusLength: 2048 })
    : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const priv = privateKey.export({ type: "pkcs8", format: "pem" });
  const pub = publicKey.export({ type: "spki", format: "pem" });
  const now = new Date();
  const utc = (d) => d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  const cert = new jsrsasign.KJUR.asn1.x509.Certificate({
    version: 3,
    serial: { int: Math.floor(Math.random() * 1e9) },
    issuer: { str: `/CN=${cn}` },
    subject: { str: `/CN=${cn}` },
    notbefore: utc(new Date(now.getTime() - 3600e3)),
    notafter: utc(new Date(now.getTime() + 365 * 86400e3)),
    sbjpubkey: pub,
    sigalg: kind === "RSA" ? "SHA256withRSA" : "SHA256withECDSA",
    cakey: priv,
  });
  const pem = cert.getPEM();
  return { privateKey: priv, certificate: pem, der: new X509Certificate(pem).raw };
}

const certB64 = (pem) => new X509Certificate(pem).raw.toString("base64");
const sha1Hex = (der) => createHash("sha1").update(der).digest("hex");

const policyText = (issued) => `version= 1.0;
authorizationrules{
	c:[type=="x-ms-sgx-is-debuggable", value==false] => permit();
};
issuancerules{
	c:[type=="x-ms-sgx-mrsigner"] => issue(type="signer", value=c.value);
	=> issue(type="issued-by", value="${issued}");
};
`;

// ---------------------------------------------------------------- setup

const SUB = "00000000-0000-4000-8000-0000000000a1";
const RG = "avow-sdk-rg";
const AAD = "sdkaad";
const ISOLATED = "sdkisolated";

const arm = new AttestationManagementClient(credential, SUB, { endpoint: AVOW_URL });
const arm2021 = new AttestationManagementClient(credential, SUB, { endpoint: AVOW_URL, apiVersion: "2021-06-01" });

const signer1 = signingIdentity("avow SDK policy signer 1");
const signer2 = signingIdentity("avow SDK policy signer 2 (EC)", "EC");

let aadUri;
let isolatedUri;

// ---------------------------------------------------------------- ARM

await test("arm: create an AAD provider (api-version 2020-10-01)", async () => {
  const p = await arm.attestationProviders.create(RG, AAD, {
    location: "East US",
    tags: { env: "ci", team: "attestation" },
    properties: {},
  });
  aadUri = p.attestUri;
  assert.equal(p.name, AAD);
  assert.equal(p.type, "Microsoft.Attestation/attestationProviders");
  assert.equal(p.id, `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Attestation/attestationProviders/${AAD}`);
  assert.equal(p.location, "East US");
  assert.deepEqual(p.tags, { env: "ci", team: "attestation" });
  assert.equal(p.trustModel, "AAD");
  assert.equal(p.status, "Ready");
  assert.equal(p.attestUri, `${AVOW_URL}/providers/${AAD}`);
});

await test("arm: create an Isolated provider with policySigningCertificates (api-version 2021-06-01)", async () => {
  const p = await arm2021.attestationProviders.create(RG, ISOLATED, {
    location: "West Europe",
    properties: { policySigningCertificates: { keys: [{ kty: "RSA", x5C: [certB64(signer1.certificate)] }] } },
  });
  isolatedUri = p.attestUri;
  assert.equal(p.trustModel, "Isolated");
  assert.equal(p.status, "Ready");
  assert.deepEqual(p.tags, {});
  assert.equal(p.attestUri, `${AVOW_URL}/providers/${ISOLATED}`);
});

await test("arm: the bearer token came from the TokenCredential", async () => {
  assert.ok(credential.scopes.length > 0, "getToken was never called");
  assert.ok(credential.scopes.every((s) => s.endsWith("/.default")), credential.scopes.join(","));
});

await test("arm: get", async () => {
  const p = await arm.attestationProviders.get(RG, AAD);
  assert.equal(p.attestUri, aadUri);
  assert.equal(p.trustModel, "AAD");
  assert.deepEqual(p.tags, { env: "ci", team: "attestation" });
  assert.ok(p.systemData?.createdAt instanceof Date, "systemData.createdAt");
  const q = await arm2021.attestationProviders.get(RG.toUpperCase(), ISOLATED);
  assert.equal(q.trustModel, "Isolated");
});

await test("arm: list by subscription and by resource group", async () => {
  const all = await arm.attestationProviders.list();
  assert.deepEqual(all.value.map((p) => p.name).sort(), [AAD, ISOLATED]);
  const inRG = await arm2021.attestationProviders.listByResourceGroup(RG);
  assert.deepEqual(inRG.value.map((p) => p.name).sort(), [AAD, ISOLATED]);
  const other = await arm.attestationProviders.listByResourceGroup("some-other-rg");
  assert.deepEqual(other.value, []);
  const otherSub = new AttestationManagementClient(credential, "00000000-0000-4000-8000-0000000000b2", { endpoint: AVOW_URL });
  assert.deepEqual((await otherSub.attestationProviders.list()).value, []);
});

await test("arm: update tags", async () => {
  const p = await arm.attestationProviders.update(RG, AAD, { tags: { env: "prod" } });
  assert.deepEqual(p.tags, { env: "prod" });
  const q = await arm.attestationProviders.get(RG, AAD);
  assert.deepEqual(q.tags, { env: "prod" });
  assert.equal(q.attestUri, aadUri);
});

await test("arm: errors are CloudError bodies (404 ResourceNotFound, 409 on a taken name)", async () => {
  await rejects(arm.attestationProviders.get(RG, "nosuchprovider"), (e) => {
    assert.ok(e instanceof RestError, String(e));
    assert.equal(e.statusCode, 404);
    assert.equal(e.code, "ResourceNotFound");
  });
  await rejects(arm.attestationProviders.get("some-other-rg", AAD), (e) => assert.equal(e.statusCode, 404));
  await rejects(arm.attestationProviders.create("some-other-rg", AAD, { location: "East US", properties: {} }), (e) => {
    assert.equal(e.statusCode, 409);
  });
});

// ---------------------------------------------------------------- data plane

const runtimeBinary = Buffer.from("avow runtime data: binary \u0001\u0002\u0003");
const runtimeJson = Buffer.from(JSON.stringify({ jwk: { kty: "EC", crv: "P-256", x: "abc", y: "def" }, nonce: 42 }));
const initJson = Buffer.from(JSON.stringify({ config: "enclave-v1", features: ["a", "b"] }));

await test("data: getOpenIdMetadata", async () => {
  const client = new AttestationClient(aadUri, { validationOptions: validation(aadUri) });
  const md = await client.getOpenIdMetadata();
  assert.equal(md.issuer, aadUri);
  assert.equal(md.jwks_uri, `${aadUri}/certs`);
  assert.ok(md.claims_supported.includes("x-ms-sgx-mrenclave"));
});

let aadSigners;
await test("data: getAttestationSigners", async () => {
  const client = new AttestationClient(aadUri, { validationOptions: validation(aadUri) });
  aadSigners = await client.getAttestationSigners();
  assert.ok(aadSigners.length >= 1);
  for (const s of aadSigners) {
    assert.ok(s.keyId, "keyId");
    assert.ok(s.certificates.length >= 1 && s.certificates[0].startsWith("-----BEGIN CERTIFICATE-----"));
  }
});

function checkSignedBy(signers) {
  assert.ok(lastSigner, "the SDK found no signer (token not validated?)");
  assert.ok(signers.some((s) => s.keyId === lastSigner.keyId), `signer ${lastSigner.keyId} is not in /certs`);
}

await test("data: attestSgxEnclave, Binary runtime data", async () => {
  const client = new AttestationClient(aadUri, { validationOptions: validation(aadUri) });
  const quote = simQuote(runtimeBinary);
  const before = validated;
  const res = await client.attestSgxEnclave(quote, { runTimeData: runtimeBinary });
  assert.equal(validated, before + 1, "the SDK did not validate the token");
  checkSignedBy(aadSigners);
  assert.equal(res.token.algorithm, "RS256");
  assert.equal(res.token.issuer, aadUri);
  const body = res.body;
  assert.equal(body.issuer, aadUri);
  assert.deepEqual(Buffer.from(body.enclaveHeldData), runtimeBinary);
  assert.equal(body.runTimeClaims, undefined);
  assert.equal(body.attestationType ?? res.token.getBody()["x-ms-attestation-type"], "sgx");
  const claims = res.token.getBody();
  assert.equal(claims["x-ms-sgx-report-data"].slice(0, 64), sha256(runtimeBinary).toString("hex"));
  assert.equal(claims["aas-ehd"], b64url(runtimeBinary));
  assert.equal(typeof body.productId, "number");
  assert.equal(typeof body.isDebuggable, "boolean");
  assert.match(body.mrEnclave, /^[0-9a-f]{64}$/);
  assert.ok(body.policyClaims, "x-ms-policy");
});

await test("data: attestSgxEnclave, JSON runtime data and JSON init-time data", async () => {
  const client = new AttestationClient(aadUri, { validationOptions: validation(aadUri) });
  const res = await client.attestSgxEnclave(simQuote(runtimeJson, bindInit(initJson)), { runTimeJson: runtimeJson, initTimeJson: initJson });
  checkSignedBy(aadSigners);
  assert.deepEqual(res.body.runTimeClaims, JSON.parse(runtimeJson));
  assert.deepEqual(res.body.initTimeClaims, JSON.parse(initJson));
  assert.equal(res.body.enclaveHeldData, undefined);
});

await test("data: attestSgxEnclave, Binary init-time data", async () => {
  const client = new AttestationClient(aadUri, { validationOptions: validation(aadUri) });
  const init = Buffer.from("init-time bytes");
  const res = await client.attestSgxEnclave(simQuote(runtimeBinary, bindInit(init)), {
    runTimeData: runtimeBinary,
    initTimeData: init,
  });
  assert.deepEqual(Buffer.from(res.body.enclaveHeldData), runtimeBinary);
  // Init-time data the enclave does not bind is refused (MAA: "MAA will
  // verify that the init data was known to the enclave").
  await rejects(client.attestSgxEnclave(simQuote(runtimeBinary), { runTimeData: runtimeBinary, initTimeData: init }),
    (e) => assert.equal(e.statusCode, 400, String(e)));
});

await test("data: attestOpenEnclave, Binary runtime data", async () => {
  const client = new AttestationClient(aadUri, { validationOptions: validation(aadUri) });
  const res = await client.attestOpenEnclave(openEnclaveReport(simQuote(runtimeBinary)), { runTimeData: runtimeBinary });
  checkSignedBy(aadSigners);
  assert.deepEqual(Buffer.from(res.body.enclaveHeldData), runtimeBinary);
  assert.equal(res.token.getBody()["x-ms-attestation-type"], "sgx");
});

await test("data: attestOpenEnclave, JSON runtime data and Binary init-time data", async () => {
  const client = new AttestationClient(aadUri, { validationOptions: validation(aadUri) });
  const init = Buffer.from([9, 8, 7]);
  const res = await client.attestOpenEnclave(openEnclaveReport(simQuote(runtimeJson, bindInit(init))), {
    runTimeJson: runtimeJson,
    initTimeData: init,
  });
  assert.deepEqual(res.body.runTimeClaims, JSON.parse(runtimeJson));
});

await test("data: attestSgxEnclave with a draft policy (unsigned token, nothing stored)", async () => {
  const client = new AttestationClient(aadUri, { validationOptions: validation(aadUri) });
  const res = await client.attestSgxEnclave(simQuote(runtimeBinary), {
    runTimeData: runtimeBinary,
    draftPolicyForAttestation: policyText("draft"),
  });
  assert.equal(res.token.algorithm, "none");
  assert.equal(res.token.issuer, aadUri);
  assert.equal(res.body.policyClaims["issued-by"], "draft");
  // A draft that does not permit: the service refuses.
  const deny = `version= 1.0;
authorizationrules{
	c:[type=="x-ms-sgx-is-debuggable", value==true] => permit();
};
`;
  await rejects(client.attestSgxEnclave(simQuote(runtimeBinary), { runTimeData: runtimeBinary, draftPolicyForAttestation: deny }),
    (e) => assert.equal(e.statusCode, 400));
  // The stored (default) policy still applies.
  const again = await client.attestSgxEnclave(simQuote(runtimeBinary), { runTimeData: runtimeBinary });
  assert.equal(again.token.algorithm, "RS256");
  assert.equal(again.body.policyClaims["issued-by"], undefined);
});

await test("data: the SDK's own validation rejects a wrong expected issuer", async () => {
  const client = new AttestationClient(aadUri, { validationOptions: validation("https://attacker.example") });
  await rejects(client.attestSgxEnclave(simQuote(runtimeBinary), { runTimeData: runtimeBinary }),
    (e) => assert.match(String(e.message), /expected issuer/));
});

await test("data: a quote whose report data does not match the runtime data is refused", async () => {
  const client = new AttestationClient(aadUri, { validationOptions: validation(aadUri) });
  await rejects(client.attestSgxEnclave(simQuote(Buffer.from("other")), { runTimeData: runtimeBinary }),
    (e) => assert.equal(e.statusCode, 400));
});

// ---------------------------------------------------------------- administration (AAD)

await test("admin (AAD): getPolicy returns the default policy", async () => {
  const admin = new AttestationAdministrationClient(aadUri, credential, { validationOptions: validation(aadUri) });
  const res = await admin.getPolicy("SgxEnclave");
  assert.match(res.body, /authorizationrules/);
  assert.equal(res.token.issuer, aadUri);
});

await test("admin (AAD): setPolicy unsigned, getPolicy, attest with it, resetPolicy", async () => {
  const admin = new AttestationAdministrationClient(aadUri, credential, { validationOptions: validation(aadUri) });
  const text = policyText("aad-unsigned");
  const set = await admin.setPolicy("SgxEnclave", text);
  assert.equal(set.body.policyResolution, "Updated");
  const expected = sha256(createAttestationPolicyToken(text).serialize());
  assert.deepEqual(Buffer.from(set.body.policyTokenHash), expected);
  assert.equal(set.body.policySigner, undefined);
  assert.equal((await admin.getPolicy("SgxEnclave")).body, text);
  const client = new AttestationClient(aadUri, { validationOptions: validation(aadUri) });
  const res = await client.attestSgxEnclave(simQuote(runtimeBinary), { runTimeData: runtimeBinary });
  assert.equal(res.body.policyClaims["issued-by"], "aad-unsigned");
  const reset = await admin.resetPolicy("SgxEnclave");
  assert.equal(reset.body.policyResolution, "Removed");
  assert.notEqual((await admin.getPolicy("SgxEnclave")).body, text);
});

await test("admin (AAD): setPolicy of a policy with warnings (avow's \"warnings\" beside the token is ignored)", async () => {
  const admin = new AttestationAdministrationClient(aadUri, credential, { validationOptions: validation(aadUri) });
  const text = `version= 1.0;
authorizationrules{
	c:[type=="x-ms-sgx-is-debugable", value==false] => permit();
};
`;
  const set = await admin.setPolicy("SgxEnclave", text);
  assert.equal(set.body.policyResolution, "Updated");
  assert.equal((await admin.getPolicy("SgxEnclave")).body, text);
  const reset = await admin.resetPolicy("SgxEnclave");
  assert.equal(reset.body.policyResolution, "Removed");
});

await test("admin (AAD): setPolicy signed with the SDK's signing helper", async () => {
  const admin = new AttestationAdministrationClient(aadUri, credential, { validationOptions: validation(aadUri) });
  const text = policyText("aad-signed");
  const set = await admin.setPolicy("OpenEnclave", text, { privateKey: signer2.privateKey, certificate: signer2.certificate });
  assert.equal(set.body.policyResolution, "Updated");
  assert.ok(set.body.policySigner, "policySigner");
  assert.equal(set.body.policySigner.certificates[0].replace(/\s/g, ""), signer2.certificate.replace(/\s/g, ""));
  const got = await admin.getPolicy("OpenEnclave");
  assert.equal(got.body, text);
  const reset = await admin.resetPolicy("OpenEnclave", { privateKey: signer2.privateKey, certificate: signer2.certificate });
  assert.equal(reset.body.policyResolution, "Removed");
});

await test("admin (AAD): getPolicyManagementCertificates is empty", async () => {
  const admin = new AttestationAdministrationClient(aadUri, credential, { validationOptions: validation(aadUri) });
  const res = await admin.getPolicyManagementCertificates();
  assert.deepEqual(res.body, []);
});

// ---------------------------------------------------------------- administration (Isolated)

await test("admin (Isolated): getPolicyManagementCertificates lists the creation certificate", async () => {
  const admin = new AttestationAdministrationClient(isolatedUri, credential, { validationOptions: validation(isolatedUri) });
  const res = await admin.getPolicyManagementCertificates();
  assert.equal(res.body.length, 1);
  assert.equal(res.body[0].certificates[0].replace(/\s/g, ""), signer1.certificate.replace(/\s/g, ""));
});

await test("admin (Isolated): setPolicy unsigned is refused", async () => {
  const admin = new AttestationAdministrationClient(isolatedUri, credential, { validationOptions: validation(isolatedUri) });
  await rejects(admin.setPolicy("SgxEnclave", policyText("nope")), (e) => assert.equal(e.statusCode, 400));
  await rejects(admin.setPolicy("SgxEnclave", policyText("nope"), { privateKey: signer2.privateKey, certificate: signer2.certificate }),
    (e) => assert.equal(e.statusCode, 400));
});

await test("admin (Isolated): setPolicy signed, attest (x-ms-policy-signer), resetPolicy signed", async () => {
  const admin = new AttestationAdministrationClient(isolatedUri, credential, { validationOptions: validation(isolatedUri) });
  const text = policyText("isolated-signed");
  const set = await admin.setPolicy("SgxEnclave", text, { privateKey: signer1.privateKey, certificate: signer1.certificate });
  assert.equal(set.body.policyResolution, "Updated");
  const expected = sha256(createAttestationPolicyToken(text, signer1.privateKey, signer1.certificate).serialize());
  assert.deepEqual(Buffer.from(set.body.policyTokenHash), expected);
  assert.equal((await admin.getPolicy("SgxEnclave")).body, text);
  const client = new AttestationClient(isolatedUri, { validationOptions: validation(isolatedUri) });
  const signers = await client.getAttestationSigners();
  const res = await client.attestSgxEnclave(simQuote(runtimeBinary), { runTimeData: runtimeBinary });
  checkSignedBy(signers);
  assert.equal(res.body.policyClaims["issued-by"], "isolated-signed");
  assert.ok(res.body.policySigner, "x-ms-policy-signer");
  assert.equal(res.body.policySigner.certificates[0].replace(/\s/g, ""), signer1.certificate.replace(/\s/g, ""));
  await rejects(admin.resetPolicy("SgxEnclave"), (e) => assert.equal(e.statusCode, 400));
  const reset = await admin.resetPolicy("SgxEnclave", { privateKey: signer1.privateKey, certificate: signer1.certificate });
  assert.equal(reset.body.policyResolution, "Removed");
});

await test("admin (Isolated): addPolicyManagementCertificate, sign with the new (EC) signer, removePolicyManagementCertificate", async () => {
  const admin = new AttestationAdministrationClient(isolatedUri, credential, { validationOptions: validation(isolatedUri) });
  const add = await admin.addPolicyManagementCertificate(signer2.certificate, signer1.privateKey, signer1.certificate);
  assert.equal(add.body.certificateResolution, "IsPresent");
  assert.equal(add.body.certificateThumbprint.toLowerCase(), sha1Hex(signer2.der));
  const list = await admin.getPolicyManagementCertificates();
  assert.equal(list.body.length, 2);
  // The new signer (ES256) may now set policies.
  const text = policyText("ec-signer");
  const set = await admin.setPolicy("SgxEnclave", text, { privateKey: signer2.privateKey, certificate: signer2.certificate });
  assert.equal(set.body.policyResolution, "Updated");
  await admin.resetPolicy("SgxEnclave", { privateKey: signer2.privateKey, certificate: signer2.certificate });
  const remove = await admin.removePolicyManagementCertificate(signer2.certificate, signer1.privateKey, signer1.certificate);
  assert.equal(remove.body.certificateResolution, "IsAbsent");
  assert.equal(remove.body.certificateThumbprint.toLowerCase(), sha1Hex(signer2.der));
  assert.equal((await admin.getPolicyManagementCertificates()).body.length, 1);
  // A removed signer is no longer trusted.
  await rejects(admin.setPolicy("SgxEnclave", text, { privateKey: signer2.privateKey, certificate: signer2.certificate }),
    (e) => assert.equal(e.statusCode, 400));
});

await test("admin: a wrong bearer token is refused with 401", async () => {
  const bad = { getToken: async () => ({ token: "avow_not-a-valid-token", expiresOnTimestamp: Date.now() + 3600e3 }) };
  const admin = new AttestationAdministrationClient(aadUri, bad, { validationOptions: validation(aadUri) });
  await rejects(admin.getPolicy("SgxEnclave"), (e) => assert.equal(e.statusCode, 401));
  const armBad = new AttestationManagementClient(bad, SUB, { endpoint: AVOW_URL });
  await rejects(armBad.attestationProviders.list(), (e) => {
    assert.equal(e.statusCode, 401);
    assert.equal(e.code, "AuthenticationFailed");
  });
});

await test("arm: operations, default providers, private endpoint connections", async () => {
  const ops = ((await arm.operations.list()).value ?? []).map((op) => op.name);
  assert.ok(ops.includes("Microsoft.Attestation/attestationProviders/read"), ops.join(","));
  // run.sh declares one shared provider: avow serve --shared-provider "sharedcus=Central US".
  const defaults = (await arm.attestationProviders.listDefault()).value;
  assert.deepEqual(defaults.map((p) => [p.name, p.location, p.trustModel, p.status]), [["sharedcus", "Central US", "AAD", "Ready"]]);
  const cus = await arm2021.attestationProviders.getDefaultByLocation("centralus");
  assert.equal(cus.name, "sharedcus");
  assert.equal(cus.attestUri, defaults[0].attestUri);
  await rejects(arm.attestationProviders.getDefaultByLocation("eastus"), (e) => assert.equal(e.statusCode, 404));
  const pecs = [];
  for await (const c of arm.privateEndpointConnections.list(RG, AAD)) pecs.push(c);
  assert.deepEqual(pecs, []);
});

await test("shared provider: attestSgxEnclave with the default policy; getPolicy works, setPolicy is refused", async () => {
  const uri = (await arm.attestationProviders.getDefaultByLocation("Central US")).attestUri;
  const client = new AttestationClient(uri, { validationOptions: validation(uri) });
  const res = await client.attestSgxEnclave(simQuote(runtimeBinary), { runTimeData: runtimeBinary });
  assert.equal(res.token.issuer, uri);
  const policyClaims = res.token.getBody()["x-ms-policy"] ?? {};
  assert.equal(policyClaims["tee"], "sgx", JSON.stringify(policyClaims)); // issued by the default policy
  const admin = new AttestationAdministrationClient(uri, credential, { validationOptions: validation(uri) });
  const policy = await admin.getPolicy("SgxEnclave");
  assert.match(policy.body, /issuancerules/);
  await rejects(admin.setPolicy("SgxEnclave", "version=1.0; authorizationrules { => permit(); }; issuancerules { };"),
    (e) => {
      assert.equal(e.statusCode, 403);
      assert.equal(e.code, "shared_provider_read_only");
    });
});

// ---------------------------------------------------------------- ARM delete

await test("arm: delete both providers", async () => {
  await arm.attestationProviders.delete(RG, AAD);
  await arm2021.attestationProviders.delete(RG, ISOLATED);
  await rejects(arm.attestationProviders.get(RG, AAD), (e) => assert.equal(e.statusCode, 404));
  assert.deepEqual((await arm.attestationProviders.list()).value, []);
  // Deleting what is gone succeeds (204).
  await arm.attestationProviders.delete(RG, AAD);
  // The data plane is gone too.
  const client = new AttestationClient(aadUri);
  await rejects(client.getOpenIdMetadata(), (e) => assert.equal(e.statusCode, 404));
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
