"""Compatibility suite: Microsoft's Azure Attestation SDKs for Python
(azure-security-attestation, azure-mgmt-attestation), unchanged, as Debian
ships them in python3-azure, against a running avow server over HTTPS.
Run by run.sh beside this file (and so by .ci/run), with /usr/bin/python3.

Environment:
  AVOW_URL      the server's base URL (https://127.0.0.1:PORT)
  AVOW_TOKEN    an owner admin token (the SDKs get it from a TokenCredential)
  AVOW_BIN      the avow binary, for simulated quotes (avow sim quote)
  AVOW_SIM_DIR  the simulated platform the server trusts (avow serve --dev --sim-dir)
  AVOW_CA       the server's self-signed certificate (<data>/tls-cert.pem),
                given to every client as connection_verify

Every token the SDKs receive is validated by the SDK itself: the signature
against the provider's /certs (found by kid), exp and nbf with no slack, and
the issuer (the provider's attestUri). The tests are methods of one
TestCase, run in the order of their names: ARM creates the providers
first and deletes them last. The closing line is "N passed, N failed".
"""

import base64
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.mgmt.attestation import AttestationManagementClient
from azure.mgmt.attestation.models import (
    AttestationServiceCreationParams,
    AttestationServiceCreationSpecificParams,
    AttestationServicePatchParams,
    JSONWebKey,
    JSONWebKeySet,
)
from azure.security.attestation import (
    AttestationAdministrationClient,
    AttestationClient,
    AttestationPolicyToken,
    AttestationToken,
    AttestationTokenValidationException,
    AttestationType,
    CertificateModification,
    PolicyModification,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def env(name):
    v = os.environ.get(name)
    if not v:
        print("%s is not set" % name, file=sys.stderr)
        sys.exit(2)
    return v


AVOW_URL = env("AVOW_URL").rstrip("/")
AVOW_TOKEN = env("AVOW_TOKEN")
AVOW_BIN = env("AVOW_BIN")
AVOW_SIM_DIR = env("AVOW_SIM_DIR")
AVOW_CA = env("AVOW_CA")

SUB = "00000000-0000-4000-8000-0000000000c1"
RG = "avow-sdk-py-rg"
AAD = "pyaad"
ISOLATED = "pyisolated"

WORK = tempfile.mkdtemp(prefix="avow-sdk-py-")


# ---------------------------------------------------------------- helpers


class Credential:
    """An azure.core TokenCredential that returns the avow admin token for
    whatever scopes the SDK asks, and records the scopes."""

    def __init__(self, token=AVOW_TOKEN):
        self.token = token
        self.scopes = []

    def get_token(self, *scopes, **kwargs):
        self.scopes.extend(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


credential = Credential()


class Recorder:
    """validation_callback: the SDK calls it after its own checks, with the
    signer it found in /certs (None for an unsigned token)."""

    def __init__(self):
        self.calls = 0
        self.signer = None

    def __call__(self, token, signer):
        self.calls += 1
        self.signer = signer


recorder = Recorder()


def validation(issuer):
    """The SDK's token validation, every check on, no clock slack. Note
    validate_not_before: the SDK documents validate_not_before_time but
    reads validate_not_before (see docs/azure-sdk.md)."""
    return dict(
        validate_token=True,
        validate_signature=True,
        validate_expiration=True,
        validate_not_before=True,
        validate_issuer=True,
        issuer=issuer,
        validation_slack=0,
        validation_callback=recorder,
    )


def attestation_client(uri, issuer=None):
    return AttestationClient(uri, credential, connection_verify=AVOW_CA, **validation(issuer or uri))


def admin_client(uri, cred=None):
    return AttestationAdministrationClient(
        uri, cred or credential, connection_verify=AVOW_CA, **validation(uri)
    )


def arm_client(api_version=None, sub=SUB, cred=None):
    kwargs = {"connection_verify": AVOW_CA}
    if api_version:
        kwargs["api_version"] = api_version
    return AttestationManagementClient(cred or credential, sub, base_url=AVOW_URL, **kwargs)


def sha256(b):
    return hashlib.sha256(b).digest()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


_count = [0]


def sim_quote(runtime_data, extra=()):
    """A simulated SGX quote whose report data starts with
    SHA-256(runtime_data), made by `avow sim quote` with the platform the
    server trusts."""
    _count[0] += 1
    out = os.path.join(WORK, "quote%d.bin" % _count[0])
    subprocess.run(
        [AVOW_BIN, "sim", "quote", "--sim-dir", AVOW_SIM_DIR, "--out", out,
         "--report-data", sha256(runtime_data).hex(), *extra],
        check=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    with open(out, "rb") as f:
        return f.read()


def bind_init(data):
    """`avow sim quote` arguments that make the enclave bind init-time data
    (KSS, CONFIGID = SHA-256 of the data)."""
    _count[0] += 1
    path = os.path.join(WORK, "init%d.bin" % _count[0])
    with open(path, "wb") as f:
        f.write(data)
    return ["--bind-init-time-data", path]


def open_enclave_report(quote):
    """The OpenEnclave report: a 16-byte header (version 1, type 2 =
    remote, size) before the SGX quote."""
    return (1).to_bytes(4, "little") + (2).to_bytes(4, "little") + len(quote).to_bytes(8, "little") + quote


class Identity:
    """A key pair and a self-signed certificate, PEM, for policy signing."""

    def __init__(self, cn, kind="RSA"):
        if kind == "RSA":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        now = datetime.datetime.utcnow()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        self.key = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        self.der = cert.public_bytes(serialization.Encoding.DER)
        self.certificate = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        self.b64 = base64.b64encode(self.der).decode("ascii")
        self.sha1 = hashlib.sha1(self.der).hexdigest()


def same_pem(a, b):
    return "".join(a.split()) == "".join(b.split())


def policy_text(issued):
    return (
        "version= 1.0;\n"
        "authorizationrules{\n"
        '\tc:[type=="x-ms-sgx-is-debuggable", value==false] => permit();\n'
        "};\n"
        "issuancerules{\n"
        '\tc:[type=="x-ms-sgx-mrsigner"] => issue(type="signer", value=c.value);\n'
        '\t=> issue(type="issued-by", value="%s");\n'
        "};\n" % issued
    )


DENY = (
    "version= 1.0;\n"
    "authorizationrules{\n"
    '\tc:[type=="x-ms-sgx-is-debuggable", value==true] => permit();\n'
    "};\n"
)

RUNTIME_BINARY = b"avow runtime data: binary \x01\x02\x03"
RUNTIME_JSON = json.dumps({"jwk": {"kty": "EC", "crv": "P-256", "x": "abc", "y": "def"}, "nonce": 42}).encode()
INIT_JSON = json.dumps({"config": "enclave-v1", "features": ["a", "b"]}).encode()

signer1 = Identity("avow Python SDK policy signer 1")
signer2 = Identity("avow Python SDK policy signer 2")
signer_ec = Identity("avow Python SDK policy signer 3 (EC)", "EC")

state = {}


# ---------------------------------------------------------------- tests


class Suite(unittest.TestCase):
    maxDiff = None

    def status(self, err):
        return getattr(err, "status_code", None)

    def assertSignedBy(self, signers):
        self.assertIsNotNone(recorder.signer, "the SDK found no signer (token not validated?)")
        self.assertIn(recorder.signer.key_id, [s.key_id for s in signers])

    # -------------------------------------------------------- ARM

    def test_a01_arm_create_aad(self):
        """arm: create an AAD provider (api-version 2020-10-01)"""
        p = arm_client().attestation_providers.create(
            RG, AAD,
            AttestationServiceCreationParams(
                location="East US",
                tags={"env": "ci", "team": "attestation"},
                properties=AttestationServiceCreationSpecificParams(),
            ),
        )
        state["aad"] = p.attest_uri
        self.assertEqual(p.name, AAD)
        self.assertEqual(p.type, "Microsoft.Attestation/attestationProviders")
        self.assertEqual(
            p.id, "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Attestation/attestationProviders/%s" % (SUB, RG, AAD)
        )
        self.assertEqual(p.location, "East US")
        self.assertEqual(p.tags, {"env": "ci", "team": "attestation"})
        self.assertEqual(p.trust_model, "AAD")
        self.assertEqual(p.status, "Ready")
        self.assertEqual(p.attest_uri, "%s/providers/%s" % (AVOW_URL, AAD))

    def test_a02_arm_create_isolated(self):
        """arm: create an Isolated provider with policy_signing_certificates (api-version 2021-06-01)"""
        p = arm_client("2021-06-01").attestation_providers.create(
            RG, ISOLATED,
            AttestationServiceCreationParams(
                location="West Europe",
                properties=AttestationServiceCreationSpecificParams(
                    policy_signing_certificates=JSONWebKeySet(keys=[JSONWebKey(kty="RSA", x5_c=[signer1.b64])])
                ),
            ),
        )
        state["isolated"] = p.attest_uri
        self.assertEqual(p.trust_model, "Isolated")
        self.assertEqual(p.status, "Ready")
        self.assertEqual(p.tags, {})
        self.assertEqual(p.attest_uri, "%s/providers/%s" % (AVOW_URL, ISOLATED))

    def test_a03_arm_credential(self):
        """arm: the bearer token came from the TokenCredential (scope https://management.azure.com/.default)"""
        self.assertIn("https://management.azure.com/.default", credential.scopes)

    def test_a04_arm_get(self):
        """arm: get (systemData, a resource group in other case)"""
        p = arm_client().attestation_providers.get(RG, AAD)
        self.assertEqual(p.attest_uri, state["aad"])
        self.assertEqual(p.trust_model, "AAD")
        self.assertEqual(p.tags, {"env": "ci", "team": "attestation"})
        self.assertIsInstance(p.system_data.created_at, datetime.datetime)
        q = arm_client("2021-06-01").attestation_providers.get(RG.upper(), ISOLATED)
        self.assertEqual(q.trust_model, "Isolated")

    def test_a05_arm_list(self):
        """arm: list by subscription and by resource group"""
        arm = arm_client()
        self.assertEqual(sorted(p.name for p in arm.attestation_providers.list().value), [AAD, ISOLATED])
        in_rg = arm_client("2021-06-01").attestation_providers.list_by_resource_group(RG)
        self.assertEqual(sorted(p.name for p in in_rg.value), [AAD, ISOLATED])
        self.assertEqual(arm.attestation_providers.list_by_resource_group("some-other-rg").value, [])
        other = arm_client(sub="00000000-0000-4000-8000-0000000000c2")
        self.assertEqual(other.attestation_providers.list().value, [])

    def test_a06_arm_update(self):
        """arm: update tags"""
        arm = arm_client()
        p = arm.attestation_providers.update(RG, AAD, AttestationServicePatchParams(tags={"env": "prod"}))
        self.assertEqual(p.tags, {"env": "prod"})
        q = arm.attestation_providers.get(RG, AAD)
        self.assertEqual(q.tags, {"env": "prod"})
        self.assertEqual(q.attest_uri, state["aad"])

    def test_a07_arm_errors(self):
        """arm: errors are CloudError bodies (404 ResourceNotFound, 409 on a taken name)"""
        arm = arm_client()
        with self.assertRaises(ResourceNotFoundError) as cm:
            arm.attestation_providers.get(RG, "nosuchprovider")
        self.assertEqual(cm.exception.status_code, 404)
        self.assertEqual(cm.exception.error.code, "ResourceNotFound")
        with self.assertRaises(ResourceNotFoundError):
            arm.attestation_providers.get("some-other-rg", AAD)
        with self.assertRaises(HttpResponseError) as cm:
            arm.attestation_providers.create(
                "some-other-rg", AAD,
                AttestationServiceCreationParams(location="East US", properties=AttestationServiceCreationSpecificParams()),
            )
        self.assertEqual(cm.exception.status_code, 409)
        self.assertEqual(cm.exception.error.code, "Conflict")

    # -------------------------------------------------------- data plane

    def test_b01_openid_metadata(self):
        """data: get_open_id_metadata"""
        md = attestation_client(state["aad"]).get_open_id_metadata()
        self.assertEqual(md["issuer"], state["aad"])
        self.assertEqual(md["jwks_uri"], state["aad"] + "/certs")
        self.assertIn("x-ms-sgx-mrenclave", md["claims_supported"])

    def test_b02_signing_certificates(self):
        """data: get_signing_certificates"""
        signers = attestation_client(state["aad"]).get_signing_certificates()
        self.assertGreaterEqual(len(signers), 1)
        for s in signers:
            self.assertTrue(s.key_id)
            self.assertTrue(s.certificates[0].startswith("-----BEGIN CERTIFICATE-----"))
            x509.load_pem_x509_certificate(s.certificates[0].encode("ascii"))
        state["aad_signers"] = signers

    def test_b03_attest_sgx_binary(self):
        """data: attest_sgx_enclave, Binary runtime data"""
        client = attestation_client(state["aad"])
        before = recorder.calls
        result, token = client.attest_sgx_enclave(sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY)
        self.assertEqual(recorder.calls, before + 1, "the SDK did not validate the token")
        self.assertSignedBy(state["aad_signers"])
        self.assertEqual(token.algorithm, "RS256")
        self.assertEqual(token.issuer, state["aad"])
        self.assertEqual(result.issuer, state["aad"])
        self.assertEqual(result.enclave_held_data, RUNTIME_BINARY)
        self.assertIsNone(result.runtime_claims)
        claims = token._body
        self.assertEqual(claims["x-ms-attestation-type"], "sgx")
        self.assertEqual(claims["x-ms-sgx-report-data"][:64], sha256(RUNTIME_BINARY).hex())
        self.assertEqual(claims["x-ms-sgx-ehd"], b64url(RUNTIME_BINARY))
        # The SDK's model declares x-ms-sgx-product-id and x-ms-sgx-svn as
        # float: avow sends JSON integers, as MAA does, and the SDK turns
        # them into 0.0 and 2.0 (see docs/azure-sdk.md).
        self.assertIsInstance(claims["x-ms-sgx-product-id"], int)
        self.assertIsInstance(claims["x-ms-sgx-svn"], int)
        self.assertEqual(result.product_id, claims["x-ms-sgx-product-id"])
        self.assertEqual(result.svn, claims["x-ms-sgx-svn"])
        self.assertIsInstance(result.is_debuggable, bool)
        self.assertRegex(result.mr_enclave, "^[0-9a-f]{64}$")
        self.assertRegex(result.mr_signer, "^[0-9a-f]{64}$")
        self.assertEqual(result.verifier_type, "sgx")
        self.assertEqual(result.version, "1.0")
        self.assertTrue(result.policy_hash)
        self.assertIsInstance(result.sgx_collateral, dict)
        self.assertIsNotNone(result.policy_claims)

    def test_b04_attest_sgx_json(self):
        """data: attest_sgx_enclave, JSON runtime data"""
        client = attestation_client(state["aad"])
        result, _ = client.attest_sgx_enclave(sim_quote(RUNTIME_JSON), runtime_json=RUNTIME_JSON)
        self.assertSignedBy(state["aad_signers"])
        self.assertEqual(result.runtime_claims, json.loads(RUNTIME_JSON))
        self.assertIsNone(result.enclave_held_data)

    def test_b05_attest_sgx_init_time(self):
        """data: attest_sgx_enclave, Binary init-time data (bound and not bound)"""
        client = attestation_client(state["aad"])
        init = b"init-time bytes"
        result, token = client.attest_sgx_enclave(
            sim_quote(RUNTIME_BINARY, bind_init(init)), runtime_data=RUNTIME_BINARY, inittime_data=init
        )
        self.assertEqual(result.enclave_held_data, RUNTIME_BINARY)
        self.assertEqual(token._body.get("x-ms-sgx-config-id"), sha256(init).hex() + "00" * 32)
        # Init-time data the enclave does not bind is refused.
        with self.assertRaises(HttpResponseError) as cm:
            client.attest_sgx_enclave(sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY, inittime_data=init)
        self.assertEqual(cm.exception.status_code, 400)

    def test_b06_attest_sgx_init_time_json(self):
        """data: attest_sgx_enclave with inittime_json (the SDK sends no data: refused, 400)"""
        # azure-security-attestation 1.0.1 builds InitTimeData(data=inittime_data,
        # data_type=JSON) for inittime_json: the request carries
        # initTimeData {"dataType": "JSON"} and no data. avow refuses it
        # (invalid_json) rather than attest as if no init-time data were
        # given; avow once answered with a token without x-ms-inittime.
        client = attestation_client(state["aad"])
        with self.assertRaises(HttpResponseError) as cm:
            client.attest_sgx_enclave(
                sim_quote(RUNTIME_JSON, bind_init(INIT_JSON)), runtime_json=RUNTIME_JSON, inittime_json=INIT_JSON
            )
        self.assertEqual(cm.exception.status_code, 400)
        body = json.loads(cm.exception.response.text())
        self.assertEqual(body["error"]["code"], "invalid_json")
        self.assertIn('initTimeData has dataType "JSON" but no data', body["error"]["message"])

    def test_b07_attest_open_enclave(self):
        """data: attest_open_enclave, Binary and JSON runtime data"""
        client = attestation_client(state["aad"])
        result, token = client.attest_open_enclave(open_enclave_report(sim_quote(RUNTIME_BINARY)), runtime_data=RUNTIME_BINARY)
        self.assertSignedBy(state["aad_signers"])
        self.assertEqual(result.enclave_held_data, RUNTIME_BINARY)
        self.assertEqual(token._body["x-ms-attestation-type"], "sgx")
        init = bytes([9, 8, 7])
        result, _ = client.attest_open_enclave(
            open_enclave_report(sim_quote(RUNTIME_JSON, bind_init(init))), runtime_json=RUNTIME_JSON, inittime_data=init
        )
        self.assertEqual(result.runtime_claims, json.loads(RUNTIME_JSON))

    def test_b08_draft_policy(self):
        """data: attest_sgx_enclave with a draft policy (unsigned token, nothing stored)"""
        client = attestation_client(state["aad"])
        result, token = client.attest_sgx_enclave(
            sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY, draft_policy=policy_text("draft")
        )
        self.assertEqual(token.algorithm, "none")
        self.assertEqual(token.issuer, state["aad"])
        self.assertIsNone(recorder.signer)
        self.assertEqual(result.policy_claims["issued-by"], "draft")
        with self.assertRaises(HttpResponseError) as cm:
            client.attest_sgx_enclave(sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY, draft_policy=DENY)
        self.assertEqual(cm.exception.status_code, 400)
        # The stored (default) policy still applies.
        result, token = client.attest_sgx_enclave(sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY)
        self.assertEqual(token.algorithm, "RS256")
        self.assertNotIn("issued-by", result.policy_claims or {})

    def test_b09_wrong_issuer(self):
        """data: the SDK's own validation rejects a wrong expected issuer"""
        client = attestation_client(state["aad"], issuer="https://attacker.example")
        with self.assertRaises(AttestationTokenValidationException) as cm:
            client.attest_sgx_enclave(sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY)
        self.assertIn("is not the expected issuer", str(cm.exception))

    def test_b10_runtime_mismatch(self):
        """data: a quote whose report data does not match the runtime data is refused (400)"""
        client = attestation_client(state["aad"])
        with self.assertRaises(HttpResponseError) as cm:
            client.attest_sgx_enclave(sim_quote(b"other"), runtime_data=RUNTIME_BINARY)
        self.assertEqual(cm.exception.status_code, 400)

    def test_b11_data_plane_credential(self):
        """data: the clients ask the credential for https://attest.azure.net/.default"""
        self.assertIn("https://attest.azure.net/.default", credential.scopes)

    def test_b12_anonymous_routes(self):
        """data: AttestationClient demands a credential; attest, /certs and metadata ignore its token"""
        # The SDK refuses to build a client without one, although MAA's (and
        # avow's) attestation routes are anonymous: any token will do.
        with self.assertRaises(ValueError):
            AttestationClient(state["aad"], None)
        anyone = Credential("not-an-avow-token")
        client = AttestationClient(state["aad"], anyone, connection_verify=AVOW_CA, **validation(state["aad"]))
        _, token = client.attest_sgx_enclave(sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY)
        self.assertEqual(token.algorithm, "RS256")
        self.assertTrue(anyone.scopes, "the SDK sent no bearer token")

    def test_b13_credential_scopes(self):
        """data, arm: credential_scopes replaces the scope both clients ask for (OpenID setups)"""
        data_cred, arm_cred = Credential(), Credential()
        AttestationClient(
            state["aad"], data_cred, connection_verify=AVOW_CA, credential_scopes=["api://avow/.default"]
        ).get_open_id_metadata()
        self.assertEqual(data_cred.scopes, ["api://avow/.default"])
        AttestationManagementClient(
            arm_cred, SUB, base_url=AVOW_URL, connection_verify=AVOW_CA, credential_scopes=["api://avow/.default"]
        ).attestation_providers.list()
        self.assertEqual(arm_cred.scopes, ["api://avow/.default"])

    def test_b14_sdk_quirks(self):
        """sdk: known azure-security-attestation 1.0.1 defects, pinned (see docs/azure-sdk.md)"""
        client = attestation_client(state["aad"])
        # validate_not_before_time, as documented, is not a validation
        # option the SDK reads: per call it reaches requests.
        with self.assertRaises(TypeError):
            client.attest_sgx_enclave(
                sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY, validate_not_before_time=True
            )
        # EC signing keys fail in the SDK before anything is sent (it calls
        # EllipticCurvePrivateKey.sign(..., algorithm=SHA256())).
        with self.assertRaises(TypeError):
            admin_client(state["aad"]).set_policy(
                AttestationType.SGX_ENCLAVE, policy_text("ec"),
                signing_key=signer_ec.key, signing_certificate=signer_ec.certificate,
            )

    def test_b15_key_rotation(self):
        """data: after avow provider rotate-key, a client made before it refuses new tokens; a new client takes old and new"""
        uri = state["aad"]
        old_client = attestation_client(uri)
        _, old_token = old_client.attest_sgx_enclave(sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY)
        subprocess.run(
            [AVOW_BIN, "provider", "rotate-key", AAD, "--server", AVOW_URL, "--token", AVOW_TOKEN,
             "--ca-cert", AVOW_CA],
            check=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        # The SDK read /certs once, on first use, and keeps that list; avow's
        # tokens carry no x5c or jwk to fall back on.
        with self.assertRaises(AttestationTokenValidationException) as cm:
            old_client.attest_sgx_enclave(sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY)
        self.assertIn("Could not find the certificate used to sign the token", str(cm.exception))
        new_client = attestation_client(uri)
        signers = new_client.get_signing_certificates()
        self.assertEqual(len(signers), len(state["aad_signers"]) + 1)
        _, new_token = new_client.attest_sgx_enclave(sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY)
        self.assertNotEqual(new_token.key_id, old_token.key_id)
        self.assertSignedBy(signers)
        # The retired key stays in /certs until its last token expires.
        AttestationToken(token=old_token.to_jwt_string())._validate_token(signers, **validation(uri))
        self.assertEqual(recorder.signer.key_id, old_token.key_id)
        state["aad_signers"] = signers

    # -------------------------------------------------------- administration (AAD)

    def test_c01_get_policy(self):
        """admin (AAD): get_policy returns the default policy"""
        text, token = admin_client(state["aad"]).get_policy(AttestationType.SGX_ENCLAVE)
        self.assertIn("authorizationrules", text)
        self.assertEqual(token.issuer, state["aad"])
        self.assertSignedBy(state["aad_signers"])

    def test_c02_set_policy_unsigned(self):
        """admin (AAD): set_policy unsigned, get_policy, attest with it, reset_policy"""
        admin = admin_client(state["aad"])
        text = policy_text("aad-unsigned")
        result, _ = admin.set_policy(AttestationType.SGX_ENCLAVE, text)
        self.assertEqual(result.policy_resolution, PolicyModification.UPDATED)
        expected = sha256(AttestationPolicyToken(text).to_jwt_string().encode("ascii"))
        self.assertEqual(result.policy_token_hash, expected)
        self.assertIsNone(result.policy_signer)
        self.assertEqual(admin.get_policy(AttestationType.SGX_ENCLAVE)[0], text)
        client = attestation_client(state["aad"])
        res, _ = client.attest_sgx_enclave(sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY)
        self.assertEqual(res.policy_claims["issued-by"], "aad-unsigned")
        # x-ms-policy-hash, decoded by the SDK into bytes: SHA-256 of the
        # base64url of the policy text, as MAA computes it.
        self.assertEqual(res.policy_hash, sha256(b64url(text.encode()).encode("ascii")))
        reset, _ = admin.reset_policy(AttestationType.SGX_ENCLAVE)
        self.assertEqual(reset.policy_resolution, PolicyModification.REMOVED)
        self.assertNotEqual(admin.get_policy(AttestationType.SGX_ENCLAVE)[0], text)

    def test_c03_set_policy_signed(self):
        """admin (AAD): set_policy and reset_policy signed with the SDK's signing (RSA256)"""
        admin = admin_client(state["aad"])
        text = policy_text("aad-signed")
        result, _ = admin.set_policy(
            AttestationType.OPEN_ENCLAVE, text, signing_key=signer2.key, signing_certificate=signer2.certificate
        )
        self.assertEqual(result.policy_resolution, PolicyModification.UPDATED)
        self.assertIsNotNone(result.policy_signer)
        self.assertTrue(same_pem(result.policy_signer.certificates[0], signer2.certificate))
        sent = AttestationPolicyToken(text, signing_key=signer2.key, signing_certificate=signer2.certificate)
        self.assertEqual(sent.algorithm, "RSA256")  # the SDK's name for RS256
        self.assertEqual(result.policy_token_hash, sha256(sent.to_jwt_string().encode("ascii")))
        self.assertEqual(admin.get_policy(AttestationType.OPEN_ENCLAVE)[0], text)
        reset, _ = admin.reset_policy(
            AttestationType.OPEN_ENCLAVE, signing_key=signer2.key, signing_certificate=signer2.certificate
        )
        self.assertEqual(reset.policy_resolution, PolicyModification.REMOVED)

    def test_c04_policy_certificates_aad(self):
        """admin (AAD): get_policy_management_certificates is empty"""
        certs, _ = admin_client(state["aad"]).get_policy_management_certificates()
        self.assertEqual(certs, [])

    # -------------------------------------------------------- administration (Isolated)

    def test_d01_policy_certificates_isolated(self):
        """admin (Isolated): get_policy_management_certificates lists the creation certificate"""
        certs, _ = admin_client(state["isolated"]).get_policy_management_certificates()
        self.assertEqual(len(certs), 1)
        self.assertTrue(same_pem(certs[0][0], signer1.certificate))

    def test_d02_unsigned_refused(self):
        """admin (Isolated): set_policy unsigned, or signed by an unknown signer, is refused (400)"""
        admin = admin_client(state["isolated"])
        with self.assertRaises(HttpResponseError) as cm:
            admin.set_policy(AttestationType.SGX_ENCLAVE, policy_text("nope"))
        self.assertEqual(cm.exception.status_code, 400)
        with self.assertRaises(HttpResponseError) as cm:
            admin.set_policy(
                AttestationType.SGX_ENCLAVE, policy_text("nope"),
                signing_key=signer2.key, signing_certificate=signer2.certificate,
            )
        self.assertEqual(cm.exception.status_code, 400)

    def test_d03_signed_policy(self):
        """admin (Isolated): set_policy signed, attest (x-ms-policy-signer), reset_policy signed"""
        uri = state["isolated"]
        # The signer given once to the client applies to every call.
        admin = AttestationAdministrationClient(
            uri, credential, connection_verify=AVOW_CA,
            signing_key=signer1.key, signing_certificate=signer1.certificate, **validation(uri)
        )
        text = policy_text("isolated-signed")
        result, _ = admin.set_policy(AttestationType.SGX_ENCLAVE, text)
        self.assertEqual(result.policy_resolution, PolicyModification.UPDATED)
        sent = AttestationPolicyToken(text, signing_key=signer1.key, signing_certificate=signer1.certificate)
        self.assertEqual(result.policy_token_hash, sha256(sent.to_jwt_string().encode("ascii")))
        self.assertEqual(admin.get_policy(AttestationType.SGX_ENCLAVE)[0], text)
        client = attestation_client(uri)
        signers = client.get_signing_certificates()
        res, token = client.attest_sgx_enclave(sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY)
        self.assertSignedBy(signers)
        self.assertEqual(res.policy_claims["issued-by"], "isolated-signed")
        self.assertEqual(res.policy_hash, sha256(b64url(text.encode()).encode("ascii")))
        # AttestationResult.policy_signer raises AttributeError ('AttestationSigner'
        # object has no attribute 'x5_c'): the SDK converts the signer twice.
        # Read the claim from the token instead.
        with self.assertRaises(AttributeError):
            res.policy_signer
        jwk = token._body["x-ms-policy-signer"]
        self.assertEqual(jwk["x5c"][0], signer1.b64)
        # The SDK checks signatures against the provider's own /certs: the
        # AAD provider's signers do not sign the Isolated provider's tokens.
        with self.assertRaises(AttestationTokenValidationException):
            AttestationToken(token=token.to_jwt_string())._validate_token(state["aad_signers"], **validation(uri))
        with self.assertRaises(HttpResponseError) as cm:
            admin_client(uri).reset_policy(AttestationType.SGX_ENCLAVE)
        self.assertEqual(cm.exception.status_code, 400)
        reset, _ = admin.reset_policy(AttestationType.SGX_ENCLAVE)
        self.assertEqual(reset.policy_resolution, PolicyModification.REMOVED)

    def test_d04_add_remove_certificate(self):
        """admin (Isolated): add_policy_management_certificate, sign with it, remove_policy_management_certificate"""
        admin = admin_client(state["isolated"])
        add, _ = admin.add_policy_management_certificate(
            signer2.certificate, signing_key=signer1.key, signing_certificate=signer1.certificate
        )
        self.assertEqual(add.certificate_resolution, CertificateModification.IS_PRESENT)
        self.assertEqual(add.certificate_thumbprint.lower(), signer2.sha1)
        certs, _ = admin.get_policy_management_certificates()
        self.assertEqual(len(certs), 2)
        text = policy_text("second-signer")
        result, _ = admin.set_policy(
            AttestationType.SGX_ENCLAVE, text, signing_key=signer2.key, signing_certificate=signer2.certificate
        )
        self.assertEqual(result.policy_resolution, PolicyModification.UPDATED)
        admin.reset_policy(AttestationType.SGX_ENCLAVE, signing_key=signer2.key, signing_certificate=signer2.certificate)
        remove, _ = admin.remove_policy_management_certificate(
            signer2.certificate, signing_key=signer1.key, signing_certificate=signer1.certificate
        )
        self.assertEqual(remove.certificate_resolution, CertificateModification.IS_ABSENT)
        self.assertEqual(remove.certificate_thumbprint.lower(), signer2.sha1)
        self.assertEqual(len(admin.get_policy_management_certificates()[0]), 1)
        # A removed signer is no longer trusted.
        with self.assertRaises(HttpResponseError) as cm:
            admin.set_policy(
                AttestationType.SGX_ENCLAVE, text, signing_key=signer2.key, signing_certificate=signer2.certificate
            )
        self.assertEqual(cm.exception.status_code, 400)

    def test_d05_ec_certificate(self):
        """admin (Isolated): an EC certificate can be added and removed (the SDK labels it kty RSA)"""
        admin = admin_client(state["isolated"])
        add, _ = admin.add_policy_management_certificate(
            signer_ec.certificate, signing_key=signer1.key, signing_certificate=signer1.certificate
        )
        self.assertEqual(add.certificate_resolution, CertificateModification.IS_PRESENT)
        self.assertEqual(add.certificate_thumbprint.lower(), signer_ec.sha1)
        remove, _ = admin.remove_policy_management_certificate(
            signer_ec.certificate, signing_key=signer1.key, signing_certificate=signer1.certificate
        )
        self.assertEqual(remove.certificate_resolution, CertificateModification.IS_ABSENT)

    def test_e01_bad_token(self):
        """admin, arm: a wrong bearer token is refused with 401"""
        bad = Credential("avow_not-a-valid-token")
        with self.assertRaises(ClientAuthenticationError) as cm:
            admin_client(state["aad"], bad).get_policy(AttestationType.SGX_ENCLAVE)
        self.assertEqual(cm.exception.status_code, 401)
        with self.assertRaises(ClientAuthenticationError) as cm:
            arm_client(cred=bad).attestation_providers.list()
        self.assertEqual(cm.exception.status_code, 401)
        self.assertEqual(cm.exception.error.code, "AuthenticationFailed")

    def test_e02_arm_other_operations(self):
        """arm: operations, default providers, private endpoint connections"""
        arm = arm_client()
        ops = [op.name for op in arm.operations.list().value]
        self.assertIn("Microsoft.Attestation/attestationProviders/read", ops)
        # run.sh declares one shared provider: avow serve --shared-provider "sharedcus=Central US".
        defaults = arm.attestation_providers.list_default().value
        self.assertEqual([(p.name, p.location, p.trust_model, p.status) for p in defaults],
                         [("sharedcus", "Central US", "AAD", "Ready")])
        cus = arm_client("2021-06-01").attestation_providers.get_default_by_location("centralus")
        self.assertEqual((cus.name, cus.attest_uri), ("sharedcus", defaults[0].attest_uri))
        with self.assertRaises(ResourceNotFoundError):
            arm.attestation_providers.get_default_by_location("eastus")
        self.assertEqual(list(arm.private_endpoint_connections.list(RG, AAD)), [])
        with self.assertRaises(ResourceNotFoundError):
            arm.private_endpoint_connections.get(RG, AAD, "pec1")
        self.assertIsNone(arm.private_endpoint_connections.delete(RG, AAD, "pec1"))

    def test_e02b_shared_provider(self):
        """shared provider: attest_sgx_enclave with the default policy; get_policy works, set_policy is refused (403)"""
        uri = arm_client().attestation_providers.get_default_by_location("Central US").attest_uri
        result, token = attestation_client(uri).attest_sgx_enclave(sim_quote(RUNTIME_BINARY), runtime_data=RUNTIME_BINARY)
        self.assertEqual(token.issuer, uri)
        self.assertEqual((result.policy_claims or {}).get("tee"), "sgx")  # issued by the default policy
        text, _ = admin_client(uri).get_policy(AttestationType.SGX_ENCLAVE)
        self.assertIn("issuancerules", text)
        with self.assertRaises(HttpResponseError) as cm:
            admin_client(uri).set_policy(AttestationType.SGX_ENCLAVE, policy_text("shared"))
        self.assertEqual(cm.exception.status_code, 403)
        self.assertEqual(cm.exception.error.code, "shared_provider_read_only")

    def test_e03_async_clients(self):
        """aio: the asynchronous clients (aiohttp) attest, read a policy and get a provider"""
        from azure.core.credentials import AccessToken as _AccessToken
        from azure.mgmt.attestation.aio import AttestationManagementClient as AsyncARM
        from azure.security.attestation.aio import (
            AttestationAdministrationClient as AsyncAdmin,
            AttestationClient as AsyncClient,
        )

        class AsyncCredential:
            async def get_token(self, *scopes, **kwargs):
                return _AccessToken(AVOW_TOKEN, int(time.time()) + 3600)

            async def close(self):
                pass

        uri = state["aad"]
        quote = sim_quote(RUNTIME_JSON)

        async def run():
            cred = AsyncCredential()
            async with AsyncClient(uri, cred, connection_verify=AVOW_CA, **validation(uri)) as client:
                before = recorder.calls
                result, token = await client.attest_sgx_enclave(quote, runtime_json=RUNTIME_JSON)
                self.assertEqual(recorder.calls, before + 1, "the SDK did not validate the token")
                self.assertEqual(token.algorithm, "RS256")
                self.assertEqual(result.runtime_claims, json.loads(RUNTIME_JSON))
            async with AsyncAdmin(uri, cred, connection_verify=AVOW_CA, **validation(uri)) as admin:
                text, _ = await admin.get_policy(AttestationType.SGX_ENCLAVE)
                self.assertIn("authorizationrules", text)
            async with AsyncARM(cred, SUB, base_url=AVOW_URL, connection_verify=AVOW_CA) as arm:
                p = await arm.attestation_providers.get(RG, AAD)
                self.assertEqual(p.attest_uri, uri)

        import asyncio

        asyncio.run(run())

    # -------------------------------------------------------- ARM delete

    def test_f01_arm_delete(self):
        """arm: delete both providers (and again: 204); the data plane is gone"""
        arm = arm_client()
        arm.attestation_providers.delete(RG, AAD)
        arm_client("2021-06-01").attestation_providers.delete(RG, ISOLATED)
        with self.assertRaises(ResourceNotFoundError):
            arm.attestation_providers.get(RG, AAD)
        self.assertEqual(arm.attestation_providers.list().value, [])
        arm.attestation_providers.delete(RG, AAD)
        with self.assertRaises(ResourceNotFoundError) as cm:
            attestation_client(state["aad"]).get_open_id_metadata()
        self.assertEqual(cm.exception.status_code, 404)


# ---------------------------------------------------------------- runner


class Result(unittest.TextTestResult):
    """One line per check, as the JavaScript suite prints them."""

    def startTest(self, test):
        unittest.TestResult.startTest(self, test)

    def addSuccess(self, test):
        unittest.TestResult.addSuccess(self, test)
        self.stream.writeln("ok   " + test.shortDescription())
        self.stream.flush()

    def _fail(self, test, err, kind):
        self.stream.writeln("FAIL " + test.shortDescription())
        text = self._exc_info_to_string(err, test).rstrip().splitlines()
        for line in text[-12:]:
            self.stream.writeln("     " + line)
        e = err[1]
        if isinstance(e, HttpResponseError):
            self.stream.writeln("     (HTTP %s) %s" % (e.status_code, (e.response.text() if e.response else "")[:500]))
        self.stream.flush()

    def addFailure(self, test, err):
        unittest.TestResult.addFailure(self, test, err)
        self._fail(test, err, "failure")

    def addError(self, test, err):
        unittest.TestResult.addError(self, test, err)
        self._fail(test, err, "error")

    def printErrors(self):
        pass


def main():
    try:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(Suite)
        if len(sys.argv) > 1:  # run only the checks whose names contain an argument
            suite = unittest.TestSuite(t for t in suite if any(a in t.id() for a in sys.argv[1:]))
        runner = unittest.TextTestRunner(stream=sys.stdout, resultclass=Result, verbosity=0)
        result = runner.run(suite)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 and passed > 0 else 1)


if __name__ == "__main__":
    main()
