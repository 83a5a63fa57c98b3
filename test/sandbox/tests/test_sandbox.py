#!/usr/bin/env python3
"""Black-box tests of okra-sandbox over real HTTP (stdlib only).

The contract is test/sandbox/README.md; where it points at API.md, API.md.
Run by tests/run.sh, which starts the sandboxes and sets:

  OKRA_SANDBOX_PORT       main sandbox (plain HTTP), seeded with seed-test.json
  OKRA_SANDBOX_KEY        its first key (the seed's owner)
  OKRA_SANDBOX_KEY2       its second key, an Okra-style JWT
  OKRA_SANDBOX_KEY2_OWNER the `_id` claim of that JWT
  OKRA_SANDBOX_TLS_PORT   a TLS sandbox (same keys and seed)
  OKRA_SANDBOX_CA         the CA certificate that signed the TLS sandbox's
  OKRA_SANDBOX_BIN        the okra-sandbox binary (extra instances for flags)
  OKRA_SANDBOX_SEED       the seed file both were started with

Each test starts from POST /_sandbox/reset. Output is TAP; the last line is
"SUMMARY passed=N failed=M". Arguments, if any, select tests whose name
contains one of them.
"""

import datetime
import json
import math
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbclient as sb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get("OKRA_SANDBOX_PORT", "8089"))
KEY = os.environ.get("OKRA_SANDBOX_KEY", "sk_test_okra_sandbox")
KEY2 = os.environ.get("OKRA_SANDBOX_KEY2", "")
KEY2_OWNER = os.environ.get("OKRA_SANDBOX_KEY2_OWNER", "")
TLS_PORT = int(os.environ.get("OKRA_SANDBOX_TLS_PORT", "0") or 0)
CA = os.environ.get("OKRA_SANDBOX_CA", "")
BIN = os.environ.get("OKRA_SANDBOX_BIN", os.path.join(HERE, "..", "okra-sandbox"))
SEED = os.environ.get("OKRA_SANDBOX_SEED", os.path.join(HERE, "..", "seed-test.json"))

with open(SEED) as _f:
    SEED_DATA = json.load(_f)
SEED_WALLET = SEED_DATA.get("wallet", 100000000)
SEED_PAYMENTS = {p["id"]: p for p in SEED_DATA["payments"]}

# seed-test.json ids (see SEEDS.md)
P = {n: "64a0000000000000000000%02x" % n for n in range(1, 0x16)}
UNKNOWN_ID = "64a0000000000000000000ff"
ACCOUNT = "64d000000000000000000001"

MSG = {
    "verify": "Payment Status suceccefully retrieved!",
    "initiate": "Payment succesfully initiated!",
    "refund": "Refund has been initated; Please verify `reufund_payment` to confirm.",
    "refund_inner": "Payment has been initiated; Please verify to complete",
    "payout": "Payout successfully initiated!",
    "payout_short": "You do not have sufficient funds in your wallet to initiate this payout.",
    "cancel": "Payment successfully cancelled.",
    "get": "Payment successfully retrieved.",
    "list": "Payments successfully retrieved.",
    "duplicate": "Duplicate request. This payment has already been refunded.",
    "greater": "You cannot intiate a refund for an amount greater than the initial payment.",
    "progress": "You cannot intiate a refund on a payment that is in progress or failed.",
    "wallet": ("You do not have sufficient funds in your wallet to initiate this refund, "
               "please pass an `account` ID or lower the refund amount to continue"),
    "not_cancellable": "Payment can only be cancelled when it is initialized or pending.",
    "not_found": "Payment not found.",
    "payload": "The API call failed. Please check the message payload.",
    "too_large": "Request body too large.",
    "auth": "Invalid or missing secret key.",
    "route": "The API Route you're using doesn't exist. Check our documentation and confirm the route.",
    "rate": "Too many requests. You can try again in 60 seconds.",
    "idem_body": "Idempotency-Key has already been used with a different request body.",
    "idem_flight": "A request with this Idempotency-Key is still in progress.",
    "timeout503": "Our data source has returned a timeout response. Please retry the request. ",
    "payout_get": "Payout successfully retrieved.",
    "payout_not_found": "Payout not found.",
    "link": "Payment link successfully created!",
    "auth_cancel": "Payment authorization successfully cancelled.",
    "auth_reauth": "Payment authorization successfully reauthorized.",
    "auth_list": "Payment authorizations successfully retrieved.",
    "auth_not_found": "Authorization not found.",
    "auth_cancelled": "This authorization has been cancelled.",
    "auth_not_cancelled": "Only a cancelled authorization can be reauthorized.",
    "auth_by_customer": ("This authorization was cancelled by the customer and cannot be "
                         "reauthorized."),
    "bulk": "Bulk payment file successfully uploaded.",
    "bulk_header": ("Invalid or missing file header: the columns must be account_to_debit, "
                    "account_to_credit, amount, currency, callback_url."),
    "bulk_empty": "The file has no payment rows.",
}


def auth_message(start, initial, amount):
    """pay/authorization/initiate's message: Okra's, with our values (API.md 5.10)."""
    return ("Payment authorization was successfully updated and will begin %s with an initial "
            "payment of NGN %d and continue with payments of NGN %d on an ongoing basis until "
            "cancelled" % (start, initial, amount))


def order_error(first, second):
    return "%s must not be after %s." % (first, second)


def invalid(field):
    return "Invalid or missing %s." % field


# API.md section 4: response_status derived from status
RESPONSE_STATUS = {
    "initialize": "pending", "initialized": "pending", "pending": "pending",
    "initiated": "pending", "review": "pending", "success": "success",
    "success_pending_validation": "success", "completed": "success",
    "cancelled": "cancelled", "error": "failed", "failed": "failed",
}

HEX24 = re.compile(r"^[0-9a-f]{24}$")
REF_RE = re.compile(r"^[A-Za-z0-9_-]{15}$")
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

ROUTES = ["pay/verify", "pay/cancel", "pay/refund", "pay/initiate", "pay/get/id",
          "pay/get/Id", "pay/list", "pay/payout", "pay/payout/get", "pay/get/", "pay/get",
          "pay/link/create", "pay/authorization/initiate", "pay/authorization/cancel",
          "pay/authorization/reauth", "pay/authorization/list",
          "pay/authorization/getByCustomer", "bulkfiles/initiate"]

VERIFY_KEYS = ["_id", "amount", "currency", "customer", "link", "status", "response_status"]
REFUND_KEYS = ["history", "_id", "env", "owner", "payment", "receiever", "__v", "amount",
               "created_at", "currency", "initiator", "last_updated", "reason", "record",
               "status"]
HISTORY_KEYS = ["initiated_at", "success_at", "failed_at"]
REFUND_PAYMENT_KEYS = ["success", "data", "error", "msg"]
INITIATE_DATA_KEYS = ["payment", "okra_wallet", "callback_url", "customer"]
REFUND_PAY_PAYMENT_KEYS = ["record", "amount", "bank", "bank_response", "created_at",
                           "credit_account", "currency", "customer", "debit_account",
                           "email", "env", "error", "fee", "last_updated", "link", "meta",
                           "meta_responses", "owner", "ref", "schedule", "source", "status",
                           "id"]
INITIATE_PAYMENT_KEYS = ["record", "amount", "bank_response", "created_at", "credit_account",
                         "currency", "customer", "debit_account", "email", "env", "error",
                         "last_updated", "link", "meta", "owner", "ref", "schedule",
                         "source", "status", "id"]
WALLET_KEYS = ["amount", "currency", "last_updated", "id"]
CUSTOMER_KEYS = ["name", "id", "account"]
ACCOUNT_KEYS = ["id", "name", "nuban", "bank"]
BANK_KEYS = ["name", "slug", "id", "logo", "png_logo", "icon"]
PAYOUT_KEYS = ["status", "_id", "amount", "ref", "fee", "account_to_credit", "nuban_to_credit",
               "initiated_by", "env", "created_at", "last_updated"]
PAGINATION_KEYS = ["totalDocs", "limit", "hasPrevPage", "hasNextPage", "page", "totalPages",
                   "pagingCounter", "prevPage", "nextPage"]
ERR_A_REFUND_KEYS = ["_id", "amount", "created_at", "currency", "history", "initiator",
                     "reason", "status", "meta", "refund_payment"]
ERR_A_RP_KEYS = ["_id", "amount", "credit_account", "currency", "customer", "debit_account",
                 "env", "owner", "ref", "status"]
ERR_B_PAYMENT_KEYS = ["_id", "record", "__v", "amount", "created_at", "credit_account",
                      "currency", "customer", "debit_account", "email", "env", "error",
                      "last_updated", "link", "meta", "owner", "ref", "schedule", "source",
                      "status", "refund_amount", "account_to_debit"]
ERR_C_PAYMENT_KEYS = ["_id", "record", "amount", "created_at", "credit_account", "currency",
                      "customer", "debit_account", "email", "env", "error", "last_updated",
                      "link", "meta", "ref", "schedule", "source", "status"]
ERR_D_WALLET_KEYS = ["_id", "amount", "currency", "env", "last_updated"]
COUNTER_KEYS = ["connections", "requests", "refunds", "idempotent_replays", "faults_fired",
                "webhooks"]
LINK_KEYS = ["preselect_bank", "schedule", "whatsapp", "_id", "amount", "currency", "type",
             "debitLater", "countries", "unique_views", "billable_products", "data", "archive",
             "corporate", "projects", "note", "count", "created_by", "url", "surl", "short_url",
             "owner", "name", "env", "account", "created_at", "last_updated", "__v"]
LINK_REF_KEYS = ["_id", "url", "short_url", "surl"]
AUTH_KEYS = ["_id", "customer", "accounts", "disconnect", "disconnected_at", "duration", "link",
             "amount", "initialAmount", "currency", "oneTime", "status", "cancelled_by", "owner",
             "env", "created_at", "last_updated"]
BULKFILE_KEYS = ["_id", "file_name", "owner", "product", "status", "user", "rows", "payments",
                 "env", "created_at"]

# seed-test.json's links, authorizations and payouts (SEEDS.md)
L_FIXED, L_OPEN = "651000000000000000000001", "651000000000000000000002"
A_ACTIVE, A_MERCHANT, A_CUSTOMER = ("652000000000000000000001", "652000000000000000000002",
                                    "652000000000000000000003")
PO_INIT, PO_DONE = "653000000000000000000001", "653000000000000000000002"
SEED_LINKS = {x["id"]: x for x in SEED_DATA.get("links", [])}
SEED_AUTHS = {x["id"]: x for x in SEED_DATA.get("authorizations", [])}
SEED_PAYOUTS = {x["id"]: x for x in SEED_DATA.get("payouts", [])}
CSV_HEADER = b"account_to_debit,account_to_credit,amount,currency,callback_url\r\n"


def today_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


def tls_context():
    ctx = ssl.create_default_context(cafile=CA)
    return ctx


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def id_time(oid):
    return int(oid[:8], 16)


def iso_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def with_response_status(payment, rs):
    """pay/initiate's payment as pay/get/id and pay/list show it (API.md 8.4):
    the same keys and values, plus response_status right after status."""
    out = {}
    for k, v in payment.items():
        out[k] = v
        if k == "status":
            out["response_status"] = rs
    return out


def walk(tree):
    """Yield every dict inside a JSON tree."""
    if isinstance(tree, dict):
        yield tree
        for v in tree.values():
            yield from walk(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from walk(v)


def find_by_id(tree, oid, need=None):
    """The first dict in `tree` whose _id or id is `oid` (and has key `need`)."""
    for d in walk(tree):
        if (d.get("_id") == oid or d.get("id") == oid) and (need is None or need in d):
            return d
    return None


class Base(unittest.TestCase):
    maxDiff = None
    port = PORT
    tls = False

    def setUp(self):
        self.api = sb.Api(self.port, KEY, tls_context() if self.tls else None)
        r = self.api.control("POST", "reset")
        self.assertEqual(r.status, 200, "reset failed: %r" % r)

    # --- helpers ---------------------------------------------------------
    def call(self, route, body=None, **kw):
        return self.api.call(route, body, **kw)

    def ok(self, route, body=None, message=None, **kw):
        """The call must succeed (HTTP 200, success envelope); returns data."""
        r = self.call(route, body, **kw)
        self.assertEqual(r.status, 200, "%s %r -> %r" % (route, body, r))
        j = r.json
        self.assertEqual(list(j.keys()), ["status", "message", "data"], r)
        self.assertEqual(j["status"], "success")
        if message is not None:
            self.assertEqual(j["message"], message)
        self.assertIsInstance(j["data"], dict)
        return j["data"]

    def err(self, route, body, status, message, data_key=None, **kw):
        """The call must fail with exactly this HTTP code and message; returns
        data[data_key] (or None when the error carries no data)."""
        r = self.call(route, body, **kw)
        return self.check_err(r, status, message, data_key)

    def check_err(self, r, status, message, data_key=None):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"),
                        r.headers)
        j = r.json
        if data_key is None:
            self.assertEqual(j, {"status": "error", "message": message})
            self.assertEqual(list(j.keys()), ["status", "message"])
            return None
        self.assertEqual(list(j.keys()), ["status", "message", "data"], r)
        self.assertEqual(j["status"], "error")
        self.assertEqual(j["message"], message)
        self.assertEqual(list(j["data"].keys()), [data_key], r)
        self.assertIsInstance(j["data"][data_key], dict)
        return j["data"][data_key]

    def ctl(self, method, path, body=None, expect=200):
        r = self.api.control(method, path, body)
        if expect is not None:
            self.assertEqual(r.status, expect, "%s /_sandbox/%s %r -> %r" % (method, path, body, r))
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"),
                        "control answers are JSON: %r" % r.headers)
        return r.json

    def counters(self):
        c = self.ctl("GET", "counters")
        return c

    def fault(self, **spec):
        r = self.api.control("POST", "faults", spec)
        self.assertIn(r.status, (200, 201), "arming %r -> %r" % (spec, r))
        return r

    def new_payment(self, status, amount, **extra):
        body = {"status": status, "amount": amount}
        body.update(extra)
        j = self.ctl("POST", "payments", body)
        self.assertEqual(list(j.keys()), ["payment"], j)
        p = j["payment"]
        pid = p.get("id", p.get("_id"))
        self.assertRegex(pid, HEX24)
        return pid

    def move(self, pid, status, **extra):
        body = {"status": status}
        body.update(extra)
        return self.ctl("POST", "payments/" + pid, body)

    def set_wallet(self, amount, key=None):
        body = {"amount": amount}
        if key:
            body["key"] = key
        return self.ctl("POST", "wallet", body)

    def verify(self, pid, **kw):
        return self.ok("pay/verify", {"payment_id": pid}, MSG["verify"], **kw)["payment_status"]

    def wallet(self, key=sb.DEFAULT, prefix="/v2/"):
        """The owner's wallet balance, read from pay/initiate's okra_wallet."""
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 100,
                                     "currency": "NGN"}, MSG["initiate"], key=key, prefix=prefix)
        return d["okra_wallet"]["amount"]

    def refund(self, pid, amount=None, **kw):
        body = {"payment_id": pid}
        if amount is not None:
            body["amount"] = amount
        body.update(kw.pop("extra", {}))
        return self.ok("pay/refund", body, MSG["refund"], **kw)

    def refunds_of(self, pid):
        return self.counters()["refunds"].get(pid)

    def assertKeysInOrder(self, obj, keys, exact=False):
        """`keys` all present in `obj`, in this relative order (exact: nothing else)."""
        got = list(obj.keys())
        if exact:
            self.assertEqual(got, keys)
            return
        missing = [k for k in keys if k not in obj]
        self.assertEqual(missing, [], "missing keys; got %r" % got)
        self.assertEqual([k for k in got if k in keys], keys, "key order")

    def assertKeys(self, obj, keys):
        missing = [k for k in keys if k not in obj]
        self.assertEqual(missing, [], "missing keys; got %r" % list(obj.keys()))

    def assertRecentId(self, oid, slack=300):
        self.assertRegex(oid, HEX24)
        self.assertLess(abs(id_time(oid) - time.time()), slack,
                        "ObjectID %s carries no current timestamp" % oid)

    def assertRecentIso(self, s, slack=300):
        self.assertRegex(s, ISO_RE)
        self.assertLess(abs(iso_time(s) - time.time()), slack, s)

    def ctl_error(self, method, path, body, status, message=None):
        """A control request that must fail with this status (and message)."""
        r = self.api.control(method, path, body)
        self.assertEqual(r.status, status, "%s /_sandbox/%s %r -> %r" % (method, path, body, r))
        self.assertEqual(list(r.json.keys()), ["error"], r)
        if message is not None:
            self.assertEqual(r.json["error"], message)
        return r.json["error"]

    def bulk_call(self, csv=None, product="initiate_payment", filename="bulk.csv", **kw):
        """bulkfiles/initiate with a multipart body (no file when csv is None)."""
        fields = [("product", product)] if product is not None else []
        files = [("file", filename, "text/csv", csv)] if csv is not None else []
        body, ctype = sb.multipart(fields, files)
        return self.call("bulkfiles/initiate", None, raw_body=body, content_type=ctype, **kw)

    def new_auth(self, customer="64c0000000000000000000c1", accounts=("64d0000000000000000000c1",),
                 **extra):
        body = {"customer": customer, "accounts": list(accounts)}
        body.update(extra)
        j = self.ctl("POST", "authorizations", body)
        self.assertEqual(list(j.keys()), ["authorization"], j)
        return j["authorization"]

    def total_payments(self, key=sb.DEFAULT):
        return self.ok("pay/list", {"limit": 1}, key=key)["pagination"]["totalDocs"]

    def faults_list(self):
        j = self.ctl("GET", "faults")
        if isinstance(j, list):
            return j
        lists = [v for v in j.values() if isinstance(v, list)]
        self.assertEqual(len(lists), 1, "GET /_sandbox/faults: expected one list: %r" % j)
        return lists[0]


# =====================================================================
# Routes, env, verify
# =====================================================================
class T01Routes(Base):
    def _all_routes(self, prefix, env):
        pend = self.new_payment("pending", 5000)
        succ = self.new_payment("success", 6000)
        d = self.ok("pay/verify", {"payment_id": succ}, MSG["verify"], prefix=prefix)
        self.assertEqual(d["payment_status"]["_id"], succ)
        d = self.ok("pay/cancel", {"payment_id": pend}, MSG["cancel"], prefix=prefix)
        self.assertEqual(d["payment"]["status"], "cancelled")
        d = self.ok("pay/refund", {"payment_id": succ, "amount": 1000}, MSG["refund"], prefix=prefix)
        self.assertEqual(d["refund"]["env"], env)
        self.assertEqual(d["refund_payment"]["data"]["payment"]["env"], env)
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 700, "currency": "NGN"},
                    MSG["initiate"], prefix=prefix)
        self.assertEqual(d["payment"]["env"], env)
        newid = d["payment"]["id"]
        for route in ("pay/get/id", "pay/get/Id"):
            d = self.ok(route, {"payment_id": newid}, MSG["get"], prefix=prefix)
            self.assertEqual(d["payment"]["id"], newid)
            self.assertEqual(d["payment"]["env"], env)
        d = self.ok("pay/list", {"page": 1, "limit": 5}, MSG["list"], prefix=prefix)
        self.assertEqual(len(d["payments"]), 5)
        d = self.ok("pay/payout", {"account_to_credit": ACCOUNT, "amount": 1500, "currency": "NGN"},
                    MSG["payout"], prefix=prefix)
        self.assertEqual(d["payout"]["env"], env)

    def test_all_routes_under_v2_env_production(self):
        self._all_routes("/v2/", "production")

    def test_all_routes_under_v2_sandbox_env_production_sandbox(self):
        self._all_routes("/v2/sandbox/", "production-sandbox")

    def test_payment_visible_from_both_prefixes(self):
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 900, "currency": "NGN"},
                    prefix="/v2/sandbox/")
        pid = d["payment"]["id"]
        ps = self.verify(pid, prefix="/v2/")
        self.assertEqual(ps["_id"], pid)
        g = self.ok("pay/get/id", {"payment_id": pid}, prefix="/v2/")["payment"]
        self.assertEqual(g["env"], "production-sandbox")
        ps = self.verify(P[1], prefix="/v2/sandbox/")
        self.assertEqual(ps["amount"], 10000)

    def test_success_content_type_json(self):
        r = self.call("pay/verify", {"payment_id": P[1]})
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r.headers)
        self.assertEqual(int(r.headers["content-length"]), len(r.body))


class T02Verify(Base):
    def test_verify_body_and_key_order(self):
        r = self.call("pay/verify", {"payment_id": P[1]})
        self.assertEqual(r.status, 200, r)
        j = r.json
        self.assertEqual(list(j.keys()), ["status", "message", "data"])
        self.assertEqual(list(j["data"].keys()), ["payment_status"])
        ps = j["data"]["payment_status"]
        self.assertEqual(list(ps.keys()), VERIFY_KEYS)
        self.assertEqual(j["status"], "success")
        self.assertEqual(j["message"], MSG["verify"])
        self.assertEqual(ps, {"_id": P[1], "amount": 10000, "currency": "NGN",
                              "customer": "64c000000000000000000001", "link": None,
                              "status": "success", "response_status": "success"})
        self.assertTrue(is_int(ps["amount"]))

    def test_verify_every_seeded_payment(self):
        for pid, p in sorted(SEED_PAYMENTS.items()):
            with self.subTest(pid=pid):
                ps = self.verify(pid)
                self.assertEqual(ps["_id"], pid)
                self.assertEqual(ps["amount"], p["amount"])
                self.assertEqual(ps["currency"], p.get("currency", "NGN"))
                self.assertEqual(ps["status"], p["status"])
                self.assertEqual(ps["response_status"],
                                 p.get("response_status", RESPONSE_STATUS[p["status"]]))
                if "customer" in p:
                    self.assertEqual(ps["customer"], p["customer"])

    def test_verify_unknown_payment(self):
        self.err("pay/verify", {"payment_id": UNKNOWN_ID}, 400, MSG["not_found"])

    def test_verify_api_payment_link_null_and_pending(self):
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 4200, "currency": "NGN"})
        ps = self.verify(d["payment"]["id"])
        self.assertEqual(list(ps.keys()), VERIFY_KEYS)
        self.assertEqual(ps["link"], None)
        self.assertEqual(ps["status"], "initialize")
        self.assertEqual(ps["response_status"], "pending")
        self.assertEqual(ps["amount"], 4200)
        self.assertEqual(ps["customer"], d["payment"]["customer"])

    def test_verify_refund_payment(self):
        d = self.refund(P[1], 2500)
        rp = d["refund_payment"]["data"]["payment"]
        ps = self.verify(rp["id"])
        self.assertEqual(ps["_id"], rp["id"])
        self.assertEqual(ps["amount"], 2500)
        self.assertEqual(ps["status"], "initialize")
        self.assertEqual(ps["response_status"], "pending")


# =====================================================================
# Control API
# =====================================================================
class T03Control(Base):
    def test_create_payment_same_shape_as_get_id(self):
        j = self.ctl("POST", "payments", {"status": "success", "amount": 1234,
                                          "id": "64e000000000000000000001",
                                          "customer": "64c0000000000000000000aa"})
        self.assertEqual(list(j.keys()), ["payment"])
        g = self.ok("pay/get/id", {"payment_id": "64e000000000000000000001"}, MSG["get"])["payment"]
        self.assertEqual(list(j["payment"].keys()), list(g.keys()))
        self.assertEqual(j["payment"]["id"], "64e000000000000000000001")
        self.assertEqual(g["status"], "success")
        self.assertEqual(g["amount"], 1234)
        self.assertEqual(g["currency"], "NGN")
        self.assertEqual(g["customer"], "64c0000000000000000000aa")
        self.assertEqual(g["env"], "production")
        ps = self.verify("64e000000000000000000001")
        self.assertEqual(ps["response_status"], "success")

    def test_create_payment_generated_id_and_env(self):
        pid = self.new_payment("pending", 800, env="production-sandbox")
        self.assertRecentId(pid)
        g = self.ok("pay/get/id", {"payment_id": pid})["payment"]
        self.assertEqual(g["env"], "production-sandbox")
        self.assertEqual(g["status"], "pending")

    def test_create_payment_for_second_key(self):
        pid = self.new_payment("success", 3000, key=KEY2)
        ps = self.verify(pid, key=KEY2)
        self.assertEqual(ps["amount"], 3000)
        self.err("pay/verify", {"payment_id": pid}, 400, MSG["not_found"])

    def test_move_status_and_default_response_status(self):
        pid = self.new_payment("initialize", 5000)
        for st in ["pending", "initiated", "review", "success_pending_validation", "success",
                   "completed", "error", "failed", "cancelled", "initialize"]:
            with self.subTest(status=st):
                self.move(pid, st)
                ps = self.verify(pid)
                self.assertEqual(ps["status"], st)
                self.assertEqual(ps["response_status"], RESPONSE_STATUS[st])

    def test_move_with_response_status(self):
        pid = self.new_payment("pending", 5000)
        self.move(pid, "completed", response_status="failed")
        ps = self.verify(pid)
        self.assertEqual((ps["status"], ps["response_status"]), ("completed", "failed"))
        self.err("pay/refund", {"payment_id": pid}, 400, MSG["progress"], "payment")
        self.move(pid, "completed", response_status="success")
        d = self.refund(pid)
        self.assertEqual(d["refund"]["amount"], 5000)

    def test_create_with_response_status(self):
        pid = self.new_payment("completed", 700, response_status="failed")
        ps = self.verify(pid)
        self.assertEqual((ps["status"], ps["response_status"]), ("completed", "failed"))

    def test_control_errors(self):
        r = self.api.control("POST", "payments/" + UNKNOWN_ID, {"status": "success"})
        self.assertEqual(r.status, 404, r)
        r = self.api.control("POST", "refunds/" + UNKNOWN_ID, {"status": "completed"})
        self.assertEqual(r.status, 404, r)
        r = self.api.control("GET", "nothing-here")
        self.assertEqual(r.status, 404, r)
        r = sb.request(PORT, "POST", "/_sandbox/payments", b"{not json",
                       {"Content-Type": "application/json"})
        self.assertEqual(r.status, 400, r)
        r = self.api.control("POST", "payments", {"amount": 100})
        self.assertEqual(r.status, 400, "status missing: %r" % r)
        r = self.api.control("POST", "faults", {"kind": "no-such-kind"})
        self.assertEqual(r.status, 400, r)
        # the server still answers
        self.verify(P[1])

    def test_control_refund_moves(self):
        d = self.refund(P[3], 500)
        rid = d["refund"]["_id"]
        r = self.api.control("POST", "refunds/" + rid, {"status": "bogus"})
        self.assertEqual(r.status, 400, r)
        r = self.api.control("POST", "refunds/" + rid, {})
        self.assertEqual(r.status, 400, r)
        r = self.api.control("POST", "payments", {"status": "success", "amount": 5,
                                                  "key": "sk_no_such_key"})
        self.assertEqual(r.status, 400, r)
        r = self.api.control("POST", "payments", {"status": "success", "amount": 5,
                                                  "id": P[1]})
        self.assertEqual(r.status, 400, "a duplicate id was accepted: %r" % r)
        self.assertEqual(self.verify(P[1])["amount"], 10000)
        self.ctl("POST", "refunds/" + rid, {"status": "completed"})
        ps = self.verify(d["refund_payment"]["data"]["payment"]["id"])
        self.assertEqual(ps["status"], "success")

    def test_control_needs_no_key(self):
        r = self.api.control("GET", "counters")
        self.assertEqual(r.status, 200)

    def test_set_wallet(self):
        self.set_wallet(12345)
        self.assertEqual(self.wallet(), 12345)
        d = self.err("pay/refund", {"payment_id": P[2]}, 400, MSG["wallet"], "wallet")
        self.assertEqual(d["amount"], 12345)

    def test_set_wallet_per_key(self):
        before2 = self.wallet(key=KEY2)
        self.set_wallet(5)
        self.assertEqual(self.wallet(key=KEY2), before2)
        self.set_wallet(777, key=KEY2)
        self.assertEqual(self.wallet(key=KEY2), 777)
        self.assertEqual(self.wallet(), 5)

    def test_state_lists_payments_refunds_wallets(self):
        d = self.refund(P[3], 1000)
        rid = d["refund"]["_id"]
        self.set_wallet(4242)
        st = self.ctl("GET", "state")
        text = json.dumps(st)
        for pid in SEED_PAYMENTS:
            self.assertIn(pid, text)
        ref = find_by_id(st, rid)
        self.assertIsNotNone(ref, "refund %s not in state" % rid)
        self.assertEqual(ref["status"], "initiated")
        self.assertIn("4242", text)

    def test_reset_restores_everything(self):
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 100, "currency": "NGN"})
        newid = d["payment"]["id"]
        self.refund(P[2])
        self.ok("pay/cancel", {"payment_id": P[0xa]})
        self.set_wallet(1)
        self.ctl("POST", "config", {"rate_limit": 1000, "latency_ms": 1})
        self.fault(kind="status", status=500, route="pay/list", count=5)
        self.ok("pay/verify", {"payment_id": P[1]}, idem="reset-key")
        r = self.api.control("POST", "reset")
        self.assertEqual(r.status, 200)
        c = self.counters()
        self.assertEqual(c["requests"], {})
        self.assertEqual(c["refunds"], {})
        self.assertEqual(c["idempotent_replays"], 0)
        self.assertEqual(c["faults_fired"], 0)
        self.assertEqual(self.faults_list(), [])
        self.err("pay/verify", {"payment_id": newid}, 400, MSG["not_found"])
        self.assertEqual(self.verify(P[0xa])["status"], "pending")
        # the full refund is gone: P2 refunds again; the wallet is the seed's
        d = self.refund(P[2])
        self.assertEqual(d["refund_payment"]["data"]["okra_wallet"]["amount"], SEED_WALLET - 25000)
        # the idempotency key is forgotten: another body is accepted
        self.ok("pay/verify", {"payment_id": P[3]}, idem="reset-key")
        self.ok("pay/list", {})

    def test_config_latency_and_jitter(self):
        self.ctl("POST", "config", {"latency_ms": 300})
        r = self.call("pay/verify", {"payment_id": P[1]})
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(r.elapsed, 0.29)
        self.assertLess(r.elapsed, 2.0)
        self.ctl("POST", "config", {"latency_ms": 0, "jitter_ms": 150})
        for _ in range(3):
            r = self.call("pay/verify", {"payment_id": P[1]})
            self.assertEqual(r.status, 200)
            self.assertLess(r.elapsed, 1.0)
        self.ctl("POST", "config", {"latency_ms": 0, "jitter_ms": 0})
        r = self.call("pay/verify", {"payment_id": P[1]})
        self.assertLess(r.elapsed, 0.25)

    def test_latency_reset_to_command_line(self):
        self.ctl("POST", "config", {"latency_ms": 400})
        self.api.control("POST", "reset")
        r = self.call("pay/verify", {"payment_id": P[1]})
        self.assertLess(r.elapsed, 0.3)


# =====================================================================
# Cancel
# =====================================================================
class T04Cancel(Base):
    def _cancel_ok(self, pid, amount):
        d = self.ok("pay/cancel", {"payment_id": pid}, MSG["cancel"])
        self.assertEqual(list(d.keys()), ["payment"])
        p = d["payment"]
        self.assertEqual(p.get("id", p.get("_id")), pid)
        self.assertEqual(p["status"], "cancelled")
        self.assertEqual(p["amount"], amount)
        ps = self.verify(pid)
        self.assertEqual((ps["status"], ps["response_status"]), ("cancelled", "cancelled"))

    def test_cancel_from_pending(self):
        self._cancel_ok(P[0xa], 20000)

    def test_cancel_from_initialize(self):
        self._cancel_ok(P[0xc], 15000)

    def test_cancel_from_initialized_spelling(self):
        pid = self.new_payment("initialized", 3300)
        self._cancel_ok(pid, 3300)

    def test_cancel_after_initiate(self):
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 6100, "currency": "NGN"})
        self._cancel_ok(d["payment"]["id"], 6100)

    def test_cancel_refused_other_statuses(self):
        for n in (1, 0xe, 0xf, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15):
            pid = P[n]
            with self.subTest(pid=pid, status=SEED_PAYMENTS[pid]["status"]):
                p = self.err("pay/cancel", {"payment_id": pid}, 400, MSG["not_cancellable"],
                             "payment")
                self.assertEqual(p.get("_id", p.get("id")), pid)
                self.assertEqual(p["status"], SEED_PAYMENTS[pid]["status"])
                self.assertEqual(self.verify(pid)["status"], SEED_PAYMENTS[pid]["status"])

    def test_cancel_twice(self):
        self._cancel_ok(P[0xa], 20000)
        p = self.err("pay/cancel", {"payment_id": P[0xa]}, 400, MSG["not_cancellable"], "payment")
        self.assertEqual(p["status"], "cancelled")

    def test_cancel_refund_payment_refused(self):
        d = self.refund(P[1], 1000)
        rpid = d["refund_payment"]["data"]["payment"]["id"]
        self.assertEqual(self.verify(rpid)["status"], "initialize")
        p = self.err("pay/cancel", {"payment_id": rpid}, 400, MSG["not_cancellable"], "payment")
        self.assertEqual(p.get("_id", p.get("id")), rpid)
        self.assertEqual(self.verify(rpid)["status"], "initialize")

    def test_cancelled_then_refund_refused(self):
        self._cancel_ok(P[0xc], 15000)
        self.err("pay/refund", {"payment_id": P[0xc]}, 400, MSG["progress"], "payment")

    def test_cancel_unknown_and_invalid(self):
        self.err("pay/cancel", {"payment_id": UNKNOWN_ID}, 400, MSG["not_found"])
        self.err("pay/cancel", {}, 400, invalid("payment_id"))
        self.err("pay/cancel", {"payment_id": "xyz"}, 400, invalid("payment_id"))

    def test_cancel_other_owner(self):
        self.err("pay/cancel", {"payment_id": P[0xa]}, 400, MSG["not_found"], key=KEY2)
        self.assertEqual(self.verify(P[0xa])["status"], "pending")


# =====================================================================
# Refunds
# =====================================================================
class T05Refund(Base):
    def test_full_refund_amount_omitted(self):
        d = self.refund(P[2])
        self.assertEqual(list(d.keys()), ["refund", "refund_payment"])
        ref = d["refund"]
        self.assertKeys(ref, REFUND_KEYS)
        self.assertRecentId(ref["_id"])
        self.assertEqual(ref["payment"], P[2])
        self.assertEqual(ref["amount"], 25000)
        self.assertEqual(ref["currency"], "NGN")
        self.assertEqual(ref["status"], "initiated")
        self.assertEqual(ref["env"], "production")
        self.assertEqual(ref["reason"], None)
        self.assertEqual(ref["__v"], 0)
        self.assertEqual(list(ref["history"].keys()), HISTORY_KEYS)
        self.assertRecentIso(ref["history"]["initiated_at"])
        self.assertEqual(ref["history"]["success_at"], None)
        self.assertEqual(ref["history"]["failed_at"], None)
        self.assertRecentIso(ref["created_at"])
        self.assertRecentIso(ref["last_updated"])
        rp = d["refund_payment"]
        self.assertKeys(rp, REFUND_PAYMENT_KEYS)
        self.assertIs(rp["success"], True)
        self.assertEqual(rp["error"], None)
        self.assertEqual(rp["msg"], MSG["refund_inner"])
        self.assertKeys(rp["data"], INITIATE_DATA_KEYS)
        pay = rp["data"]["payment"]
        self.assertKeys(pay, REFUND_PAY_PAYMENT_KEYS)
        self.assertRecentId(pay["id"])
        self.assertNotEqual(pay["id"], P[2])
        self.assertNotEqual(pay["id"], ref["_id"])
        self.assertEqual(pay["amount"], 25000)
        self.assertEqual(pay["status"], "initialize")
        self.assertEqual(pay["fee"], None)
        self.assertEqual(pay["currency"], "NGN")
        self.assertEqual(pay["env"], "production")
        self.assertEqual(pay["source"], "api")
        self.assertRegex(pay["ref"], REF_RE)
        self.assertRecentIso(pay["created_at"])
        w = rp["data"]["okra_wallet"]
        self.assertKeys(w, WALLET_KEYS)
        self.assertEqual(w["amount"], SEED_WALLET - 25000)
        self.assertTrue(is_int(w["amount"]))
        self.assertEqual(w["currency"], "NGN")
        self.assertRegex(w["id"], HEX24)
        self.assertIsInstance(rp["data"]["callback_url"], str)
        self.assertKeys(rp["data"]["customer"], CUSTOMER_KEYS)
        self.assertEqual(self.refunds_of(P[2]), {"count": 1, "total": 25000, "amounts": [25000]})
        # the refund leaves the payment's status alone
        self.assertEqual(self.verify(P[2])["status"], "success")

    def test_refund_body_key_order(self):
        d = self.refund(P[2])
        self.assertKeysInOrder(d["refund"], REFUND_KEYS, exact=True)
        self.assertKeysInOrder(d["refund"]["history"], HISTORY_KEYS, exact=True)
        rp = d["refund_payment"]
        self.assertKeysInOrder(rp, REFUND_PAYMENT_KEYS, exact=True)
        self.assertKeysInOrder(rp["data"], INITIATE_DATA_KEYS, exact=True)
        self.assertKeysInOrder(rp["data"]["payment"], REFUND_PAY_PAYMENT_KEYS, exact=True)
        self.assertKeysInOrder(rp["data"]["okra_wallet"], WALLET_KEYS, exact=True)
        self.assertKeysInOrder(rp["data"]["customer"], CUSTOMER_KEYS, exact=True)
        self.assertKeysInOrder(rp["data"]["customer"]["account"], ACCOUNT_KEYS, exact=True)
        self.assertKeysInOrder(rp["data"]["customer"]["account"]["bank"], BANK_KEYS, exact=True)

    def test_refund_with_reason(self):
        d = self.refund(P[3], 1000, extra={"reason": "customer changed their mind"})
        self.assertEqual(d["refund"]["reason"], "customer changed their mind")

    def test_partial_and_repeated_refunds(self):
        amounts = []
        ids = []
        for a in (3000, 3000):
            d = self.refund(P[1], a)
            self.assertEqual(d["refund"]["amount"], a)
            ids.append(d["refund"]["_id"])
            amounts.append(a)
        self.assertNotEqual(ids[0], ids[1])
        # 4000 left: 4001 is too much
        p = self.err("pay/refund", {"payment_id": P[1], "amount": 4001}, 400, MSG["greater"], "payment")
        self.assertEqual(p["_id"], P[1])
        self.assertEqual(p["amount"], 10000)
        self.assertEqual(p["refund_amount"], 4001)
        self.assertEqual(p["status"], "success")
        # omitted amount = the remainder, 4000
        d = self.refund(P[1])
        self.assertEqual(d["refund"]["amount"], 4000)
        ids.append(d["refund"]["_id"])
        amounts.append(4000)
        self.assertEqual(self.refunds_of(P[1]), {"count": 3, "total": 10000, "amounts": amounts})
        # nothing left: duplicate, carrying the latest refund
        r = self.err("pay/refund", {"payment_id": P[1], "amount": 1}, 400, MSG["duplicate"], "refund")
        self.assertEqual(r["_id"], ids[-1])
        self.assertEqual(r["amount"], 4000)
        self.assertEqual(self.refunds_of(P[1])["count"], 3)
        self.assertEqual(self.wallet(), SEED_WALLET - 10000)

    def test_duplicate_full_refund_returns_existing(self):
        d = self.refund(P[8])
        rid = d["refund"]["_id"]
        rpid = d["refund_payment"]["data"]["payment"]["id"]
        for body in ({"payment_id": P[8]}, {"payment_id": P[8], "amount": 10000}):
            with self.subTest(body=body):
                r = self.err("pay/refund", body, 400, MSG["duplicate"], "refund")
                self.assertKeys(r, ERR_A_REFUND_KEYS)
                self.assertEqual(r["_id"], rid)
                self.assertEqual(r["amount"], 10000)
                self.assertEqual(r["currency"], "NGN")
                self.assertEqual(r["status"], "initiated")
                self.assertEqual(r["history"]["success_at"], None)
                self.assertKeys(r["refund_payment"], ERR_A_RP_KEYS)
                self.assertEqual(r["refund_payment"]["_id"], rpid)
                self.assertEqual(r["refund_payment"]["status"], "initialize")
        self.assertEqual(self.refunds_of(P[8]), {"count": 1, "total": 10000, "amounts": [10000]})
        # once completed, the duplicate shows the completed refund (P1's example)
        self.ctl("POST", "refunds/" + rid, {"status": "completed"})
        r = self.err("pay/refund", {"payment_id": P[8]}, 400, MSG["duplicate"], "refund")
        self.assertEqual(r["_id"], rid)
        self.assertEqual(r["status"], "completed")
        self.assertRecentIso(r["history"]["success_at"])
        self.assertEqual(r["history"]["failed_at"], None)
        self.assertEqual(r["refund_payment"]["status"], "success")

    def test_greater_than_payment(self):
        p = self.err("pay/refund", {"payment_id": P[6], "amount": 1000000}, 400, MSG["greater"],
                     "payment")
        self.assertKeys(p, ERR_B_PAYMENT_KEYS)
        self.assertEqual(p["_id"], P[6])
        self.assertEqual(p["amount"], 999999)
        self.assertEqual(p["refund_amount"], 1000000)
        self.assertEqual(p["status"], "success")
        self.assertEqual(p["currency"], "NGN")
        self.assertIsNone(self.refunds_of(P[6]))
        self.assertEqual(self.wallet(), SEED_WALLET)
        # exactly the amount is fine
        d = self.refund(P[6], 999999)
        self.assertEqual(d["refund"]["amount"], 999999)

    def test_not_refundable_statuses(self):
        for n in (0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x11, 0x12, 0x13, 0x14, 0x15):
            pid = P[n]
            with self.subTest(pid=pid, status=SEED_PAYMENTS[pid]["status"]):
                p = self.err("pay/refund", {"payment_id": pid}, 400, MSG["progress"], "payment")
                self.assertKeys(p, ERR_C_PAYMENT_KEYS)
                self.assertEqual(p["_id"], pid)
                self.assertEqual(p["status"], SEED_PAYMENTS[pid]["status"])
                self.assertEqual(p["amount"], SEED_PAYMENTS[pid]["amount"])
        self.assertEqual(self.counters()["refunds"], {})

    def test_completed_success_is_refundable(self):
        d = self.refund(P[0x10], 60000)
        self.assertEqual(d["refund"]["payment"], P[0x10])
        self.assertEqual(self.verify(P[0x10])["status"], "completed")

    def test_refund_payment_not_refundable(self):
        d = self.refund(P[1], 1000)
        rpid = d["refund_payment"]["data"]["payment"]["id"]
        p = self.err("pay/refund", {"payment_id": rpid}, 400, MSG["progress"], "payment")
        self.assertEqual(p["_id"], rpid)
        # not even once it succeeded
        self.move(rpid, "success")
        self.err("pay/refund", {"payment_id": rpid}, 400, MSG["progress"], "payment")

    def test_wallet_short_without_account(self):
        self.set_wallet(1000)
        w = self.err("pay/refund", {"payment_id": P[7]}, 400, MSG["wallet"], "wallet")
        self.assertKeys(w, ERR_D_WALLET_KEYS)
        self.assertEqual(w["amount"], 1000)
        self.assertEqual(w["currency"], "NGN")
        self.assertEqual(w["env"], "production")
        self.assertRegex(w["_id"], HEX24)
        self.assertRegex(w["last_updated"], ISO_RE)
        self.err("pay/refund", {"payment_id": P[7], "amount": 1001}, 400, MSG["wallet"], "wallet")
        self.assertIsNone(self.refunds_of(P[7]))
        self.assertEqual(self.wallet(), 1000)
        # the wallet error names the same wallet pay/initiate shows
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 1, "currency": "NGN"})
        self.assertEqual(d["okra_wallet"]["id"], w["_id"])

    def test_wallet_short_sandbox_env(self):
        self.set_wallet(0)
        w = self.err("pay/refund", {"payment_id": P[7]}, 400, MSG["wallet"], "wallet",
                     prefix="/v2/sandbox/")
        self.assertEqual(w["env"], "production-sandbox")
        self.assertEqual(w["amount"], 0)

    def test_wallet_exactly_enough(self):
        self.set_wallet(1000)
        d = self.refund(P[7], 1000)
        self.assertEqual(d["refund_payment"]["data"]["okra_wallet"]["amount"], 0)

    def test_wallet_short_with_account(self):
        self.set_wallet(1000)
        d = self.refund(P[7], 5000, extra={"account": ACCOUNT})
        self.assertEqual(d["refund"]["amount"], 5000)
        self.assertEqual(d["refund_payment"]["data"]["okra_wallet"]["amount"], 0)
        self.assertEqual(self.refunds_of(P[7]), {"count": 1, "total": 5000, "amounts": [5000]})
        self.assertEqual(self.wallet(), 0)
        w = self.err("pay/refund", {"payment_id": P[7], "amount": 1}, 400, MSG["wallet"], "wallet")
        self.assertEqual(w["amount"], 0)

    def test_greater_checked_before_wallet(self):
        self.set_wallet(0)
        self.err("pay/refund", {"payment_id": P[1], "amount": 10001}, 400, MSG["greater"], "payment")

    def test_lifecycle_completed_via_control(self):
        d = self.refund(P[3])
        rid = d["refund"]["_id"]
        rpid = d["refund_payment"]["data"]["payment"]["id"]
        self.ctl("POST", "refunds/" + rid, {"status": "completed"})
        ps = self.verify(rpid)
        self.assertEqual((ps["status"], ps["response_status"]), ("success", "success"))
        ref = find_by_id(self.ctl("GET", "state"), rid, "history")
        self.assertIsNotNone(ref)
        self.assertEqual(ref["status"], "completed")
        self.assertRecentIso(ref["history"]["success_at"])
        self.assertEqual(ref["history"]["failed_at"], None)
        self.assertEqual(self.wallet(), SEED_WALLET - 50000)

    def test_lifecycle_completed_via_refund_payment(self):
        d = self.refund(P[3])
        rid = d["refund"]["_id"]
        rpid = d["refund_payment"]["data"]["payment"]["id"]
        self.move(rpid, "success")
        r = self.err("pay/refund", {"payment_id": P[3]}, 400, MSG["duplicate"], "refund")
        self.assertEqual(r["_id"], rid)
        self.assertEqual(r["status"], "completed")
        self.assertRecentIso(r["history"]["success_at"])

    def test_lifecycle_failed_restores_wallet_and_remainder(self):
        d = self.refund(P[4], 60000)
        rid = d["refund"]["_id"]
        rpid = d["refund_payment"]["data"]["payment"]["id"]
        self.assertEqual(d["refund_payment"]["data"]["okra_wallet"]["amount"], SEED_WALLET - 60000)
        self.ctl("POST", "refunds/" + rid, {"status": "failed"})
        ps = self.verify(rpid)
        self.assertEqual((ps["status"], ps["response_status"]), ("failed", "failed"))
        ref = find_by_id(self.ctl("GET", "state"), rid, "history")
        self.assertEqual(ref["status"], "failed")
        self.assertRecentIso(ref["history"]["failed_at"])
        self.assertEqual(ref["history"]["success_at"], None)
        # remainder back to 100000, wallet back to the seed's
        d = self.refund(P[4])
        self.assertEqual(d["refund"]["amount"], 100000)
        self.assertEqual(d["refund_payment"]["data"]["okra_wallet"]["amount"], SEED_WALLET - 100000)
        c = self.refunds_of(P[4])
        self.assertEqual(c, {"count": 2, "total": 160000, "amounts": [60000, 100000]})

    def test_lifecycle_failed_via_refund_payment(self):
        d = self.refund(P[4], 100000)
        rpid = d["refund_payment"]["data"]["payment"]["id"]
        self.move(rpid, "failed")
        self.assertEqual(self.wallet(), SEED_WALLET)
        d = self.refund(P[4])
        self.assertEqual(d["refund"]["amount"], 100000)

    def test_failed_refund_with_account_restores(self):
        # the wallet paid 1000 and the account the other 4000: a failure gives
        # the wallet back its 1000 and restores the whole remainder (API.md 8.5)
        self.set_wallet(1000)
        d = self.refund(P[7], 5000, extra={"account": ACCOUNT})
        self.ctl("POST", "refunds/" + d["refund"]["_id"], {"status": "failed"})
        self.assertEqual(self.wallet(), 1000)
        self.assertEqual(self.refunds_of(P[7])["count"], 1)
        d = self.refund(P[7], extra={"account": ACCOUNT})
        self.assertEqual(d["refund"]["amount"], 2500000)

    def test_refund_not_settled_by_default(self):
        d = self.refund(P[3], 100)
        time.sleep(0.3)
        self.assertEqual(self.verify(d["refund_payment"]["data"]["payment"]["id"])["status"],
                         "initialize")

    def test_settle_via_config(self):
        self.ctl("POST", "config", {"refund_settle_ms": 200})
        d = self.refund(P[3])
        rid = d["refund"]["_id"]
        rpid = d["refund_payment"]["data"]["payment"]["id"]
        self.assertEqual(self.verify(rpid)["status"], "initialize")
        time.sleep(0.45)
        ps = self.verify(rpid)
        self.assertEqual((ps["status"], ps["response_status"]), ("success", "success"))
        r = self.err("pay/refund", {"payment_id": P[3]}, 400, MSG["duplicate"], "refund")
        self.assertEqual(r["_id"], rid)
        self.assertEqual(r["status"], "completed")
        self.assertRecentIso(r["history"]["success_at"])

    def test_refund_owner_isolation(self):
        self.err("pay/refund", {"payment_id": P[1]}, 400, MSG["not_found"], key=KEY2)
        self.assertIsNone(self.refunds_of(P[1]))

    def test_refund_without_key_executes_twice(self):
        self.refund(P[1], 1000)
        self.refund(P[1], 1000)
        self.assertEqual(self.refunds_of(P[1]), {"count": 2, "total": 2000, "amounts": [1000, 1000]})


# =====================================================================
# Initiate, get, list, payout
# =====================================================================
class T06Initiate(Base):
    def test_initiate_shape(self):
        body = {"account_to_debit": ACCOUNT, "amount": 5000, "currency": "NGN"}
        d = self.ok("pay/initiate", body, MSG["initiate"])
        self.assertKeysInOrder(d, INITIATE_DATA_KEYS)
        p = d["payment"]
        self.assertKeysInOrder(p, INITIATE_PAYMENT_KEYS)
        self.assertRecentId(p["id"])
        self.assertRegex(p["record"], HEX24)
        self.assertEqual(p["amount"], 5000)
        self.assertEqual(p["currency"], "NGN")
        self.assertEqual(p["credit_account"], "Okra Wallet")
        self.assertEqual(p["debit_account"], ACCOUNT)
        self.assertEqual(p["env"], "production")
        self.assertEqual(p["link"], None)
        self.assertEqual(p["error"], None)
        self.assertEqual(p["source"], "api")
        self.assertEqual(p["status"], "initialize")
        self.assertRegex(p["owner"], HEX24)
        self.assertRegex(p["ref"], REF_RE)
        self.assertRecentIso(p["created_at"])
        self.assertRecentIso(p["last_updated"])
        w = d["okra_wallet"]
        self.assertKeysInOrder(w, WALLET_KEYS)
        self.assertEqual(w["amount"], SEED_WALLET)
        self.assertEqual(w["currency"], "NGN")
        self.assertIsInstance(d["callback_url"], str)
        self.assertKeysInOrder(d["customer"], CUSTOMER_KEYS)
        self.assertKeysInOrder(d["customer"]["account"], ACCOUNT_KEYS)
        self.assertRegex(d["customer"]["account"]["nuban"], r"^\d{10}$")

    def test_initiate_ids_unique(self):
        a = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 100, "currency": "NGN"})
        b = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 100, "currency": "NGN"})
        self.assertNotEqual(a["payment"]["id"], b["payment"]["id"])
        self.assertNotEqual(a["payment"]["ref"], b["payment"]["ref"])

    def test_initiate_account_to_credit(self):
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 100, "currency": "NGN",
                                     "account_to_credit": "64d000000000000000000002"})
        self.assertEqual(d["payment"]["credit_account"], "64d000000000000000000002")

    def test_initiate_validation(self):
        good = {"account_to_debit": ACCOUNT, "amount": 100, "currency": "NGN"}
        cases = [
            ("account_to_debit", {"amount": 100, "currency": "NGN"}),
            ("account_to_debit", dict(good, account_to_debit="123")),
            ("account_to_debit", dict(good, account_to_debit=5)),
            ("amount", {"account_to_debit": ACCOUNT, "currency": "NGN"}),
            ("amount", dict(good, amount=0)),
            ("amount", dict(good, amount=-100)),
            ("amount", dict(good, amount="100")),
            ("amount", dict(good, amount=10.5)),
            ("currency", dict(good, currency="USD")),
            ("currency", dict(good, currency="ngn")),
            ("currency", dict(good, currency=566)),
        ]
        for field, body in cases:
            with self.subTest(body=body):
                self.err("pay/initiate", body, 400, invalid(field))
        self.assertEqual(self.ok("pay/list", {})["pagination"]["totalDocs"], len(SEED_PAYMENTS))

    def test_initiate_owner_is_key_owner(self):
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 100, "currency": "NGN"},
                    key=KEY2)
        self.assertEqual(d["payment"]["owner"], KEY2_OWNER)
        d1 = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 100, "currency": "NGN"})
        self.assertNotEqual(d1["payment"]["owner"], KEY2_OWNER)

    def test_initiated_payment_credits_wallet_on_success(self):
        # API.md convention: a payment credited to "Okra Wallet" adds to it when it succeeds
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 7000, "currency": "NGN"})
        w0 = d["okra_wallet"]["amount"]
        self.move(d["payment"]["id"], "success")
        self.assertEqual(self.wallet(), w0 + 7000)


class T07Get(Base):
    def test_get_id_and_Id(self):
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 2100, "currency": "NGN"})
        init = d["payment"]
        for route in ("pay/get/id", "pay/get/Id"):
            with self.subTest(route=route):
                g = self.ok(route, {"payment_id": init["id"]}, MSG["get"])
                self.assertEqual(list(g.keys()), ["payment"])
                want = with_response_status(init, "pending")
                self.assertEqual(g["payment"], want)
                self.assertEqual(list(g["payment"].keys()), list(want.keys()))

    def test_get_seeded(self):
        g = self.ok("pay/get/id", {"payment_id": P[0x10]}, MSG["get"])["payment"]
        self.assertEqual(g["id"], P[0x10])
        self.assertEqual(g["amount"], 60000)
        self.assertEqual(g["status"], "completed")
        self.assertEqual(g["customer"], "64c000000000000000000010")

    def test_get_after_cancel(self):
        self.ok("pay/cancel", {"payment_id": P[0xa]})
        self.assertEqual(self.ok("pay/get/Id", {"payment_id": P[0xa]})["payment"]["status"],
                         "cancelled")

    def test_get_errors(self):
        self.err("pay/get/id", {"payment_id": UNKNOWN_ID}, 400, MSG["not_found"])
        self.err("pay/get/Id", {"payment_id": "64A000000000000000000001"}, 400, invalid("payment_id"))
        self.err("pay/get/id", {"payment_id": P[1]}, 400, MSG["not_found"], key=KEY2)


class T08List(Base):
    def _pag(self, d, **want):
        pg = d["pagination"]
        self.assertKeysInOrder(pg, PAGINATION_KEYS)
        for k, v in want.items():
            self.assertEqual(pg[k], v, "pagination.%s in %r" % (k, pg))
        return pg

    def test_list_defaults(self):
        n = len(SEED_PAYMENTS)
        d = self.ok("pay/list", {}, MSG["list"])
        self.assertEqual(list(d.keys()), ["payments", "pagination"])
        self.assertEqual(len(d["payments"]), min(20, n))
        self._pag(d, totalDocs=n, limit=20, page=1, totalPages=math.ceil(n / 20),
                  hasPrevPage=False, hasNextPage=n > 20, pagingCounter=1, prevPage=None,
                  nextPage=2 if n > 20 else None)

    def test_list_pages_cover_everything(self):
        n = len(SEED_PAYMENTS)
        seen = []
        for page in range(1, math.ceil(n / 6) + 1):
            d = self.ok("pay/list", {"page": page, "limit": 6})
            last = page == math.ceil(n / 6)
            self._pag(d, totalDocs=n, limit=6, page=page, totalPages=math.ceil(n / 6),
                      hasPrevPage=page > 1, hasNextPage=not last,
                      pagingCounter=(page - 1) * 6 + 1,
                      prevPage=page - 1 if page > 1 else None,
                      nextPage=None if last else page + 1)
            self.assertEqual(len(d["payments"]), n - 6 * (page - 1) if last else 6)
            seen += [p.get("id", p.get("_id")) for p in d["payments"]]
        self.assertEqual(sorted(seen), sorted(SEED_PAYMENTS))

    def test_list_newest_first(self):
        ids = []
        for i in range(3):
            d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 100 + i,
                                         "currency": "NGN"})
            ids.append(d["payment"]["id"])
            time.sleep(0.02)
        d = self.ok("pay/list", {"page": 1, "limit": 3})
        self.assertEqual([p["id"] for p in d["payments"]], ids[::-1])
        self.assertEqual([p["amount"] for p in d["payments"]], [102, 101, 100])
        self.assertEqual(d["pagination"]["totalDocs"], len(SEED_PAYMENTS) + 3)

    def test_list_payment_shape(self):
        init = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 555,
                                        "currency": "NGN"})["payment"]
        d = self.ok("pay/list", {"limit": 1})
        self.assertEqual(d["payments"], [with_response_status(init, "pending")])

    def test_list_limit_max_100(self):
        for i in range(110):
            self.ctl("POST", "payments", {"status": "success", "amount": 1000 + i})
        n = len(SEED_PAYMENTS) + 110
        d = self.ok("pay/list", {"page": 1, "limit": 100})
        self.assertEqual(len(d["payments"]), 100)
        self._pag(d, totalDocs=n, limit=100, totalPages=2, hasNextPage=True, nextPage=2)
        for limit in (101, 1000):
            with self.subTest(limit=limit):    # API.md 8.4: a larger limit is taken as 100
                d = self.ok("pay/list", {"page": 1, "limit": limit}, MSG["list"])
                self.assertEqual(len(d["payments"]), 100)
                self._pag(d, totalDocs=n, limit=100, totalPages=2, nextPage=2)

    def test_list_beyond_last_page(self):
        d = self.ok("pay/list", {"page": 50, "limit": 20})
        self.assertEqual(d["payments"], [])
        self.assertEqual(d["pagination"]["hasNextPage"], False)
        self.assertEqual(d["pagination"]["nextPage"], None)
        self.assertEqual(d["pagination"]["totalDocs"], len(SEED_PAYMENTS))

    def test_list_bad_parameters(self):
        for body, field in (({"page": 0}, "page"), ({"page": -1}, "page"), ({"page": "x"}, "page"),
                            ({"limit": 0}, "limit"), ({"limit": -5}, "limit"),
                            ({"limit": "ten"}, "limit"), ({"page": 1.5}, "page")):
            with self.subTest(body=body):
                self.err("pay/list", body, 400, invalid(field))

    def test_list_owner_isolation(self):
        d = self.ok("pay/list", {}, key=KEY2)
        self.assertEqual(d["payments"], [])
        self._pag(d, totalDocs=0, hasNextPage=False, hasPrevPage=False, page=1)
        pid = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 100,
                                       "currency": "NGN"}, key=KEY2)["payment"]["id"]
        d = self.ok("pay/list", {}, key=KEY2)
        self.assertEqual([p["id"] for p in d["payments"]], [pid])
        self.assertEqual(self.ok("pay/list", {})["pagination"]["totalDocs"], len(SEED_PAYMENTS))


class T09Payout(Base):
    def test_payout_account(self):
        d = self.ok("pay/payout", {"account_to_credit": ACCOUNT, "amount": 10000, "currency": "NGN"},
                    MSG["payout"])
        self.assertEqual(list(d.keys()), ["payout"])
        po = d["payout"]
        self.assertKeysInOrder(po, PAYOUT_KEYS)
        self.assertEqual(po["status"], "initiated")
        self.assertRecentId(po["_id"])
        self.assertEqual(po["amount"], 10000)
        self.assertEqual(po["fee"], 10.75)
        self.assertEqual(po["account_to_credit"], ACCOUNT)
        self.assertEqual(po["env"], "production")
        self.assertIsInstance(po["ref"], str)
        self.assertRecentIso(po["created_at"])
        self.assertEqual(self.wallet(), SEED_WALLET - 10000)

    def test_payout_nuban(self):
        d = self.ok("pay/payout", {"nuban": "1329137339", "bank": "5d6fe57a4099cc4b210bbec0",
                                   "amount": 2500}, MSG["payout"], prefix="/v2/sandbox/")
        po = d["payout"]
        self.assertEqual(po["nuban_to_credit"], {"nuban": "1329137339",
                                                 "bank": "5d6fe57a4099cc4b210bbec0"})
        self.assertEqual(po["env"], "production-sandbox")
        self.assertEqual(self.wallet(), SEED_WALLET - 2500)

    def test_payout_wallet_short(self):
        # API.md 8.4 (not in README's table): a payout over the wallet is refused
        self.set_wallet(50)
        w = self.err("pay/payout", {"account_to_credit": ACCOUNT, "amount": 100, "currency": "NGN"},
                     400, MSG["payout_short"], "wallet")
        self.assertEqual(w["amount"], 50)
        d = self.ok("pay/payout", {"account_to_credit": ACCOUNT, "amount": 50, "currency": "NGN"})
        self.assertEqual(d["payout"]["amount"], 50)
        self.assertEqual(self.wallet(), 0)

    def test_payout_validation(self):
        self.err("pay/payout", {"account_to_credit": ACCOUNT, "currency": "NGN"}, 400, invalid("amount"))
        self.err("pay/payout", {"account_to_credit": ACCOUNT, "amount": -1, "currency": "NGN"}, 400,
                 invalid("amount"))
        self.assertEqual(self.wallet(), SEED_WALLET)


# =====================================================================
# Auth, routes, rate limit
# =====================================================================
class T10Auth(Base):
    def test_missing_header_every_route(self):
        for route in ROUTES:
            for prefix in ("/v2/", "/v2/sandbox/"):
                with self.subTest(route=prefix + route):
                    self.err(route, {"payment_id": P[1]}, 401, MSG["auth"], key=None, prefix=prefix)

    def test_wrong_scheme(self):
        for auth in ("Basic " + KEY, "Token " + KEY, KEY, "Bearer", "Bearer ", "Bearer  " + KEY + "x"):
            with self.subTest(auth=auth):
                self.err("pay/verify", {"payment_id": P[1]}, 401, MSG["auth"], auth=auth)

    def test_wrong_key(self):
        self.err("pay/verify", {"payment_id": P[1]}, 401, MSG["auth"], key="sk_test_not_a_key")
        self.err("pay/verify", {"payment_id": P[1]}, 401, MSG["auth"], key=KEY + "0")
        self.err("pay/verify", {"payment_id": P[1]}, 401, MSG["auth"], key=KEY[:-1])

    def test_second_key_owner_isolation(self):
        self.err("pay/verify", {"payment_id": P[1]}, 400, MSG["not_found"], key=KEY2)
        pid = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 100,
                                       "currency": "NGN"}, key=KEY2)["payment"]["id"]
        self.assertEqual(self.verify(pid, key=KEY2)["amount"], 100)
        self.err("pay/verify", {"payment_id": pid}, 400, MSG["not_found"])
        self.err("pay/get/id", {"payment_id": pid}, 400, MSG["not_found"])
        self.err("pay/cancel", {"payment_id": pid}, 400, MSG["not_found"])

    def test_auth_before_body(self):
        self.err("pay/verify", None, 401, MSG["auth"], key=None, raw_body=b"{oops")
        self.err("pay/refund", {}, 401, MSG["auth"], key="nope")

    def test_route_before_auth(self):
        self.err("pay/unknown", {}, 404, MSG["route"], key=None)
        self.err("pay/verify", {}, 404, MSG["route"], key=None, method="GET")

    def test_unauthorized_counts_nothing_executed(self):
        self.err("pay/refund", {"payment_id": P[1]}, 401, MSG["auth"], key=None)
        self.assertEqual(self.counters()["refunds"], {})


class T11Routes404(Base):
    def test_unknown_routes(self):
        # API.md 5.12: Okra's other endpoints are not served, garnishments have none
        for path in ("/v2/pay/nothing", "/v2/pay/authorization/getByOptions",
                     "/v2/pay/verifyByOptions", "/v2/authorization/initiate",
                     "/v2/pay/link/list", "/v2/pay/garnishment", "/v2/garnishments/initiate",
                     "/v2/bulkfiles/list", "/v2/pay/payout/list", "/v2/pay/get/customer",
                     "/v1/pay/verify", "/v2/pay/verify/extra", "/pay/verify",
                     "/v2/sandbox/sandbox/pay/verify", "/sandbox/v2/pay/verify", "/",
                     "/v2/", "/v2/PAY/VERIFY", "/v2/pay/GET/ID", "/v2/wallet/balance"):
            with self.subTest(path=path):
                r = sb.request(PORT, "POST", path, json.dumps({"payment_id": P[1]}).encode(),
                               {"Content-Type": "application/json", "Authorization": "Bearer " + KEY})
                self.check_err(r, 404, MSG["route"])

    def test_other_methods(self):
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            for route in ("pay/verify", "pay/list"):
                with self.subTest(method=method, route=route):
                    self.err(route, {"payment_id": P[1]}, 404, MSG["route"], method=method)

    def test_404_counts_nothing(self):
        self.err("pay/refund", {"payment_id": P[1]}, 404, MSG["route"], method="GET")
        self.assertEqual(self.counters()["refunds"], {})


class T12RateLimit(Base):
    def test_rate_limit_per_key(self):
        self.ctl("POST", "config", {"rate_limit": 3})
        for _ in range(3):
            self.ok("pay/list", {"limit": 1})
        self.err("pay/list", {"limit": 1}, 429, MSG["rate"])
        self.err("pay/verify", {"payment_id": P[1]}, 429, MSG["rate"])
        # another key has its own window
        for _ in range(3):
            self.ok("pay/list", {"limit": 1}, key=KEY2)
        self.err("pay/list", {"limit": 1}, 429, MSG["rate"], key=KEY2)
        c = self.counters()["requests"]
        self.assertEqual(c["/v2/pay/list"], {"200": 6, "429": 2})

    def test_rate_limit_order_of_checks(self):
        self.ctl("POST", "config", {"rate_limit": 1})
        self.ok("pay/list", {})
        self.err("pay/nothing", {}, 404, MSG["route"])            # route first
        self.err("pay/list", {}, 401, MSG["auth"], key=None)      # then auth
        self.err("pay/list", None, 429, MSG["rate"], raw_body=b"{bad")  # then rate, before body
        self.err("pay/refund", {"payment_id": P[1]}, 429, MSG["rate"])
        self.assertEqual(self.counters()["refunds"], {})

    def test_rate_limit_off_after_reset(self):
        self.ctl("POST", "config", {"rate_limit": 1})
        self.ok("pay/list", {})
        self.err("pay/list", {}, 429, MSG["rate"])
        self.api.control("POST", "reset")
        for _ in range(25):
            self.ok("pay/list", {"limit": 1})

    def test_rate_limit_control_not_counted(self):
        self.ctl("POST", "config", {"rate_limit": 2})
        for _ in range(5):
            self.counters()
        self.ok("pay/list", {})
        self.ok("pay/list", {})
        self.err("pay/list", {}, 429, MSG["rate"])


# =====================================================================
# Idempotency
# =====================================================================
class T13Idempotency(Base):
    def test_replay_initiate(self):
        body = {"account_to_debit": ACCOUNT, "amount": 3100, "currency": "NGN"}
        a = self.call("pay/initiate", body, idem="idem-init-1")
        self.assertEqual(a.status, 200, a)
        b = self.call("pay/initiate", body, idem="idem-init-1")
        self.assertEqual(b.status, 200)
        self.assertEqual(b.body, a.body)
        self.assertEqual(self.ok("pay/list", {})["pagination"]["totalDocs"], len(SEED_PAYMENTS) + 1)
        self.assertEqual(self.counters()["idempotent_replays"], 1)

    def test_replay_refund(self):
        body = {"payment_id": P[9], "amount": 1000}
        a = self.call("pay/refund", body, idem="idem-refund-1")
        self.assertEqual(a.status, 200, a)
        for _ in range(2):
            b = self.call("pay/refund", body, idem="idem-refund-1")
            self.assertEqual((b.status, b.body), (a.status, a.body))
        c = self.counters()
        self.assertEqual(c["refunds"][P[9]], {"count": 1, "total": 1000, "amounts": [1000]})
        self.assertEqual(c["idempotent_replays"], 2)
        self.assertEqual(self.wallet(), SEED_WALLET - 1000)

    def test_replay_error_response(self):
        body = {"payment_id": P[9], "amount": 999999}
        a = self.call("pay/refund", body, idem="idem-err-1")
        self.check_err(a, 400, MSG["greater"], "payment")
        b = self.call("pay/refund", body, idem="idem-err-1")
        self.assertEqual((b.status, b.body), (a.status, a.body))

    def test_same_key_different_body(self):
        self.ok("pay/refund", {"payment_id": P[9], "amount": 1000}, idem="idem-2")
        self.err("pay/refund", {"payment_id": P[9], "amount": 1001}, 422, MSG["idem_body"], idem="idem-2")
        self.assertEqual(self.refunds_of(P[9])["count"], 1)

    def test_same_key_different_route(self):
        self.ok("pay/verify", {"payment_id": P[9]}, idem="idem-3")
        self.err("pay/get/id", {"payment_id": P[9]}, 422, MSG["idem_body"], idem="idem-3")

    def test_same_key_other_prefix(self):
        self.ok("pay/refund", {"payment_id": P[9], "amount": 10}, idem="idem-3b")
        r = self.call("pay/refund", {"payment_id": P[9], "amount": 10}, idem="idem-3b",
                      prefix="/v2/sandbox/")
        self.check_err(r, 422, MSG["idem_body"])
        self.assertEqual(self.refunds_of(P[9])["count"], 1)

    def test_keys_are_per_owner(self):
        self.ok("pay/list", {"limit": 1}, idem="idem-4")
        d = self.ok("pay/list", {"limit": 2}, idem="idem-4", key=KEY2)
        self.assertEqual(d["pagination"]["limit"], 2)

    def test_replay_after_status_fault(self):
        self.fault(kind="after_status", route="pay/refund")
        body = {"payment_id": P[9], "amount": 2000}
        a = self.call("pay/refund", body, idem="idem-5")
        self.assertEqual(a.status, 500)
        self.assertEqual(self.refunds_of(P[9]), {"count": 1, "total": 2000, "amounts": [2000]})
        b = self.call("pay/refund", body, idem="idem-5")
        self.assertEqual(b.status, 200, b)
        self.assertEqual(b.json["message"], MSG["refund"])
        self.assertEqual(b.json["data"]["refund"]["amount"], 2000)
        c = self.counters()
        self.assertEqual(c["refunds"][P[9]]["count"], 1)
        self.assertEqual(c["idempotent_replays"], 1)

    def test_retry_after_fault_that_executed_nothing(self):
        # a `status` fault executes nothing, so nothing is stored: the retry runs
        self.fault(kind="status", status=500, route="pay/refund")
        body = {"payment_id": P[9], "amount": 1200}
        a = self.call("pay/refund", body, idem="idem-8")
        self.assertEqual(a.status, 500)
        self.assertIsNone(self.refunds_of(P[9]))
        b = self.call("pay/refund", body, idem="idem-8")
        self.assertEqual(b.status, 200, b)
        self.assertEqual(self.refunds_of(P[9]), {"count": 1, "total": 1200, "amounts": [1200]})
        c = self.call("pay/refund", body, idem="idem-8")
        self.assertEqual((c.status, c.body), (200, b.body))
        self.assertEqual(self.counters()["idempotent_replays"], 1)

    def test_replay_after_drop(self):
        self.fault(kind="after_drop", route="pay/refund")
        body = {"payment_id": P[9]}
        a = sb.api_raw(PORT, KEY, "pay/refund", body, extra={"Idempotency-Key": "idem-6"})
        self.assertEqual(a.data, b"", a)
        self.assertEqual(self.refunds_of(P[9])["count"], 1)
        b = self.call("pay/refund", body, idem="idem-6")
        self.assertEqual(b.status, 200, b)
        self.assertEqual(b.json["data"]["refund"]["amount"], 7500)
        self.assertEqual(self.refunds_of(P[9])["count"], 1)

    def test_in_flight_conflict(self):
        self.fault(kind="delay", ms=1500, route="pay/refund")
        body = {"payment_id": P[9], "amount": 300}
        first = {}

        def go():
            first["r"] = self.call("pay/refund", body, idem="idem-7")

        t = threading.Thread(target=go)
        t.start()
        time.sleep(0.4)
        r = self.call("pay/refund", body, idem="idem-7")
        t.join(10)
        self.check_err(r, 409, MSG["idem_flight"])
        self.assertEqual(first["r"].status, 200, first["r"])
        again = self.call("pay/refund", body, idem="idem-7")
        self.assertEqual((again.status, again.body), (200, first["r"].body))
        self.assertEqual(self.refunds_of(P[9])["count"], 1)


# =====================================================================
# Counters
# =====================================================================
class T14Counters(Base):
    def test_counter_keys_after_reset(self):
        c = self.counters()
        self.assertEqual(sorted(c.keys()), sorted(COUNTER_KEYS))
        self.assertEqual(c["requests"], {})
        self.assertEqual(c["refunds"], {})
        self.assertEqual(c["idempotent_replays"], 0)
        self.assertEqual(c["faults_fired"], 0)
        self.assertTrue(is_int(c["connections"]))

    def test_requests_by_path_and_status(self):
        self.verify(P[1])
        self.verify(P[2])
        self.err("pay/verify", {"payment_id": UNKNOWN_ID}, 400, MSG["not_found"])
        self.verify(P[1], prefix="/v2/sandbox/")
        self.err("pay/verify", {}, 401, MSG["auth"], key=None)
        self.err("pay/nope", {}, 404, MSG["route"])
        self.ok("pay/get/Id", {"payment_id": P[1]})
        self.counters()
        self.ctl("GET", "faults")
        c = self.counters()
        self.assertEqual(c["requests"], {
            "/v2/pay/verify": {"200": 2, "400": 1, "401": 1},
            "/v2/sandbox/pay/verify": {"200": 1},
            "/v2/pay/nope": {"404": 1},
            "/v2/pay/get/Id": {"200": 1},
        })

    def test_refund_counters(self):
        self.refund(P[1], 1000)
        self.refund(P[1], 2500)
        self.refund(P[2])
        self.err("pay/refund", {"payment_id": P[1], "amount": 999999}, 400, MSG["greater"], "payment")
        c = self.counters()["refunds"]
        self.assertEqual(c, {P[1]: {"count": 2, "total": 3500, "amounts": [1000, 2500]},
                             P[2]: {"count": 1, "total": 25000, "amounts": [25000]}})

    def test_connections_keepalive_vs_new(self):
        ctlconn = sb.new_conn(PORT)
        try:
            c0 = sb.parse_json(sb.request(PORT, "GET", "/_sandbox/counters", conn=ctlconn).body)
            mine0 = sb.CONNECTS.get(PORT, 0)
            sess = sb.new_conn(PORT)
            for _ in range(4):
                r = self.call("pay/verify", {"payment_id": P[1]}, conn=sess)
                self.assertEqual(r.status, 200)
            self.assertEqual(sess.connects, 1, "keep-alive was not honoured")
            sess.close()
            for _ in range(3):
                self.assertEqual(self.call("pay/verify", {"payment_id": P[1]}).status, 200)
            c1 = sb.parse_json(sb.request(PORT, "GET", "/_sandbox/counters", conn=ctlconn).body)
            mine1 = sb.CONNECTS.get(PORT, 0)
        finally:
            ctlconn.close()
        self.assertGreaterEqual(mine1 - mine0, 4)
        self.assertEqual(c1["connections"] - c0["connections"], mine1 - mine0)
        self.assertEqual(c1["requests"]["/v2/pay/verify"]["200"], 7)

    def test_faults_fired_counter(self):
        self.fault(kind="status", status=500, count=2, route="pay/verify")
        self.call("pay/verify", {"payment_id": P[1]})
        self.call("pay/verify", {"payment_id": P[1]})
        self.verify(P[1])
        self.assertEqual(self.counters()["faults_fired"], 2)


# =====================================================================
# Faults
# =====================================================================
class T15Faults(Base):
    def vbody(self, pid=None):
        return {"payment_id": pid or P[1]}

    def test_delay(self):
        self.fault(kind="delay", ms=500)
        r = self.call("pay/verify", self.vbody())
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(r.elapsed, 0.49)
        self.assertLess(r.elapsed, 2.5)
        self.assertEqual(r.json["data"]["payment_status"]["_id"], P[1])
        r = self.call("pay/verify", self.vbody())
        self.assertLess(r.elapsed, 0.3)

    def test_status_default_body(self):
        self.fault(kind="status", status=502, route="pay/refund")
        r = self.call("pay/refund", {"payment_id": P[9]})
        self.assertEqual(r.status, 502)
        j = r.json
        self.assertEqual(j["status"], "error")
        self.assertIsInstance(j["message"], str)
        self.assertEqual(self.counters()["refunds"], {})
        self.assertEqual(self.wallet(), SEED_WALLET)

    def test_status_custom_body(self):
        self.fault(kind="status", status=418, body="not json at all", content_type="text/plain")
        r = self.call("pay/verify", self.vbody())
        self.assertEqual(r.status, 418)
        self.assertEqual(r.body, b"not json at all")
        self.assertTrue(r.headers["content-type"].startswith("text/plain"), r.headers)

    def test_status_okra_error_body(self):
        body = '{"status":"error","message":"Something went wrong","code":"API","type":"RATE_LIMIT"}'
        self.fault(kind="status", status=500, body=body, content_type="application/json")
        r = self.call("pay/verify", self.vbody())
        self.assertEqual((r.status, r.body), (500, body.encode()))

    def test_html(self):
        self.fault(kind="html", route="pay/refund")
        r = self.call("pay/refund", {"payment_id": P[9]})
        self.assertEqual(r.status, 502)
        self.assertTrue(r.headers["content-type"].startswith("text/html"), r.headers)
        self.assertIn(b"<html", r.body.lower())
        self.assertEqual(self.counters()["refunds"], {})
        self.fault(kind="html", status=504)
        r = self.call("pay/verify", self.vbody())
        self.assertEqual(r.status, 504)
        self.assertTrue(r.headers["content-type"].startswith("text/html"))

    def test_truncate_bytes(self):
        normal = self.call("pay/verify", self.vbody())
        self.fault(kind="truncate", bytes=20)
        r = sb.api_raw(PORT, KEY, "pay/verify", self.vbody())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.content_length, len(normal.body))
        self.assertEqual(r.body, normal.body[:20])

    def test_truncate_default_half(self):
        normal = self.call("pay/verify", self.vbody())
        self.fault(kind="truncate")
        r = sb.api_raw(PORT, KEY, "pay/verify", self.vbody())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.content_length, len(normal.body))
        self.assertLessEqual(abs(len(r.body) - len(normal.body) / 2), 1, r)
        self.assertEqual(r.body, normal.body[:len(r.body)])

    def test_truncate_http_client_sees_incomplete(self):
        self.fault(kind="truncate", bytes=5)
        with self.assertRaises(Exception) as cm:
            self.call("pay/verify", self.vbody())
        self.assertIsInstance(cm.exception, (sb.http.client.IncompleteRead, ConnectionError))

    def test_size(self):
        for n in (4096, 2 * 1024 * 1024 + 3):
            with self.subTest(bytes=n):
                self.fault(kind="size", bytes=n)
                r = self.call("pay/verify", self.vbody())
                self.assertEqual(r.status, 200)
                self.assertEqual(len(r.body), n)
                self.assertEqual(int(r.headers["content-length"]), n)
                j = r.json
                self.assertEqual(j["status"], "success")
                self.assertIsInstance(j["data"]["padding"], str)

    def test_reset(self):
        self.fault(kind="reset")
        r = sb.api_raw(PORT, KEY, "pay/verify", self.vbody())
        normal = self.call("pay/verify", self.vbody())
        incomplete = r.content_length is None or len(r.body) < r.content_length
        self.assertTrue(r.end == "reset" or incomplete, r)
        self.assertLessEqual(len(r.body), 10, r)
        self.assertEqual(r.body, normal.body[:len(r.body)])

    def test_reset_bytes_http_client(self):
        self.fault(kind="reset", bytes=3)
        with self.assertRaises(Exception) as cm:
            self.call("pay/verify", self.vbody())
        self.assertIsInstance(cm.exception, (sb.http.client.IncompleteRead, ConnectionError,
                                             sb.http.client.BadStatusLine))

    def test_trickle(self):
        normal = self.call("pay/verify", self.vbody())
        self.fault(kind="trickle", ms=25, chunk=16)
        r = sb.api_raw(PORT, KEY, "pay/verify", self.vbody())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, normal.body)
        chunks = math.ceil(len(normal.body) / 16)
        self.assertGreaterEqual(r.elapsed, (chunks - 1) * 0.025 * 0.9, r)
        self.assertLess(r.elapsed, chunks * 0.025 + 3)

    def test_trickle_default_chunk(self):
        self.fault(kind="trickle", ms=5)
        r = self.call("pay/verify", self.vbody())
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(r.elapsed, (len(r.body) - 1) * 0.005 * 0.9)

    def test_hang(self):
        self.fault(kind="hang", ms=700, route="pay/refund")
        r = sb.api_raw(PORT, KEY, "pay/refund", {"payment_id": P[9]})
        self.assertEqual(r.data, b"", r)
        self.assertEqual(r.end, "eof", r)
        self.assertGreaterEqual(r.elapsed, 0.65)
        self.assertLess(r.elapsed, 3)
        self.assertEqual(self.counters()["refunds"], {})

    def test_hang_client_timeout(self):
        self.fault(kind="hang", ms=3000)
        r = sb.api_raw(PORT, KEY, "pay/verify", self.vbody(), timeout=0.5)
        self.assertEqual((r.end, r.data), ("timeout", b""), r)

    def test_hang_does_not_block_others(self):
        self.fault(kind="hang", ms=1500, route="pay/list")
        res = {}
        t = threading.Thread(target=lambda: res.setdefault(
            "r", sb.api_raw(PORT, KEY, "pay/list", {})))
        t.start()
        time.sleep(0.2)
        r = self.call("pay/verify", self.vbody())
        self.assertEqual(r.status, 200)
        self.assertLess(r.elapsed, 0.5, "a hanging request blocked another one")
        t.join(5)
        self.assertEqual(res["r"].data, b"")

    def test_after_status(self):
        self.fault(kind="after_status", route="pay/refund")
        r = self.call("pay/refund", {"payment_id": P[9], "amount": 700})
        self.assertEqual(r.status, 500)
        self.assertEqual(self.refunds_of(P[9]), {"count": 1, "total": 700, "amounts": [700]})
        self.assertEqual(self.wallet(), SEED_WALLET - 700)

    def test_after_status_custom(self):
        self.fault(kind="after_status", status=504, body="gateway timeout", route="pay/refund")
        r = self.call("pay/refund", {"payment_id": P[9]})
        self.assertEqual((r.status, r.body), (504, b"gateway timeout"))
        self.assertEqual(self.refunds_of(P[9])["count"], 1)

    def test_after_drop(self):
        self.fault(kind="after_drop", route="pay/refund")
        r = sb.api_raw(PORT, KEY, "pay/refund", {"payment_id": P[9]})
        self.assertEqual(r.data, b"", r)
        self.assertLess(r.elapsed, 3)
        self.assertEqual(self.refunds_of(P[9])["count"], 1)

    def test_after_hang(self):
        self.fault(kind="after_hang", ms=700, route="pay/refund")
        r = sb.api_raw(PORT, KEY, "pay/refund", {"payment_id": P[9]})
        self.assertEqual(r.data, b"", r)
        self.assertGreaterEqual(r.elapsed, 0.65)
        self.assertLess(r.elapsed, 3)
        self.assertEqual(self.refunds_of(P[9])["count"], 1)

    def test_timeout503(self):
        self.fault(kind="timeout503", route="pay/refund")
        r = self.call("pay/refund", {"payment_id": P[9]})
        self.assertEqual(r.status, 503)
        self.assertEqual(r.json, {"status": "error", "message": MSG["timeout503"]})
        self.assertEqual(self.counters()["refunds"], {})

    def test_match_by_route(self):
        self.fault(kind="status", status=500, route="pay/refund")
        self.verify(P[1])
        self.ok("pay/list", {"limit": 1})
        self.assertEqual(len(self.faults_list()), 1)
        r = self.call("pay/refund", {"payment_id": P[9]}, prefix="/v2/sandbox/")
        self.assertEqual(r.status, 500)
        self.assertEqual(self.faults_list(), [])
        self.refund(P[9])

    def test_match_by_payment_id(self):
        self.fault(kind="status", status=500, payment_id=P[2])
        self.verify(P[1])
        self.verify(P[3])
        r = self.call("pay/verify", {"payment_id": P[2]})
        self.assertEqual(r.status, 500)
        self.verify(P[2])

    def test_match_by_route_and_payment_id(self):
        self.fault(kind="status", status=500, route="pay/refund", payment_id=P[2])
        self.verify(P[2])
        self.refund(P[1], 100)
        self.assertEqual(self.call("pay/refund", {"payment_id": P[2]}).status, 500)
        self.refund(P[2])

    def test_count(self):
        self.fault(kind="status", status=500, count=3, route="pay/verify")
        fl = self.faults_list()
        self.assertEqual(len(fl), 1)
        left = [v for k, v in fl[0].items() if k in ("count", "remaining", "left", "uses_left")]
        self.assertEqual(left, [3], fl)
        for _ in range(2):
            self.assertEqual(self.call("pay/verify", self.vbody()).status, 500)
        fl = self.faults_list()
        left = [v for k, v in fl[0].items() if k in ("count", "remaining", "left", "uses_left")]
        self.assertEqual(left, [1], fl)
        self.assertEqual(self.call("pay/verify", self.vbody()).status, 500)
        self.verify(P[1])
        self.assertEqual(self.faults_list(), [])

    def test_first_armed_fault_fires_first(self):
        self.fault(kind="status", status=501, route="pay/verify")
        self.fault(kind="status", status=502)
        self.assertEqual(self.call("pay/verify", self.vbody()).status, 501)
        self.assertEqual(self.call("pay/verify", self.vbody()).status, 502)
        self.verify(P[1])

    def test_faults_skip_control_requests(self):
        self.fault(kind="status", status=500)
        self.counters()
        self.ctl("GET", "state")
        self.assertEqual(len(self.faults_list()), 1)
        self.assertEqual(self.call("pay/verify", self.vbody()).status, 500)

    def test_delete_faults(self):
        self.fault(kind="status", status=500, count=5)
        self.fault(kind="hang")
        self.assertEqual(len(self.faults_list()), 2)
        r = self.api.control("DELETE", "faults")
        self.assertEqual(r.status, 200)
        self.assertEqual(self.faults_list(), [])
        self.verify(P[1])


# =====================================================================
# Bodies: form encoding, bad requests, sizes
# =====================================================================
FORM = "application/x-www-form-urlencoded"


class T16Bodies(Base):
    def test_form_verify(self):
        d = self.ok("pay/verify", None, MSG["verify"], raw_body=("payment_id=" + P[1]).encode(),
                    content_type=FORM)
        self.assertEqual(d["payment_status"]["_id"], P[1])

    def test_form_refund_with_amount_and_reason(self):
        d = self.ok("pay/refund", None, MSG["refund"],
                    raw_body=("payment_id=%s&amount=1500&reason=late+delivery%%21" % P[1]).encode(),
                    content_type=FORM)
        self.assertEqual(d["refund"]["amount"], 1500)
        self.assertEqual(d["refund"]["reason"], "late delivery!")

    def test_form_initiate_and_list(self):
        d = self.ok("pay/initiate", None, MSG["initiate"],
                    raw_body=("account_to_debit=%s&amount=4400&currency=NGN" % ACCOUNT).encode(),
                    content_type=FORM)
        self.assertEqual(d["payment"]["amount"], 4400)
        d = self.ok("pay/list", None, raw_body=b"page=2&limit=5", content_type=FORM)
        self.assertEqual(d["pagination"]["page"], 2)
        self.assertEqual(d["pagination"]["limit"], 5)

    def test_form_bad_amount(self):
        self.err("pay/refund", None, 400, invalid("amount"),
                 raw_body=("payment_id=%s&amount=12abc" % P[1]).encode(), content_type=FORM)

    def test_invalid_json(self):
        for raw in (b"{", b'{"payment_id": "%s"' % P[1].encode(), b"payment_id=" + P[1].encode(),
                    b'{"payment_id": }', b"nul", b'{"a":1}}'):
            with self.subTest(raw=raw):
                self.err("pay/verify", None, 400, MSG["payload"], raw_body=raw)

    def test_not_an_object(self):
        for raw in (b"[]", b'"x"', b"42", b"null"):
            with self.subTest(raw=raw):
                r = self.call("pay/verify", None, raw_body=raw)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json["status"], "error")
                self.assertIn(r.json["message"], (MSG["payload"], invalid("payment_id")))

    def test_missing_and_ill_typed_payment_id(self):
        for body in ({}, {"payment_id": None}, {"payment_id": 123}, {"payment_id": [P[1]]},
                     {"payment_id": {"id": P[1]}}, {"payment_id": P[1][:23]},
                     {"payment_id": P[1] + "0"}, {"payment_id": P[1].upper()},
                     {"payment_id": "64a00000000000000000000g"}, {"payment_id": ""},
                     {"payment_id": " " + P[1][1:]}, {"paymentId": P[1]}):
            for route in ("pay/verify", "pay/refund", "pay/cancel", "pay/get/id"):
                with self.subTest(route=route, body=body):
                    self.err(route, body, 400, invalid("payment_id"))

    def test_bad_refund_amounts(self):
        for amount in (0, -1, -10000, "100", "", 10.5, 1e30, True, False, [100], {}):
            with self.subTest(amount=amount):
                self.err("pay/refund", {"payment_id": P[1], "amount": amount}, 400, invalid("amount"))
        # beyond int64: refused one way or the other, never executed
        r = self.call("pay/refund", {"payment_id": P[1], "amount": 9223372036854775808})
        self.assertEqual(r.status, 400, r)
        self.assertIn(r.json["message"], (invalid("amount"), MSG["greater"]))
        self.assertEqual(self.counters()["refunds"], {})

    def test_bad_account_type(self):
        self.err("pay/refund", {"payment_id": P[1], "amount": 100, "account": 5}, 400,
                 invalid("account"))

    def test_unknown_fields_ignored(self):
        d = self.ok("pay/verify", {"payment_id": P[1], "extra": {"a": [1, 2]}, "x": None})
        self.assertEqual(d["payment_status"]["_id"], P[1])

    def test_empty_body(self):
        r = self.call("pay/verify", None, raw_body=b"")
        self.assertEqual(r.status, 400, r)
        self.assertIn(r.json["message"], (MSG["payload"], invalid("payment_id")))

    def test_body_without_content_type(self):
        d = self.ok("pay/verify", None, raw_body=json.dumps({"payment_id": P[1]}).encode(),
                    content_type=None)
        self.assertEqual(d["payment_status"]["_id"], P[1])

    def test_chunked_request_body(self):
        body = json.dumps({"payment_id": P[1]}).encode()
        chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (5, body[:5], len(body) - 5, body[5:])
        s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        sb._count(PORT)
        try:
            s.sendall(b"POST /v2/pay/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      + KEY.encode() + b"\r\nContent-Type: application/json\r\n"
                      b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked)
            data = b""
            while True:
                c = s.recv(65536)
                if not c:
                    break
                data += c
        finally:
            s.close()
        res = sb.RawResult(data, "eof", 0)
        self.assertEqual(res.status, 200, res)
        self.assertEqual(res.json["data"]["payment_status"]["_id"], P[1])

    def _expect_continue(self, body, announce=None):
        """What libcurl does for bodies over 1 KiB: headers with
        Expect: 100-continue, then the body only after "100 Continue"."""
        s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        sb._count(PORT)
        try:
            s.sendall(("POST /v2/pay/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                       "Content-Type: application/json\r\nContent-Length: %d\r\n"
                       "Expect: 100-continue\r\nConnection: close\r\n\r\n"
                       % (KEY, announce or len(body))).encode())
            first = s.recv(65536)
            if first.startswith(b"HTTP/1.1 100"):
                s.sendall(body)
                data = first.partition(b"\r\n\r\n")[2]
            else:
                data = first
            while True:
                c = s.recv(65536)
                if not c:
                    break
                data += c
        finally:
            s.close()
        return first, sb.RawResult(data, "eof", 0)

    def test_expect_100_continue(self):
        body = json.dumps({"payment_id": P[1], "pad": "x" * 3000}).encode()
        first, res = self._expect_continue(body)
        self.assertTrue(first.startswith(b"HTTP/1.1 100"), first[:100])
        self.assertEqual(res.status, 200, res)
        self.assertEqual(res.json["data"]["payment_status"]["_id"], P[1])

    def test_expect_100_continue_too_large(self):
        first, res = self._expect_continue(b"", announce=2 * 1024 * 1024)
        self.assertEqual(res.status, 413, res)
        self.assertEqual(res.json, {"status": "error", "message": MSG["too_large"]})
        self.verify(P[1])

    def test_deeply_nested_json(self):
        self.err("pay/verify", None, 400, MSG["payload"], raw_body=b"[" * 100000)
        r = self.call("pay/verify", None, raw_body=b'{"a":' * 50000 + b"1" + b"}" * 50000)
        self.assertEqual(r.status, 400)
        self.verify(P[1])

    def test_invalid_utf8(self):
        r = self.call("pay/verify", None, raw_body=b'{"payment_id": "\xff\xfe\xfd"}')
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["status"], "error")
        self.verify(P[1])

    def test_nul_byte(self):
        r = self.call("pay/verify", None, raw_body=b'{"payment_id": "' + P[1].encode() + b'\x00"}')
        self.assertEqual(r.status, 400)
        self.verify(P[1])

    def test_body_too_large(self):
        big = b'{"payment_id": "' + P[1].encode() + b'", "pad": "' + b"x" * (1024 * 1024 + 10) + b'"}'
        r = sb.raw(PORT, "POST", "/v2/pay/verify", big,
                   {"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.json, {"status": "error", "message": MSG["too_large"]})
        self.verify(P[1])
        self.assertEqual(self.counters()["requests"]["/v2/pay/verify"].get("413"), 1)

    def test_just_under_max_body(self):
        head = b'{"payment_id": "' + P[1].encode() + b'", "pad": "'
        big = head + b"x" * (1048576 - len(head) - 2) + b'"}'
        self.assertEqual(len(big), 1048576)
        d = self.ok("pay/verify", None, raw_body=big)
        self.assertEqual(d["payment_status"]["_id"], P[1])

    def test_many_small_connections_and_garbage(self):
        for junk in (b"GARBAGE\r\n\r\n", b"POST /v2/pay/verify HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                     b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", b"POST /v2/pay/verify HTTP/1.1\r\n" + b"X-A: b\r\n" * 3000 + b"\r\n",
                     b""):
            s = socket.create_connection(("127.0.0.1", PORT), timeout=3)
            sb._count(PORT)
            try:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                try:
                    while s.recv(65536):
                        pass
                except (socket.timeout, ConnectionError):
                    pass
            finally:
                s.close()
        self.verify(P[1])

    def test_concurrent_requests(self):
        results = []

        def worker():
            conn = sb.new_conn(PORT)
            try:
                for _ in range(10):
                    r = self.call("pay/verify", {"payment_id": P[1]}, conn=conn)
                    results.append(r.status)
            finally:
                conn.close()

        ts = [threading.Thread(target=worker) for _ in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        self.assertEqual(results, [200] * 120)

    def test_concurrent_refunds_never_exceed_amount(self):
        statuses = []

        def worker():
            r = self.call("pay/refund", {"payment_id": P[1], "amount": 3000})
            statuses.append((r.status, r.json["message"]))

        ts = [threading.Thread(target=worker) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        ok = [s for s in statuses if s[0] == 200]
        self.assertEqual(len(ok), 3, statuses)
        self.assertEqual(sorted(set(m for s, m in statuses if s != 200)), [MSG["greater"]])
        self.assertEqual(self.refunds_of(P[1])["total"], 9000)


# =====================================================================
# HTTPS
# =====================================================================
@unittest.skipUnless(TLS_PORT and CA, "no TLS sandbox (OKRA_SANDBOX_TLS_PORT, OKRA_SANDBOX_CA)")
class T17Tls(Base):
    port = TLS_PORT
    tls = True

    def test_tls_verify(self):
        d = self.ok("pay/verify", {"payment_id": P[1]}, MSG["verify"])
        self.assertEqual(d["payment_status"]["amount"], 10000)

    def test_tls_version_and_cert(self):
        ctx = tls_context()
        with socket.create_connection(("127.0.0.1", TLS_PORT), timeout=5) as raw_sock:
            with ctx.wrap_socket(raw_sock, server_hostname="127.0.0.1") as s:
                self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
                cert = s.getpeercert()
                self.assertIn(("IP Address", "127.0.0.1"), cert.get("subjectAltName", ()))

    def test_tls_untrusted_ca_rejected(self):
        ctx = ssl.create_default_context()
        with self.assertRaises(ssl.SSLCertVerificationError):
            sb.request(TLS_PORT, "POST", "/v2/pay/verify", b"{}", {}, tls_ctx=ctx)

    def test_plain_http_to_tls_port(self):
        r = sb.raw(TLS_PORT, "POST", "/v2/pay/verify", json.dumps({"payment_id": P[1]}).encode(),
                   {"Authorization": "Bearer " + KEY}, timeout=3)
        self.assertNotEqual(r.status, 200, r)

    def test_tls_keepalive_and_routes(self):
        conn = sb.new_conn(TLS_PORT, tls_context())
        try:
            for route, body in (("pay/verify", {"payment_id": P[1]}), ("pay/list", {"limit": 2}),
                                ("pay/get/Id", {"payment_id": P[2]})):
                r = self.call(route, body, conn=conn, prefix="/v2/sandbox/")
                self.assertEqual(r.status, 200, r)
            self.assertEqual(conn.connects, 1)
        finally:
            conn.close()
        d = self.refund(P[2])
        self.assertEqual(d["refund"]["env"], "production")

    def test_tls_auth_and_404(self):
        self.err("pay/verify", {"payment_id": P[1]}, 401, MSG["auth"], key=None)
        self.err("pay/verify", {"payment_id": P[1]}, 404, MSG["route"], method="GET")

    def test_tls_faults(self):
        normal = self.call("pay/verify", {"payment_id": P[1]})
        self.fault(kind="truncate", bytes=30)
        r = sb.api_raw(TLS_PORT, KEY, "pay/verify", {"payment_id": P[1]}, tls_ctx=tls_context())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, normal.body[:30])
        self.assertEqual(r.content_length, len(normal.body))
        self.fault(kind="delay", ms=300)
        r = self.call("pay/verify", {"payment_id": P[1]})
        self.assertGreaterEqual(r.elapsed, 0.29)
        self.fault(kind="after_status", route="pay/refund")
        self.assertEqual(self.call("pay/refund", {"payment_id": P[9]}).status, 500)
        self.assertEqual(self.refunds_of(P[9])["count"], 1)


# =====================================================================
# Command line and process behaviour (extra sandbox processes)
# =====================================================================
def jwt(payload):
    import base64
    import hmac
    import hashlib

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    h = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64(json.dumps(payload, separators=(",", ":")).encode())
    sig = b64(hmac.new(b"okra-test-secret", (h + "." + p).encode(), hashlib.sha256).digest())
    return h + "." + p + "." + sig


class T18Process(unittest.TestCase):
    maxDiff = None

    def spawn(self, *args, **kw):
        s = sb.Sandbox(BIN, "-q", *args, **kw)
        self.addCleanup(s.stop)
        return s

    def test_first_line_is_port(self):
        s = self.spawn("--key", "k1")
        self.assertRegex(s.first_line, r"^OKRA_SANDBOX_PORT=[1-9][0-9]*$")
        api = sb.Api(s.port, "k1")
        self.assertEqual(api.call("pay/list", {}).status, 200)

    def test_fixed_port_and_busy_port(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        s = self.spawn("--key", "k1", port=str(port))
        self.assertEqual(s.port, port)
        other = sb.Sandbox(BIN, "-q", "--key", "k1", port=str(port), wait=False)
        try:
            rc = other.wait_exit(5)
            self.assertIsNotNone(rc, "a second sandbox on a busy port kept running")
            self.assertNotEqual(rc, 0)
        finally:
            other.stop()

    def test_help(self):
        import subprocess
        r = subprocess.run([BIN, "--help"], capture_output=True, timeout=5)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"--refund-settle-ms", r.stdout + r.stderr)
        r = subprocess.run([BIN, "-h"], capture_output=True, timeout=5)
        self.assertEqual(r.returncode, 0)

    def test_bad_arguments(self):
        import subprocess
        for args in (["--no-such-flag"], ["--port", "abc"], ["--port", "70000"],
                     ["--seed", "/nonexistent/seed.json"],
                     ["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"],
                     ["--host", "not-an-ip"]):
            with self.subTest(args=args):
                try:
                    r = subprocess.run([BIN, "--port", "0", *args], capture_output=True, timeout=5)
                    rc = r.returncode
                except subprocess.TimeoutExpired:
                    rc = "still running"
                self.assertNotEqual(rc, 0)
                self.assertNotEqual(rc, "still running")

    def test_bad_seed_file(self):
        import subprocess
        import tempfile
        for content in ('{"payments": [', '{"payments": [{"status": "success"}]}',
                        '{"payments": [{"status": "success", "amount": -4}]}',
                        '{"payments": [{"status": "success", "amount": 1, "id": "xyz"}]}'):
            with self.subTest(seed=content):
                with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
                    f.write(content)
                    f.flush()
                    try:
                        r = subprocess.run([BIN, "--port", "0", "-q", "--seed", f.name],
                                           capture_output=True, timeout=5)
                        rc = r.returncode
                    except subprocess.TimeoutExpired:
                        rc = "still running"
                    self.assertNotEqual(rc, 0)
                    self.assertNotEqual(rc, "still running")

    def test_sigterm_and_sigint_exit_0(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig):
                s = self.spawn("--key", "k1")
                self.assertEqual(sb.Api(s.port, "k1").call("pay/list", {}).status, 200)
                s.proc.send_signal(sig)
                self.assertEqual(s.wait_exit(5), 0)

    def test_sigterm_lets_in_flight_request_finish(self):
        # README: "SIGTERM and SIGINT stop it cleanly (in-flight requests finish ...)"
        for how in ("delay fault", "--latency-ms", "trickle fault"):
            with self.subTest(how=how):
                extra = ["--latency-ms", "800"] if how == "--latency-ms" else []
                s = self.spawn("--key", "k1", "--seed", SEED, *extra)
                api = sb.Api(s.port, "k1")
                if how == "delay fault":
                    api.control("POST", "faults", {"kind": "delay", "ms": 800})
                elif how == "trickle fault":
                    api.control("POST", "faults", {"kind": "trickle", "ms": 8, "chunk": 2})
                res = {}

                def go():
                    try:
                        res["r"] = api.call("pay/verify", {"payment_id": P[1]})
                    except Exception as e:      # noqa: BLE001
                        res["r"] = e
                t = threading.Thread(target=go)
                t.start()
                time.sleep(0.3)
                s.proc.send_signal(signal.SIGTERM)
                t.join(5)
                r = res.get("r")
                self.assertIsInstance(r, sb.Resp, "in-flight request cut by SIGTERM: %r" % (r,))
                self.assertEqual(r.status, 200)
                self.assertEqual(r.json["data"]["payment_status"]["_id"], P[1])
                self.assertEqual(s.wait_exit(5), 0)

    def test_default_key_and_wallet(self):
        s = self.spawn()
        api = sb.Api(s.port, "sk_test_okra_sandbox")
        r = api.call("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 1, "currency": "NGN"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["data"]["okra_wallet"]["amount"], 100000000)

    def test_wallet_flag_and_several_keys(self):
        s = self.spawn("--wallet", "777", "--key", "ka", "--key", "kb")
        for k in ("ka", "kb"):
            r = sb.Api(s.port, k).call("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 1,
                                                        "currency": "NGN"})
            self.assertEqual(r.json["data"]["okra_wallet"]["amount"], 777)
        self.assertEqual(sb.Api(s.port, "kc").call("pay/list", {}).status, 401)

    def test_jwt_key_owner(self):
        owner = "5d9288ea182d3d000cb7c486"
        key = jwt({"_id": owner, "iat": 1600000000})
        s = self.spawn("--key", key, "--key", "plain-key")
        r = sb.Api(s.port, key).call("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 1,
                                                      "currency": "NGN"})
        self.assertEqual(r.json["data"]["payment"]["owner"], owner)
        r = sb.Api(s.port, "plain-key").call("pay/initiate", {"account_to_debit": ACCOUNT,
                                                             "amount": 1, "currency": "NGN"})
        o2 = r.json["data"]["payment"]["owner"]
        self.assertRegex(o2, HEX24)
        self.assertNotEqual(o2, owner)
        # derived from the key: the same key gives the same owner in another process
        s2 = self.spawn("--key", "plain-key")
        r = sb.Api(s2.port, "plain-key").call("pay/initiate", {"account_to_debit": ACCOUNT,
                                                              "amount": 1, "currency": "NGN"})
        self.assertEqual(r.json["data"]["payment"]["owner"], o2)

    def test_seed_defaults_and_key(self):
        import tempfile
        seed = {"wallet": 4321, "payments": [
            {"status": "success", "amount": 111},
            {"id": "64f000000000000000000002", "status": "completed", "amount": 222},
            {"id": "64f000000000000000000003", "status": "pending", "amount": 333, "key": "kb",
             "env": "production-sandbox"},
        ]}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(seed, f)
        self.addCleanup(os.unlink, f.name)
        s = self.spawn("--key", "ka", "--key", "kb", "--seed", f.name)
        a, b = sb.Api(s.port, "ka"), sb.Api(s.port, "kb")
        lst = a.call("pay/list", {}).json["data"]
        self.assertEqual(lst["pagination"]["totalDocs"], 2)
        gen = [p for p in lst["payments"] if p["amount"] == 111][0]
        self.assertRegex(gen["id"], HEX24)
        self.assertEqual(gen["currency"], "NGN")
        self.assertEqual(gen["env"], "production")
        ps = a.call("pay/verify", {"payment_id": gen["id"]}).json["data"]["payment_status"]
        self.assertEqual(ps["response_status"], "success")
        ps = a.call("pay/verify", {"payment_id": "64f000000000000000000002"}).json["data"]["payment_status"]
        self.assertEqual((ps["status"], ps["response_status"]), ("completed", "success"))
        self.assertEqual(a.call("pay/verify", {"payment_id": "64f000000000000000000003"}).status, 400)
        g = b.call("pay/get/id", {"payment_id": "64f000000000000000000003"}).json["data"]["payment"]
        self.assertEqual((g["status"], g["env"], g["amount"]), ("pending", "production-sandbox", 333))
        r = a.call("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 1, "currency": "NGN"})
        self.assertEqual(r.json["data"]["okra_wallet"]["amount"], 4321)

    def test_refund_settle_flag(self):
        s = self.spawn("--key", "ka", "--seed", SEED, "--refund-settle-ms", "150")
        api = sb.Api(s.port, "ka")
        r = api.call("pay/refund", {"payment_id": P[2]})
        self.assertEqual(r.status, 200, r)
        rpid = r.json["data"]["refund_payment"]["data"]["payment"]["id"]
        time.sleep(0.4)
        ps = api.call("pay/verify", {"payment_id": rpid}).json["data"]["payment_status"]
        self.assertEqual((ps["status"], ps["response_status"]), ("success", "success"))
        r = api.call("pay/refund", {"payment_id": P[2]})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["data"]["refund"]["status"], "completed")
        # reset keeps the command line's setting
        api.control("POST", "reset")
        r = api.call("pay/refund", {"payment_id": P[2]})
        rpid = r.json["data"]["refund_payment"]["data"]["payment"]["id"]
        time.sleep(0.4)
        ps = api.call("pay/verify", {"payment_id": rpid}).json["data"]["payment_status"]
        self.assertEqual(ps["status"], "success")

    def test_rate_limit_flag(self):
        s = self.spawn("--key", "ka", "--rate-limit", "2")
        api = sb.Api(s.port, "ka")
        self.assertEqual([api.call("pay/list", {}).status for _ in range(3)], [200, 200, 429])
        api.control("POST", "reset")
        self.assertEqual(api.call("pay/list", {}).status, 200)

    def test_latency_flag(self):
        s = self.spawn("--key", "ka", "--latency-ms", "250")
        r = sb.Api(s.port, "ka").call("pay/list", {})
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(r.elapsed, 0.24)

    def test_max_body_flag(self):
        s = self.spawn("--key", "ka", "--seed", SEED, "--max-body", "200")
        api = sb.Api(s.port, "ka")
        head = b'{"payment_id": "' + P[1].encode() + b'", "pad": "'
        exact = head + b"x" * (200 - len(head) - 2) + b'"}'
        r = api.call("pay/verify", None, raw_body=exact)
        self.assertEqual(r.status, 200, r)
        over = head + b"x" * (201 - len(head) - 2) + b'"}'
        r = api.call("pay/verify", None, raw_body=over)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.json, {"status": "error", "message": MSG["too_large"]})
        self.assertEqual(api.call("pay/verify", {"payment_id": P[1]}).status, 200)

    def test_demo_seed(self):
        demo = os.path.join(os.path.dirname(SEED), "seed-demo.json")
        s = self.spawn("--key", "kd", "--seed", demo)
        api = sb.Api(s.port, "kd")
        r = api.call("pay/verify", {"payment_id": "5f88ebf63103d912f1d4baca"})
        self.assertEqual(r.json["data"]["payment_status"],
                         {"_id": "5f88ebf63103d912f1d4baca", "amount": 10000, "currency": "NGN",
                          "customer": "5f5b67748df30163f294f432", "link": None,
                          "status": "success", "response_status": "success"})
        want = {"5f88ebf63103d912f1d4bacb": ("pending", "pending"),
                "5f88ebf63103d912f1d4bacc": ("initialize", "pending"),
                "5f88ebf63103d912f1d4bacd": ("failed", "failed"),
                "5f88ebf63103d912f1d4bace": ("completed", "success")}
        for pid, pair in want.items():
            ps = api.call("pay/verify", {"payment_id": pid}).json["data"]["payment_status"]
            self.assertEqual((ps["status"], ps["response_status"]), pair, pid)
        lst = api.call("pay/list", {}).json["data"]
        self.assertEqual(lst["pagination"]["totalDocs"], 5)
        r = api.call("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 1, "currency": "NGN"})
        self.assertEqual(r.json["data"]["okra_wallet"]["amount"], 5000000)

    def test_verbose_never_logs_key(self):
        s = sb.Sandbox(BIN, "-v", "-v", "--key", "sk_secret_value_123", "--seed", SEED)
        self.addCleanup(s.stop)
        api = sb.Api(s.port, "sk_secret_value_123")
        self.assertEqual(api.call("pay/verify", {"payment_id": P[1]}).status, 200)
        api.call("pay/verify", {"payment_id": P[1]}, key="sk_wrong_secret_456")
        s.proc.send_signal(signal.SIGTERM)
        self.assertEqual(s.wait_exit(5), 0)
        log = open(s.log.name, "rb").read()
        self.assertIn(b"pay/verify", log, "verbose logs one line per request")
        self.assertNotIn(b"sk_secret_value_123", log)
        self.assertNotIn(b"sk_wrong_secret_456", log)

    def test_control_forbidden_off_loopback(self):
        addr = None
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.connect(("192.0.2.1", 9))
            addr = u.getsockname()[0]
            u.close()
        except OSError:
            pass
        if not addr or addr.startswith("127."):
            self.skipTest("no non-loopback IPv4 address")
        s = self.spawn("--key", "ka", "--host", "0.0.0.0")
        c = sb.http.client.HTTPConnection(addr, s.port, timeout=5)
        c.request("GET", "/_sandbox/counters")
        r = c.getresponse()
        self.assertEqual(r.status, 403)
        r.read()
        c.close()
        c = sb.http.client.HTTPConnection(addr, s.port, timeout=5)
        c.request("POST", "/v2/pay/list", body=b"{}", headers={"Authorization": "Bearer ka",
                                                                "Content-Type": "application/json"})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        c.close()
        self.assertEqual(sb.Api(s.port, "ka").control("GET", "counters").status, 200)


# =====================================================================
# test/sandbox/ctl
# =====================================================================
class T19Ctl(Base):
    CTL = os.path.join(HERE, "..", "ctl")

    def run_ctl(self, *args, port_env=None):
        import subprocess
        env = dict(os.environ)
        env.pop("OKRA_SANDBOX_PORT", None)
        if port_env is not None:
            env["OKRA_SANDBOX_PORT"] = str(port_env)
        return subprocess.run([self.CTL, *args], capture_output=True, timeout=20, env=env)

    def test_ctl_get_post_delete(self):
        r = self.run_ctl(str(PORT), "GET", "counters")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(sorted(sb.parse_json(r.stdout).keys()), sorted(COUNTER_KEYS))
        r = self.run_ctl(str(PORT), "POST", "faults", '{"kind":"status","status":500,"count":2}')
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(len(self.faults_list()), 1)
        r = self.run_ctl(str(PORT), "DELETE", "/_sandbox/faults")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(self.faults_list(), [])
        r = self.run_ctl(str(PORT), "post", "wallet", '{"amount": 4444}')
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(self.wallet(), 4444)

    def test_ctl_port_from_env(self):
        r = self.run_ctl("GET", "counters", port_env=PORT)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn(b'"requests"', r.stdout)
        r = self.run_ctl("GET", "counters")
        self.assertEqual(r.returncode, 2, r)

    def test_ctl_http_error_and_no_server(self):
        r = self.run_ctl(str(PORT), "GET", "no-such-thing")
        self.assertEqual(r.returncode, 1, r)
        self.assertTrue(r.stdout.strip(), "the error body is printed")
        r = self.run_ctl(str(PORT), "POST", "payments", "{not json")
        self.assertEqual(r.returncode, 1, r)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
        probe.close()
        r = self.run_ctl(str(dead), "GET", "counters")
        self.assertEqual(r.returncode, 3, r)
        r = self.run_ctl(str(PORT), "GET")
        self.assertEqual(r.returncode, 2, r)


# =====================================================================
# pay/initiate: recurring payments (API.md 5.4, 8.11)
# =====================================================================
class T20Recurring(Base):
    def initiate(self, **extra):
        body = {"account_to_debit": ACCOUNT, "amount": 10000, "currency": "NGN"}
        body.update(extra)
        return body

    def test_recurring_schedule_echoed_and_kept(self):
        sched = {"interval": "monthly", "startDate": "2025-01-15", "endDate": "2025-12-15"}
        d = self.ok("pay/initiate", self.initiate(type="recurring", schedule=sched),
                    MSG["initiate"])
        p = d["payment"]
        self.assertEqual(p["schedule"], sched)
        self.assertEqual(list(p["schedule"].keys()), ["interval", "startDate", "endDate"])
        self.assertKeysInOrder(p, INITIATE_PAYMENT_KEYS, exact=True)
        self.assertEqual(p["status"], "initialize")
        g = self.ok("pay/get/id", {"payment_id": p["id"]})["payment"]
        self.assertEqual(g["schedule"], sched)
        self.assertEqual(self.ok("pay/list", {"limit": 1})["payments"][0]["schedule"], sched)
        mine = find_by_id(self.ctl("GET", "state"), p["id"], "type")
        self.assertEqual(mine["type"], "recurring")

    def test_every_interval(self):
        for iv in ("daily", "weekly", "monthly", "quarterly", "yearly"):
            with self.subTest(interval=iv):
                d = self.ok("pay/initiate", self.initiate(
                    type="recurring", schedule={"interval": iv, "startDate": "2030-01-01"}))
                self.assertEqual(d["payment"]["schedule"]["interval"], iv)

    def test_blank_dates(self):
        # the docs: a blank startDate "will default to today", a blank endDate "will not stop"
        for blank in ({}, {"startDate": "", "endDate": ""}, {"startDate": None, "endDate": None}):
            with self.subTest(blank=blank):
                before = today_utc()
                sched = dict({"interval": "weekly"}, **blank)
                d = self.ok("pay/initiate", self.initiate(type="recurring", schedule=sched))
                got = d["payment"]["schedule"]
                self.assertIn(got["startDate"], {before, today_utc()})
                self.assertIsNone(got["endDate"])

    def test_start_equal_to_end(self):
        sched = {"interval": "daily", "startDate": "2028-02-29", "endDate": "2028-02-29"}
        self.assertEqual(self.ok("pay/initiate", self.initiate(
            type="recurring", schedule=sched))["payment"]["schedule"], sched)

    def test_recurring_needs_schedule(self):
        for body in (self.initiate(type="recurring"),
                     self.initiate(type="recurring", schedule=None),
                     self.initiate(type="recurring", schedule="monthly"),
                     self.initiate(type="recurring", schedule=["monthly"])):
            with self.subTest(body=body):
                self.err("pay/initiate", body, 400, invalid("schedule"))
        self.assertEqual(self.total_payments(), len(SEED_PAYMENTS))

    def test_schedule_fields_rejected(self):
        cases = [
            ({"startDate": "2025-01-01"}, "schedule.interval"),
            ({"interval": "hourly"}, "schedule.interval"),
            ({"interval": "Monthly"}, "schedule.interval"),
            ({"interval": 30}, "schedule.interval"),
            ({"interval": "monthly", "startDate": "2025-13-01"}, "schedule.startDate"),
            ({"interval": "monthly", "startDate": "2025-02-29"}, "schedule.startDate"),
            ({"interval": "monthly", "startDate": "2025/01/01"}, "schedule.startDate"),
            ({"interval": "monthly", "startDate": "20250101"}, "schedule.startDate"),
            ({"interval": "monthly", "startDate": "2025-1-01"}, "schedule.startDate"),
            ({"interval": "monthly", "startDate": 20250101}, "schedule.startDate"),
            ({"interval": "monthly", "endDate": "2025-04-31"}, "schedule.endDate"),
            ({"interval": "monthly", "endDate": "tomorrow"}, "schedule.endDate"),
        ]
        for sched, field in cases:
            with self.subTest(schedule=sched):
                self.err("pay/initiate", self.initiate(type="recurring", schedule=sched), 400,
                         invalid(field))
        self.err("pay/initiate", self.initiate(type="recurring", schedule={
            "interval": "monthly", "startDate": "2025-03-02", "endDate": "2025-03-01"}), 400,
            order_error("schedule.startDate", "schedule.endDate"))
        self.assertEqual(self.total_payments(), len(SEED_PAYMENTS))

    def test_type_rejected(self):
        for t in ("Recurring", "ongoing", "", 1, True):
            with self.subTest(type=t):
                self.err("pay/initiate", self.initiate(type=t), 400, invalid("type"))

    def test_one_time_stays_as_before(self):
        d = self.ok("pay/initiate", self.initiate(type="one-time"))
        self.assertIsNone(d["payment"]["schedule"])
        self.assertEqual(find_by_id(self.ctl("GET", "state"), d["payment"]["id"], "type")["type"],
                         "one-time")
        # a schedule on a one-time payment is checked and kept as given (API.md 8.11)
        sched = {"interval": "yearly", "startDate": "2026-06-01", "endDate": None}
        d = self.ok("pay/initiate", self.initiate(schedule=sched))
        self.assertEqual(d["payment"]["schedule"], sched)
        self.err("pay/initiate", self.initiate(schedule={"interval": "x"}), 400,
                 invalid("schedule.interval"))

    def test_currency_defaults_to_ngn(self):
        # Okra docs, "Recurring payments": the currency "is set by default to NGN ... but is optional"
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 4100})
        self.assertEqual(d["payment"]["currency"], "NGN")
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 4100, "currency": None})
        self.assertEqual(d["payment"]["currency"], "NGN")

    def test_other_rejections_unchanged(self):
        good = self.initiate(type="recurring", schedule={"interval": "monthly"})
        for body, field in ((dict(good, account_to_debit=None), "account_to_debit"),
                            (dict(good, account_to_debit="64D000000000000000000001"),
                             "account_to_debit"),
                            (dict(good, amount=0), "amount"), (dict(good, amount=-1), "amount"),
                            (dict(good, currency="USD"), "currency")):
            with self.subTest(body=body):
                self.err("pay/initiate", body, 400, invalid(field))

    def test_form_body_recurring_needs_json(self):
        # a form body cannot carry the schedule object
        r = self.call("pay/initiate", None, content_type="application/x-www-form-urlencoded",
                      raw_body=("account_to_debit=%s&amount=100&type=recurring&schedule=monthly"
                                % ACCOUNT).encode())
        self.check_err(r, 400, invalid("schedule"))


# =====================================================================
# Payment links (API.md 5.9)
# =====================================================================
class T21Links(Base):
    def create(self, body, **kw):
        return self.ok("pay/link/create", body, MSG["link"], **kw)

    def links(self):
        return self.ctl("GET", "links")["links"]

    def test_create_shape(self):
        before = len(self.links())
        d = self.create({"name": "Groceries", "amount": 50000, "currency": "NGN",
                         "note": "For groceries.", "countries": "NG", "account": ACCOUNT})
        self.assertKeysInOrder(d, LINK_KEYS, exact=True)
        self.assertRecentId(d["_id"])
        self.assertEqual(d["preselect_bank"], {"bank": None, "type": None, "platform": None,
                                               "login": None})
        self.assertEqual(d["schedule"], {"startDate": None, "endDate": None})
        self.assertEqual(d["whatsapp"], {"enabled": False, "users": [], "message_templates": [],
                                         "qr": []})
        self.assertEqual((d["amount"], d["currency"], d["type"], d["note"], d["name"]),
                         (50000, "NGN", "one-time", "For groceries.", "Groceries"))
        self.assertEqual((d["debitLater"], d["countries"], d["data"], d["archive"], d["count"]),
                         (False, ["NG"], False, False, 0))
        self.assertEqual((d["unique_views"], d["billable_products"], d["projects"],
                          d["corporate"], d["__v"]), ([], [], [], None, 0))
        self.assertEqual(d["account"], ACCOUNT)
        self.assertEqual(d["env"], "production")
        self.assertRegex(d["short_url"], r"^[a-z0-9]{6}$")
        self.assertEqual(d["url"], "https://dev-pay.okra.ng/" + d["short_url"])
        self.assertEqual(d["surl"], "https://dev.okr.to/" + d["short_url"])
        self.assertRegex(d["created_by"], HEX24)
        self.assertEqual(d["owner"], {"_id": d["created_by"], "name": None})
        self.assertRecentIso(d["created_at"])
        self.assertEqual(len(self.links()), before + 1)
        self.assertEqual(find_by_id(self.links(), d["_id"]), d)

    def test_open_amount_recurring_and_defaults(self):
        before = today_utc()
        d = self.create({"name": "Dues", "amount": None, "type": "recurring",
                         "schedule": {"endDate": "2031-12-31"}}, prefix="/v2/sandbox/")
        self.assertIsNone(d["amount"])
        self.assertEqual(d["type"], "recurring")
        # the docs: interval "defailts to monthly", a blank startDate is today
        self.assertEqual(d["schedule"]["interval"], "monthly")
        self.assertIn(d["schedule"]["startDate"], {before, today_utc()})
        self.assertEqual(d["schedule"]["endDate"], "2031-12-31")
        self.assertEqual(d["env"], "production-sandbox")
        self.assertEqual((d["currency"], d["note"], d["countries"]), ("NGN", None, ["NG"]))
        self.assertRegex(d["account"], HEX24)     # the business account (API.md 8.11)
        d2 = self.create({"name": "Other", "amount": 100})
        self.assertEqual(d2["account"], d["account"])
        self.assertNotEqual(self.create({"name": "x", "amount": 100}, key=KEY2)["account"],
                            d["account"])

    def test_same_details_same_link(self):
        body = {"name": "Twice", "amount": 2500, "note": "n"}
        a = self.create(body)
        b = self.create(dict(body))
        self.assertEqual(a["_id"], b["_id"])
        self.assertEqual(a["short_url"], b["short_url"])
        for other in (dict(body, note="m"), dict(body, amount=2501), dict(body, name="Thrice")):
            with self.subTest(other=other):
                self.assertNotEqual(self.create(other)["_id"], a["_id"])
        self.assertNotEqual(self.create(body, key=KEY2)["_id"], a["_id"])
        self.assertNotEqual(self.create(body, prefix="/v2/sandbox/")["_id"], a["_id"])

    def test_short_codes_unique(self):
        codes = {self.create({"name": "L%d" % i, "amount": 100 + i})["short_url"]
                 for i in range(30)}
        self.assertEqual(len(codes), 30)

    def test_countries_and_options_accepted(self):
        d = self.create({"name": "A", "amount": 100, "countries": ["NG"], "data": True,
                         "filter": {"banks": ["kuda-bank"]}, "logo": "https://x/logo.png",
                         "color": "#123456", "support_email": "help@example.com",
                         "success_url": "https://x/ok", "callback_url": "https://x/cb",
                         "continue_cta": "Back"})
        self.assertEqual((d["countries"], d["data"]), (["NG"], True))

    def test_validation(self):
        good = {"name": "Link", "amount": 1000}
        cases = [
            ("name", {"amount": 1000}), ("name", dict(good, name="")), ("name", dict(good, name=5)),
            ("amount", {"name": "Link"}), ("amount", dict(good, amount=99)),
            ("amount", dict(good, amount=0)), ("amount", dict(good, amount=-100)),
            ("amount", dict(good, amount="1000")), ("amount", dict(good, amount=100.5)),
            ("currency", dict(good, currency="USD")), ("note", dict(good, note=7)),
            ("countries", dict(good, countries="GH")), ("countries", dict(good, countries=[])),
            ("countries", dict(good, countries=["NG", "GH"])), ("countries", dict(good, countries=1)),
            ("account", dict(good, account="123")), ("type", dict(good, type="monthly")),
            ("schedule", dict(good, type="recurring", schedule="monthly")),
            ("schedule.interval", dict(good, type="recurring", schedule={"interval": "hourly"})),
            ("schedule.startDate", dict(good, schedule={"startDate": "2025-02-30"})),
            ("data", dict(good, data="yes")), ("filter", dict(good, filter=["kuda-bank"])),
            ("support_email", dict(good, support_email=5)), ("callback_url", dict(good, callback_url=[])),
        ]
        before = len(self.links())
        for field, body in cases:
            with self.subTest(body=body):
                self.err("pay/link/create", body, 400, invalid(field))
        self.err("pay/link/create", dict(good, schedule={"startDate": "2025-05-02",
                                                         "endDate": "2025-05-01"}), 400,
                 order_error("schedule.startDate", "schedule.endDate"))
        self.assertEqual(len(self.links()), before)

    def test_form_body(self):
        # pyokra posts link creation as a form
        r = self.call("pay/link/create", None, content_type="application/x-www-form-urlencoded",
                      raw_body=("amount=5000&name=Form+link&currency=NGN&note=hi&countries=NG"
                                "&account=%s&data=true" % ACCOUNT).encode())
        self.assertEqual(r.status, 200, r)
        d = r.json["data"]
        self.assertEqual((d["amount"], d["name"], d["note"], d["data"]), (5000, "Form link", "hi", True))

    def test_pay_fixed_link(self):
        lid = self.create({"name": "Fixed", "amount": 7000})["_id"]
        j = self.ctl("POST", "links/%s/pay" % lid, {"status": "success"})
        self.assertEqual(list(j.keys()), ["payment", "link"])
        p = j["payment"]
        self.assertEqual((p["amount"], p["source"], p["link"], p["status"]),
                         (7000, "link", lid, "success"))
        self.assertEqual(p["credit_account"], j["link"]["account"])
        self.assertEqual(j["link"]["count"], 1)
        ps = self.verify(p["id"])
        self.assertEqual(list(ps.keys()), VERIFY_KEYS)
        self.assertKeysInOrder(ps["link"], LINK_REF_KEYS, exact=True)
        short = j["link"]["short_url"]
        self.assertEqual(ps["link"], {"_id": lid, "url": "https://dev-pay.okra.ng/" + short,
                                      "short_url": short, "surl": "https://dev.okr.to/" + short})
        self.assertEqual(self.ok("pay/get/id", {"payment_id": p["id"]})["payment"]["link"], lid)
        j = self.ctl("POST", "links/%s/pay" % lid, {"status": "pending", "amount": 7000,
                                                    "customer": "64c0000000000000000000d1",
                                                    "account": "64d0000000000000000000d1"})
        p = j["payment"]
        self.assertEqual((p["customer"], p["debit_account"], p["status"], j["link"]["count"]),
                         ("64c0000000000000000000d1", "64d0000000000000000000d1", "pending", 2))
        self.ctl_error("POST", "links/%s/pay" % lid, {"status": "success", "amount": 7001}, 400,
                       "The link's amount is fixed: leave amount out or give the same.")
        self.assertEqual(self.total_payments(), len(SEED_PAYMENTS) + 2)

    def test_pay_open_link(self):
        d = self.create({"name": "Open", "amount": None, "type": "recurring",
                         "schedule": {"interval": "weekly", "startDate": "2030-01-06"}},
                        prefix="/v2/sandbox/")
        self.ctl_error("POST", "links/%s/pay" % d["_id"], {"status": "success"}, 400,
                       invalid("amount"))
        p = self.ctl("POST", "links/%s/pay" % d["_id"], {"status": "completed", "amount": 333,
                                                          "response_status": "failed"})["payment"]
        self.assertEqual((p["amount"], p["env"], p["status"], p["response_status"]),
                         (333, "production-sandbox", "completed", "failed"))
        self.assertEqual(p["schedule"], d["schedule"])
        ps = self.verify(p["id"])
        self.assertEqual(ps["link"]["_id"], d["_id"])

    def test_pay_errors(self):
        self.ctl_error("POST", "links/%s/pay" % UNKNOWN_ID, {"status": "success"}, 404,
                       "Link not found.")
        for body, field in (({"amount": 100}, "status"),
                            ({"status": "Success", "amount": 100}, "status"),
                            ({"status": "success", "amount": -1}, "amount"),
                            ({"status": "success", "amount": 100, "account": "x"}, "account"),
                            ({"status": "success", "amount": 100, "customer": 4}, "customer")):
            with self.subTest(body=body):
                self.ctl_error("POST", "links/%s/pay" % L_OPEN, body, 400, invalid(field))
        r = self.api.control("POST", "links/%s/nope" % L_FIXED, {"status": "success"})
        self.assertEqual(r.status, 404)
        self.assertEqual(self.total_payments(), len(SEED_PAYMENTS))

    def test_link_payment_refunds(self):
        p = self.ctl("POST", "links/%s/pay" % L_FIXED, {"status": "success"})["payment"]
        e = self.err("pay/refund", {"payment_id": p["id"], "amount": 60000}, 400, MSG["greater"],
                     "payment")
        self.assertEqual((e["source"], e["link"]), ("link", L_FIXED))
        self.assertEqual(self.refund(p["id"])["refund"]["amount"], 50000)

    def test_api_payments_have_null_link(self):
        d = self.ok("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 300})
        self.assertIsNone(self.verify(d["payment"]["id"])["link"])
        self.assertIsNone(self.verify(P[1])["link"])

    def test_seeded_links(self):
        links = {x["_id"]: x for x in self.links()}
        self.assertEqual(set(links), set(SEED_LINKS))
        f, o = links[L_FIXED], links[L_OPEN]
        self.assertEqual((f["short_url"], f["amount"], f["note"], f["type"]),
                         ("sbfix1", 50000, "Groceries", "one-time"))
        self.assertEqual((o["short_url"], o["amount"], o["type"], o["schedule"]),
                         ("sbopen", None, "recurring", {"interval": "monthly",
                                                        "startDate": "2025-01-01",
                                                        "endDate": "2025-12-31"}))
        st = self.ctl("GET", "state")
        self.assertEqual(sorted(x["_id"] for o in st["owners"] for x in o["links"]),
                         sorted(SEED_LINKS))


# =====================================================================
# Authorizations (API.md 5.10)
# =====================================================================
class T22Authorizations(Base):
    def body(self, auth=A_ACTIVE, **extra):
        b = {"authorization": auth, "amount": 10000, "initialAmount": 7000, "currency": "NGN",
             "startDate": "2021/05/21", "endDate": "2021/06/27", "interval": "monthly",
             "oneTime": False}
        b.update(extra)
        return b

    def ids(self, a):
        return {"authorization": a["_id"], "customer": a["customer"], "link": a["link"]}

    def test_control_create(self):
        a = self.new_auth(accounts=["64d0000000000000000000c1", "64d0000000000000000000c2"],
                          link=L_FIXED, env="production-sandbox")
        self.assertKeysInOrder(a, AUTH_KEYS, exact=True)
        self.assertRecentId(a["_id"])
        self.assertEqual((a["customer"], a["accounts"], a["link"], a["status"], a["env"]),
                         ("64c0000000000000000000c1",
                          ["64d0000000000000000000c1", "64d0000000000000000000c2"], L_FIXED,
                          "active", "production-sandbox"))
        self.assertEqual((a["disconnect"], a["disconnected_at"], a["cancelled_by"]),
                         (False, None, None))
        self.assertEqual(a["duration"], {"startDate": None, "endDate": None, "interval": None})
        self.assertEqual((a["amount"], a["initialAmount"], a["currency"], a["oneTime"]),
                         (None, None, "NGN", False))
        b = self.new_auth()
        self.assertRegex(b["link"], HEX24)        # a link id is made when none is given
        listed = self.ctl("GET", "authorizations")["authorizations"]
        self.assertEqual(find_by_id(listed, a["_id"]), a)
        self.assertEqual(len(listed), len(SEED_AUTHS) + 2)

    def test_control_create_errors(self):
        good = {"customer": "64c0000000000000000000c1", "accounts": ["64d0000000000000000000c1"]}
        for body, field in ((dict(good, customer=None), "customer"),
                            (dict(good, customer="c1"), "customer"),
                            (dict(good, accounts=[]), "accounts"),
                            (dict(good, accounts="64d0000000000000000000c1"), "accounts"),
                            (dict(good, accounts=["x"]), "accounts"),
                            (dict(good, accounts=[ACCOUNT] * 21), "accounts"),
                            (dict(good, link="abc"), "link"), (dict(good, id="1"), "id"),
                            (dict(good, env="live"), "env"), (dict(good, status="gone"), "status"),
                            (dict(good, cancelled_by="customer"), "cancelled_by"),
                            (dict(good, status="cancelled", cancelled_by="bank"), "cancelled_by")):
            with self.subTest(body=body):
                self.ctl_error("POST", "authorizations", body, 400, invalid(field))
        self.ctl_error("POST", "authorizations", dict(good, key="nope"), 400, "Unknown key.")
        self.ctl_error("POST", "authorizations", dict(good, id=A_ACTIVE), 400,
                       "An object with this id already exists.")
        self.assertEqual(len(self.ctl("GET", "authorizations")["authorizations"]), len(SEED_AUTHS))

    def test_initiate_docs_example(self):
        r = self.call("pay/authorization/initiate", self.body())
        self.assertEqual(r.status, 200, r)
        j = r.json
        self.assertEqual(list(j.keys()), ["status", "message", "data"])
        self.assertEqual(j["message"], auth_message("2021-05-21", 7000, 10000))
        self.assertEqual(list(j["data"].keys()), ["authorization"])
        a = j["data"]["authorization"]
        self.assertKeysInOrder(a, AUTH_KEYS, exact=True)
        self.assertEqual((a["_id"], a["customer"], a["accounts"], a["disconnect"],
                          a["disconnected_at"]),
                         (A_ACTIVE, "64c0000000000000000000a1", ["64d0000000000000000000a1"],
                          False, None))
        self.assertEqual(a["duration"], {"startDate": "2021-05-21T00:00:00.000Z",
                                         "endDate": "2021-06-27T00:00:00.000Z",
                                         "interval": "monthly"})
        self.assertEqual((a["amount"], a["initialAmount"], a["oneTime"], a["status"]),
                         (10000, 7000, False, "active"))
        self.assertRecentIso(a["last_updated"])
        listed = self.ok("pay/authorization/list", {}, MSG["auth_list"])["authorizations"]
        self.assertEqual(find_by_id(listed, A_ACTIVE), a)

    def test_initiate_dates_and_one_time(self):
        d = self.ok("pay/authorization/initiate", self.body(startDate="2030-02-01",
                                                            endDate=None, interval="yearly"))
        self.assertEqual(d["authorization"]["duration"], {"startDate": "2030-02-01T00:00:00.000Z",
                                                          "endDate": None, "interval": "yearly"})
        r = self.call("pay/authorization/initiate", self.body(startDate="2030/03/01", oneTime=True,
                                                              interval=None, endDate=None,
                                                              initialAmount=500))
        self.assertEqual(r.json["message"], auth_message("2030-03-01", 500, 10000))
        a = r.json["data"]["authorization"]
        self.assertEqual((a["oneTime"], a["duration"]["interval"]), (True, None))
        # currency may be left out (the reference: "The default is NG")
        self.ok("pay/authorization/initiate", self.body(currency=None, startDate="2030-01-01",
                                                        endDate="2030-01-01"))

    def test_initiate_validation(self):
        cases = [
            ("authorization", self.body(authorization=None)),
            ("authorization", self.body(authorization="652")),
            ("amount", self.body(amount=None)), ("amount", self.body(amount=0)),
            ("amount", self.body(amount="10000")),
            ("initialAmount", self.body(initialAmount=None)),
            ("initialAmount", self.body(initialAmount=-7)),
            ("currency", self.body(currency="USD")),
            ("startDate", self.body(startDate=None)), ("startDate", self.body(startDate="")),
            ("startDate", self.body(startDate="2021/5/21")),
            ("startDate", self.body(startDate="2021-05/21")),
            ("startDate", self.body(startDate="2021/02/29")),
            ("endDate", self.body(endDate="27/06/2021")), ("endDate", self.body(endDate=20210627)),
            ("oneTime", self.body(oneTime="no")),
            ("interval", self.body(interval=None)), ("interval", self.body(interval="daily")),
            ("interval", self.body(interval="quarterly")), ("interval", self.body(interval=1)),
        ]
        for field, body in cases:
            with self.subTest(body=body):
                self.err("pay/authorization/initiate", body, 400, invalid(field))
        self.err("pay/authorization/initiate", self.body(startDate="2021/06/28"), 400,
                 order_error("startDate", "endDate"))
        self.err("pay/authorization/initiate", self.body(authorization=UNKNOWN_ID), 400,
                 MSG["auth_not_found"])
        self.err("pay/authorization/initiate", self.body(), 400, MSG["auth_not_found"], key=KEY2)
        a = self.ctl("GET", "authorizations")["authorizations"]
        self.assertEqual(find_by_id(a, A_ACTIVE)["amount"], None, "nothing was initiated")

    def test_initiate_on_cancelled_refused(self):
        for aid in (A_MERCHANT, A_CUSTOMER):
            with self.subTest(auth=aid):
                a = self.err("pay/authorization/initiate", self.body(aid), 400,
                             MSG["auth_cancelled"], "authorization")
                self.assertEqual((a["_id"], a["status"], a["amount"]), (aid, "cancelled", None))

    def test_cancel_then_reauth(self):
        a = self.new_auth(accounts=["64d0000000000000000000c1", "64d0000000000000000000c2"])
        self.ok("pay/authorization/initiate", self.body(a["_id"]))
        d = self.ok("pay/authorization/cancel", self.ids(a), MSG["auth_cancel"])
        self.assertEqual(list(d.keys()), ["authorization"])
        c = d["authorization"]
        self.assertEqual((c["status"], c["cancelled_by"], c["disconnect"]),
                         ("cancelled", "merchant", False))
        self.assertEqual(c["duration"]["interval"], "monthly", "the schedule is kept")
        self.err("pay/authorization/cancel", self.ids(a), 400, MSG["auth_cancelled"],
                 "authorization")
        self.err("pay/authorization/initiate", self.body(a["_id"]), 400, MSG["auth_cancelled"],
                 "authorization")
        d = self.ok("pay/authorization/reauth", dict(self.ids(a), account="64d0000000000000000000c2"),
                    MSG["auth_reauth"])
        self.assertEqual((d["authorization"]["status"], d["authorization"]["cancelled_by"]),
                         ("active", None))
        self.err("pay/authorization/reauth", dict(self.ids(a), account="64d0000000000000000000c2"),
                 400, MSG["auth_not_cancelled"], "authorization")
        self.ok("pay/authorization/initiate", self.body(a["_id"]))
        # okra-ruby also sends account to cancel
        d = self.ok("pay/authorization/cancel", dict(self.ids(a), account="64d0000000000000000000c1"))
        self.assertEqual(d["authorization"]["status"], "cancelled")

    def test_seeded_merchant_cancel_reauth(self):
        ids = {"authorization": A_MERCHANT, "customer": "64c0000000000000000000a2",
               "link": L_OPEN, "account": "64d0000000000000000000a3"}
        self.assertEqual(self.ok("pay/authorization/reauth", ids)["authorization"]["status"],
                         "active")

    def test_customer_cancel_blocks_reauth(self):
        a = self.new_auth()
        self.ok("pay/authorization/cancel", self.ids(a))
        j = self.ctl("POST", "authorizations/%s/cancel-by-customer" % a["_id"])
        c = j["authorization"]
        self.assertEqual((c["status"], c["cancelled_by"], c["disconnect"]),
                         ("cancelled", "customer", True))
        self.assertRecentIso(c["disconnected_at"])
        r = self.err("pay/authorization/reauth", dict(self.ids(a), account=a["accounts"][0]), 400,
                     MSG["auth_by_customer"], "authorization")
        self.assertEqual(r["cancelled_by"], "customer")
        self.err("pay/authorization/reauth", {"authorization": A_CUSTOMER,
                                              "customer": "64c0000000000000000000a3",
                                              "link": L_OPEN, "account": "64d0000000000000000000a4"},
                 400, MSG["auth_by_customer"], "authorization")
        self.ctl_error("POST", "authorizations/%s/cancel-by-customer" % a["_id"], None, 400,
                       "The customer has already cancelled this authorization.")
        self.ctl_error("POST", "authorizations/%s/cancel-by-customer" % UNKNOWN_ID, None, 404,
                       "Authorization not found.")
        b = self.new_auth()       # an active one the customer cancels
        self.ctl("POST", "authorizations/%s/cancel-by-customer" % b["_id"])
        self.err("pay/authorization/cancel", self.ids(b), 400, MSG["auth_cancelled"],
                 "authorization")

    def test_cancel_and_reauth_fields(self):
        a = self.new_auth(accounts=["64d0000000000000000000c1"], link=L_FIXED)
        good = dict(self.ids(a), account="64d0000000000000000000c1")
        for route in ("pay/authorization/cancel", "pay/authorization/reauth"):
            for field in ("authorization", "customer", "link"):
                for bad in (None, "x"):
                    with self.subTest(route=route, field=field, value=bad):
                        self.err(route, dict(good, **{field: bad}), 400, invalid(field))
            with self.subTest(route=route, field="account"):
                self.err(route, dict(good, account="x"), 400, invalid("account"))
            for field, other in (("customer", "64c0000000000000000000c9"), ("link", L_OPEN),
                                 ("account", "64d0000000000000000000c9"),
                                 ("authorization", UNKNOWN_ID)):
                with self.subTest(route=route, mismatch=field):
                    self.err(route, dict(good, **{field: other}), 400, MSG["auth_not_found"])
        self.err("pay/authorization/reauth", self.ids(a), 400, invalid("account"))
        self.err("pay/authorization/cancel", good, 400, MSG["auth_not_found"], key=KEY2)
        self.assertEqual(find_by_id(self.ctl("GET", "authorizations"), a["_id"])["status"],
                         "active")

    def test_list_pages(self):
        made = [self.new_auth(customer="64c0000000000000000000e%d" % (i % 3))["_id"]
                for i in range(11)]
        self.new_auth(key=KEY2)           # another owner's: never listed here
        want = made[::-1] + sorted(SEED_AUTHS, reverse=True)
        n = len(want)
        seen = []
        page = 1
        while page:
            d = self.ok("pay/authorization/list", {"page": page, "limit": 4}, MSG["auth_list"])
            self.assertEqual(list(d.keys()), ["authorizations", "pagination"])
            pg = d["pagination"]
            self.assertKeysInOrder(pg, PAGINATION_KEYS, exact=True)
            self.assertEqual((pg["totalDocs"], pg["limit"], pg["page"], pg["totalPages"],
                              pg["pagingCounter"]), (n, 4, page, math.ceil(n / 4), (page - 1) * 4 + 1))
            seen += [x["_id"] for x in d["authorizations"]]
            page = pg["nextPage"]
        self.assertEqual(seen, want)
        d = self.ok("pay/authorization/list", {"page": 9})
        self.assertEqual((d["authorizations"], d["pagination"]["hasPrevPage"],
                          d["pagination"]["nextPage"]), ([], True, None))
        for body, field in (({"page": 0}, "page"), ({"limit": "x"}, "limit")):
            self.err("pay/authorization/list", body, 400, invalid(field))
        d = self.ok("pay/authorization/list", {}, key=KEY2)
        self.assertEqual(d["pagination"]["totalDocs"], 1)

    def test_get_by_customer(self):
        mine = [self.new_auth(customer="64c0000000000000000000f1")["_id"] for _ in range(3)]
        self.new_auth(customer="64c0000000000000000000f2")
        d = self.ok("pay/authorization/getByCustomer", {"customer": "64c0000000000000000000f1"},
                    MSG["auth_list"])
        self.assertEqual([x["_id"] for x in d["authorizations"]], mine[::-1])
        self.assertEqual(d["pagination"]["totalDocs"], 3)
        d = self.ok("pay/authorization/getByCustomer", {"customer": "64c0000000000000000000f1",
                                                        "page": 2, "limit": 2})
        self.assertEqual([x["_id"] for x in d["authorizations"]], [mine[0]])
        self.assertEqual((d["pagination"]["prevPage"], d["pagination"]["hasNextPage"]), (1, False))
        d = self.ok("pay/authorization/getByCustomer", {"customer": "64c0000000000000000000a1"})
        self.assertEqual([x["_id"] for x in d["authorizations"]], [A_ACTIVE])
        d = self.ok("pay/authorization/getByCustomer", {"customer": "64c0000000000000000000ff"})
        self.assertEqual((d["authorizations"], d["pagination"]["totalPages"]), ([], 1))
        self.err("pay/authorization/getByCustomer", {}, 400, invalid("customer"))
        self.err("pay/authorization/getByCustomer", {"options": {"reference": "x"}}, 400,
                 invalid("customer"))
        self.err("pay/authorization/getByCustomer", {"customer": "64c0000000000000000000f1",
                                                     "limit": 0}, 400, invalid("limit"))

    def test_seeded_authorizations(self):
        got = {x["_id"]: x for x in self.ctl("GET", "authorizations")["authorizations"]}
        self.assertEqual(set(got), set(SEED_AUTHS))
        self.assertEqual((got[A_ACTIVE]["status"], got[A_ACTIVE]["link"]), ("active", L_FIXED))
        self.assertEqual((got[A_MERCHANT]["status"], got[A_MERCHANT]["cancelled_by"],
                          got[A_MERCHANT]["disconnect"]), ("cancelled", "merchant", False))
        self.assertEqual((got[A_CUSTOMER]["cancelled_by"], got[A_CUSTOMER]["disconnect"]),
                         ("customer", True))


# =====================================================================
# Payouts that settle (API.md 5.7, 8.12)
# =====================================================================
class T23Payouts(Base):
    def payout(self, amount, **kw):
        return self.ok("pay/payout", {"account_to_credit": ACCOUNT, "amount": amount,
                                      "currency": "NGN"}, MSG["payout"], **kw)["payout"]

    def test_fee_tiers(self):
        self.set_wallet(100000000)
        for amount, fee, text in ((1, 10.75, b'"fee":10.75'), (10000, 10.75, b'"fee":10.75'),
                                  (500000, 10.75, b'"fee":10.75'), (500001, 26.88, b'"fee":26.88'),
                                  (5000000, 26.88, b'"fee":26.88'),
                                  (5000001, 53.75, b'"fee":53.75')):
            with self.subTest(amount=amount):
                r = self.call("pay/payout", {"account_to_credit": ACCOUNT, "amount": amount})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json["data"]["payout"]["fee"], fee)
                self.assertIn(text, r.body)

    def test_get(self):
        po = self.payout(12000)
        d = self.ok("pay/payout/get", {"payout_id": po["_id"]}, MSG["payout_get"])
        self.assertEqual(list(d.keys()), ["payout"])
        self.assertKeysInOrder(d["payout"], PAYOUT_KEYS, exact=True)
        self.assertEqual(d["payout"], po)
        d = self.ok("pay/payout/get", {"payout_id": po["_id"]}, prefix="/v2/sandbox/")
        self.assertEqual(d["payout"]["env"], "production")

    def test_get_errors(self):
        po = self.payout(100)
        self.err("pay/payout/get", {}, 400, invalid("payout_id"))
        self.err("pay/payout/get", {"payout_id": po["_id"][:-1]}, 400, invalid("payout_id"))
        self.err("pay/payout/get", {"payout_id": UNKNOWN_ID}, 400, MSG["payout_not_found"])
        self.err("pay/payout/get", {"payout_id": po["_id"]}, 400, MSG["payout_not_found"], key=KEY2)
        self.err("pay/payout/get", {"payout_id": P[1]}, 400, MSG["payout_not_found"])

    def test_settle_success(self):
        po = self.payout(30000)
        self.assertEqual(self.wallet(), SEED_WALLET - 30000)
        j = self.ctl("POST", "payouts/" + po["_id"], {"status": "success"})
        self.assertEqual(list(j.keys()), ["payout", "wallet"])
        self.assertEqual(j["payout"]["status"], "success")
        self.assertEqual(j["wallet"]["amount"], SEED_WALLET - 30000)
        g = self.ok("pay/payout/get", {"payout_id": po["_id"]})["payout"]
        self.assertEqual(g["status"], "success")
        self.assertGreaterEqual(g["last_updated"], po["last_updated"])
        self.assertEqual(g["created_at"], po["created_at"])
        self.assertEqual(self.wallet(), SEED_WALLET - 30000)

    def test_settle_failed_returns_money(self):
        po = self.payout(45000)
        j = self.ctl("POST", "payouts/" + po["_id"], {"status": "failed"})
        self.assertEqual((j["payout"]["status"], j["wallet"]["amount"]), ("failed", SEED_WALLET))
        self.assertEqual(self.wallet(), SEED_WALLET)
        self.assertEqual(self.ok("pay/payout/get", {"payout_id": po["_id"]})["payout"]["status"],
                         "failed")
        # the money is there again: a payout of the whole wallet goes through
        self.set_wallet(45000)
        self.payout(45000)

    def test_settle_errors(self):
        po = self.payout(100)
        self.ctl_error("POST", "payouts/" + UNKNOWN_ID, {"status": "success"}, 404,
                       "Payout not found.")
        for body in ({}, {"status": "completed"}, {"status": "initiated"}, {"status": 1}):
            with self.subTest(body=body):
                self.ctl_error("POST", "payouts/" + po["_id"], body, 400, invalid("status"))
        self.ctl("POST", "payouts/" + po["_id"], {"status": "failed"})
        for st in ("success", "failed"):
            self.ctl_error("POST", "payouts/" + po["_id"], {"status": st}, 400,
                           "The payout has already settled.")
        self.ctl_error("POST", "payouts/" + PO_DONE, {"status": "failed"}, 400,
                       "The payout has already settled.")
        self.assertEqual(self.wallet(), SEED_WALLET)

    def test_nuban_rules(self):
        good = {"nuban": "1329137339", "bank": "5d6fe57a4099cc4b210bbec0", "amount": 100}
        for body, field in ((dict(good, nuban="132913733"), "nuban"),
                            (dict(good, nuban="13291373390"), "nuban"),
                            (dict(good, nuban="13291373a9"), "nuban"),
                            (dict(good, nuban=1329137339), "nuban"),
                            ({"bank": good["bank"], "amount": 100}, "account_to_credit"),
                            (dict(good, bank=None), "bank"), (dict(good, bank="gtb"), "bank"),
                            (dict(good, currency="USD"), "currency")):
            with self.subTest(body=body):
                self.err("pay/payout", body, 400, invalid(field))
        self.assertEqual(self.wallet(), SEED_WALLET)

    def test_listed_with_seeded(self):
        po = self.payout(700, prefix="/v2/sandbox/")
        lst = self.ctl("GET", "payouts")["payouts"]
        self.assertEqual([x["_id"] for x in lst], sorted(SEED_PAYOUTS) + [po["_id"]])
        self.assertEqual(find_by_id(lst, po["_id"])["env"], "production-sandbox")
        seeded = self.ok("pay/payout/get", {"payout_id": PO_INIT})["payout"]
        self.assertEqual((seeded["status"], seeded["amount"], seeded["account_to_credit"]),
                         ("initiated", 25000, "64d0000000000000000000b1"))
        done = self.ok("pay/payout/get", {"payout_id": PO_DONE})["payout"]
        self.assertEqual((done["status"], done["nuban_to_credit"]),
                         ("success", {"nuban": "1329137339", "bank": "5d6fe57a4099cc4b210bbec0"}))
        # a seeded payout left the wallet alone; failing it gives its amount to the wallet
        self.assertEqual(self.wallet(), SEED_WALLET - 700)
        self.ctl("POST", "payouts/" + PO_INIT, {"status": "failed"})
        self.assertEqual(self.wallet(), SEED_WALLET - 700 + 25000)


# =====================================================================
# Payments by customer (API.md 5.8)
# =====================================================================
class T24ByCustomer(Base):
    CUST = "64c0000000000000000000e7"

    def test_seeded_customer(self):
        for route in ("pay/get/", "pay/get"):
            with self.subTest(route=route):
                d = self.ok(route, {"customer_id": "64c000000000000000000001"}, MSG["list"])
                self.assertEqual(list(d.keys()), ["payments", "pagination"])
                self.assertEqual([p["id"] for p in d["payments"]], [P[1]])
                self.assertEqual(d["payments"][0], self.ok("pay/get/id", {"payment_id": P[1]})["payment"])
                self.assertEqual(d["pagination"]["totalDocs"], 1)

    def test_pages(self):
        made = [self.new_payment("success", 100 + i, customer=self.CUST) for i in range(7)]
        self.new_payment("success", 5, customer="64c0000000000000000000e8")
        seen, page = [], 1
        while page:
            d = self.ok("pay/get/", {"customer_id": self.CUST, "page": page, "limit": 3})
            pg = d["pagination"]
            self.assertKeysInOrder(pg, PAGINATION_KEYS, exact=True)
            self.assertEqual((pg["totalDocs"], pg["totalPages"], pg["page"], pg["pagingCounter"]),
                             (7, 3, page, (page - 1) * 3 + 1))
            seen += [p["id"] for p in d["payments"]]
            page = pg["nextPage"]
        self.assertEqual(seen, made[::-1])
        d = self.ok("pay/get", {"customer_id": self.CUST, "page": 4, "limit": 3})
        self.assertEqual((d["payments"], d["pagination"]["prevPage"]), ([], 3))

    def test_unknown_customer_and_other_owner(self):
        d = self.ok("pay/get/", {"customer_id": "64c0000000000000000000ee"})
        self.assertEqual(d["payments"], [])
        self.assertEqual((d["pagination"]["totalDocs"], d["pagination"]["totalPages"],
                          d["pagination"]["hasNextPage"]), (0, 1, False))
        d = self.ok("pay/get/", {"customer_id": "64c000000000000000000001"}, key=KEY2)
        self.assertEqual(d["payments"], [])

    def test_validation(self):
        for route in ("pay/get/", "pay/get"):
            for body, field in (({}, "customer_id"), ({"customer_id": "64c0"}, "customer_id"),
                                ({"customer_id": 5}, "customer_id"),
                                ({"payment_id": P[1]}, "customer_id"),
                                ({"customer_id": self.CUST, "page": 0}, "page"),
                                ({"customer_id": self.CUST, "limit": -1}, "limit")):
                with self.subTest(route=route, body=body):
                    self.err(route, body, 400, invalid(field))

    def test_link_and_bulk_payments_included(self):
        p = self.ctl("POST", "links/%s/pay" % L_FIXED, {"status": "success",
                                                        "customer": self.CUST})["payment"]
        d = self.ok("pay/get/", {"customer_id": self.CUST})
        self.assertEqual([x["id"] for x in d["payments"]], [p["id"]])
        self.assertEqual(d["payments"][0]["source"], "link")


# =====================================================================
# pay/list paging (API.md 5.6)
# =====================================================================
class T25ListPaging(Base):
    def walk(self, limit, route="pay/list", body=None):
        seen, page, pages = [], 1, 0
        while page:
            d = self.ok(route, dict(body or {}, page=page, limit=limit))
            pg = d["pagination"]
            total = pg["totalDocs"]
            self.assertEqual(pg, {"totalDocs": total, "limit": min(limit, 100), "page": page,
                                  "totalPages": max(1, math.ceil(total / min(limit, 100))),
                                  "pagingCounter": (page - 1) * min(limit, 100) + 1,
                                  "hasPrevPage": page > 1, "prevPage": page - 1 if page > 1 else None,
                                  "hasNextPage": pg["nextPage"] is not None,
                                  "nextPage": pg["nextPage"]})
            self.assertLessEqual(len(d["payments"]), min(limit, 100))
            seen += [p["id"] for p in d["payments"]]
            page = pg["nextPage"]
            pages += 1
        return seen, pages

    def test_every_limit_sees_each_payment_once(self):
        for i in range(9):
            self.new_payment("success", 500 + i)       # many within one millisecond
        everything = [p["id"] for p in self.ok("pay/list", {"limit": 100})["payments"]]
        n = len(SEED_PAYMENTS) + 9
        self.assertEqual(len(everything), n)
        self.assertEqual(len(set(everything)), n)
        for limit in list(range(1, n + 2)) + [100, 500]:
            with self.subTest(limit=limit):
                seen, pages = self.walk(limit)
                self.assertEqual(seen, everything)
                self.assertEqual(pages, math.ceil(n / min(limit, 100)))

    def test_newest_first_is_reverse_creation_order(self):
        made = [self.new_payment("pending", 1000 + i) for i in range(12)]
        state = [p["id"] for o in self.ctl("GET", "state")["owners"] if KEY in o["keys"]
                 for p in o["payments"]]
        listed = [p["id"] for p in self.ok("pay/list", {"limit": 100})["payments"]]
        self.assertEqual(listed, state[::-1])
        self.assertEqual(listed[:12], made[::-1])
        self.assertEqual(listed, [p["id"] for p in self.ok("pay/list", {"limit": 100})["payments"]])

    def test_edges(self):
        n = len(SEED_PAYMENTS)
        d = self.ok("pay/list", {"page": 1, "limit": n})
        self.assertEqual((len(d["payments"]), d["pagination"]["totalPages"],
                          d["pagination"]["hasNextPage"], d["pagination"]["nextPage"]),
                         (n, 1, False, None))
        d = self.ok("pay/list", {"page": 2, "limit": n - 1})
        self.assertEqual(len(d["payments"]), 1)
        self.assertEqual((d["pagination"]["page"], d["pagination"]["totalPages"],
                          d["pagination"]["pagingCounter"], d["pagination"]["nextPage"]),
                         (2, 2, n, None))
        d = self.ok("pay/list", {"page": 3, "limit": n - 1})
        self.assertEqual((d["payments"], d["pagination"]["hasPrevPage"],
                          d["pagination"]["prevPage"]), ([], True, 2))
        big = 10 ** 15
        d = self.ok("pay/list", {"page": big, "limit": 100})
        self.assertEqual((d["payments"], d["pagination"]["page"],
                          d["pagination"]["pagingCounter"]), ([], big, (big - 1) * 100 + 1))
        self.err("pay/list", {"page": big + 1}, 400, invalid("page"))
        # form bodies carry page and limit as text
        r = self.call("pay/list", None, content_type="application/x-www-form-urlencoded",
                      raw_body=b"page=2&limit=5")
        self.assertEqual((r.json["data"]["pagination"]["page"],
                          r.json["data"]["pagination"]["limit"]), (2, 5))


# =====================================================================
# Bulk payments (API.md 5.11, 8.14)
# =====================================================================
class T26Bulk(Base):
    ROWS = (b"64d000000000000000000011,64d000000000000000000021,5000,NGN,https://example.com/cb\r\n"
            b"64d000000000000000000012,64d000000000000000000022,700,NGN,\r\n")

    def test_upload(self):
        before = self.total_payments()
        r = self.bulk_call(CSV_HEADER + self.ROWS, filename="salaries.csv")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["message"], MSG["bulk"])
        self.assertEqual(list(r.json["data"].keys()), ["bulkfile"])
        b = r.json["data"]["bulkfile"]
        self.assertKeysInOrder(b, BULKFILE_KEYS, exact=True)
        self.assertRecentId(b["_id"])
        self.assertEqual((b["file_name"], b["product"], b["status"], b["rows"], b["env"]),
                         ("salaries.csv", "initiate_payment", "processed", 2, "production"))
        self.assertRegex(b["owner"], HEX24)
        self.assertRegex(b["user"], HEX24)
        self.assertNotEqual(b["user"], b["owner"])
        self.assertEqual(len(b["payments"]), 2)
        want = [("64d000000000000000000011", "64d000000000000000000021", 5000),
                ("64d000000000000000000012", "64d000000000000000000022", 700)]
        for pid, (debit, credit, amount) in zip(b["payments"], want):
            p = self.ok("pay/get/id", {"payment_id": pid})["payment"]
            self.assertEqual((p["debit_account"], p["credit_account"], p["amount"], p["currency"],
                              p["status"], p["source"], p["owner"], p["link"], p["schedule"]),
                             (debit, credit, amount, "NGN", "initialize", "bulk", b["owner"], None,
                              None))
            self.assertEqual(self.verify(pid)["response_status"], "pending")
        self.assertEqual(self.total_payments(), before + 2)
        listed = self.ok("pay/list", {"limit": 2})["payments"]
        self.assertEqual([p["id"] for p in listed], b["payments"][::-1])
        self.assertEqual(self.ctl("GET", "bulkfiles")["bulkfiles"], [b])
        # each row is an ordinary payment: cancel one
        self.ok("pay/cancel", {"payment_id": b["payments"][0]}, MSG["cancel"])

    def test_csv_variants(self):
        # LF line ends, a byte order mark, quoted fields, blanks, reordered columns, blank lines
        csv = (b"\xef\xbb\xbfamount, currency,account_to_credit,account_to_debit,callback_url\n"
               b"\n"
               b"\"1200\",NGN, 64d000000000000000000023 ,\"64d000000000000000000013\",\"http://x/a,b\"\n"
               b"  \n"
               b"99,NGN,64d000000000000000000024,64d000000000000000000014,")
        r = self.bulk_call(csv, prefix="/v2/sandbox/")
        self.assertEqual(r.status, 200, r)
        b = r.json["data"]["bulkfile"]
        self.assertEqual((b["rows"], b["env"]), (2, "production-sandbox"))
        p = self.ok("pay/get/id", {"payment_id": b["payments"][0]})["payment"]
        self.assertEqual((p["amount"], p["debit_account"], p["credit_account"], p["env"]),
                         (1200, "64d000000000000000000013", "64d000000000000000000023",
                          "production-sandbox"))
        self.assertEqual(self.ok("pay/get/id", {"payment_id": b["payments"][1]})["payment"]["amount"], 99)

    def test_rejections_name_the_row(self):
        good = b"64d000000000000000000011,64d000000000000000000021,5000,NGN,\n"
        cases = [
            (b"x,64d000000000000000000021,5000,NGN,\n", "Invalid or missing account_to_debit in row 2 of the file."),
            (b"64d000000000000000000011,,5000,NGN,\n", "Invalid or missing account_to_credit in row 2 of the file."),
            (b"64d000000000000000000011,64D000000000000000000021,5000,NGN,\n", "Invalid or missing account_to_credit in row 2 of the file."),
            (b"64d000000000000000000011,64d000000000000000000021,0,NGN,\n", "Invalid or missing amount in row 2 of the file."),
            (b"64d000000000000000000011,64d000000000000000000021,-5,NGN,\n", "Invalid or missing amount in row 2 of the file."),
            (b"64d000000000000000000011,64d000000000000000000021,12.5,NGN,\n", "Invalid or missing amount in row 2 of the file."),
            (b"64d000000000000000000011,64d000000000000000000021,1e3,NGN,\n", "Invalid or missing amount in row 2 of the file."),
            (b"64d000000000000000000011,64d000000000000000000021,,NGN,\n", "Invalid or missing amount in row 2 of the file."),
            (b"64d000000000000000000011,64d000000000000000000021,5000,USD,\n", "Invalid or missing currency in row 2 of the file."),
            (b"64d000000000000000000011,64d000000000000000000021,5000,,\n", "Invalid or missing currency in row 2 of the file."),
            (b"64d000000000000000000011,64d000000000000000000021,5000,NGN,ftp://x\n", "Invalid or missing callback_url in row 2 of the file."),
            (b"64d000000000000000000011,64d000000000000000000021,5000,NGN\n", "Row 2 of the file does not have 5 columns."),
            (b"64d000000000000000000011,64d000000000000000000021,5000,NGN,,\n", "Row 2 of the file does not have 5 columns."),
        ]
        before = self.total_payments()
        for row, message in cases:
            with self.subTest(row=row):
                r = self.bulk_call(CSV_HEADER + good + row + good)
                self.check_err(r, 400, message)
        for csv, message in (
                (b"", MSG["bulk_header"]), (CSV_HEADER, MSG["bulk_empty"]),
                (CSV_HEADER + b"\r\n\r\n", MSG["bulk_empty"]),
                (b"account_to_debit,account_to_credit,amount,currency\n" + good, MSG["bulk_header"]),
                (b"debit,credit,amount,currency,callback_url\n" + good, MSG["bulk_header"]),
                (good + good, MSG["bulk_header"]),
                (CSV_HEADER + b"\"64d000000000000000000011,64d000000000000000000021,5000,NGN,\n",
                 invalid("file"))):
            with self.subTest(csv=csv):
                self.check_err(self.bulk_call(csv), 400, message)
        self.check_err(self.bulk_call(None), 400, invalid("file"))
        self.check_err(self.bulk_call(CSV_HEADER + good, product=None), 400, invalid("product"))
        self.check_err(self.bulk_call(CSV_HEADER + good, product="payout"), 400, invalid("product"))
        # the file must be a file part of a multipart body
        self.err("bulkfiles/initiate", {"product": "initiate_payment",
                                        "file": (CSV_HEADER + good).decode()}, 400, invalid("file"))
        body, ctype = sb.multipart([("product", "initiate_payment"),
                                    ("file", (CSV_HEADER + good).decode())])
        self.check_err(self.call("bulkfiles/initiate", None, raw_body=body, content_type=ctype),
                       400, invalid("file"))
        r = self.call("bulkfiles/initiate", None, raw_body=b"--x\r\nnonsense",
                      content_type="multipart/form-data")
        self.check_err(r, 400, MSG["payload"])
        self.assertEqual(self.total_payments(), before)
        self.assertEqual(self.ctl("GET", "bulkfiles")["bulkfiles"], [])

    def test_idempotent_replay(self):
        body, ctype = sb.multipart([("product", "initiate_payment")],
                                   [("file", "b.csv", "text/csv", CSV_HEADER + self.ROWS)])
        a = self.call("bulkfiles/initiate", None, raw_body=body, content_type=ctype, idem="bulk-1")
        self.assertEqual(a.status, 200, a)
        b = self.call("bulkfiles/initiate", None, raw_body=body, content_type=ctype, idem="bulk-1")
        self.assertEqual((b.status, b.body), (200, a.body))
        self.assertEqual(self.total_payments(), len(SEED_PAYMENTS) + 2)
        self.assertEqual(len(self.ctl("GET", "bulkfiles")["bulkfiles"]), 1)
        self.assertEqual(self.counters()["idempotent_replays"], 1)
        other, _ = sb.multipart([("product", "initiate_payment")],
                                [("file", "c.csv", "text/csv", CSV_HEADER + self.ROWS)])
        r = self.call("bulkfiles/initiate", None, raw_body=other, content_type=ctype, idem="bulk-1")
        self.check_err(r, 422, MSG["idem_body"])

    def test_after_status_fault_then_replay(self):
        self.fault(kind="after_status", route="bulkfiles/initiate", status=502)
        body, ctype = sb.multipart([("product", "initiate_payment")],
                                   [("file", "b.csv", "text/csv", CSV_HEADER + self.ROWS)])
        a = self.call("bulkfiles/initiate", None, raw_body=body, content_type=ctype, idem="bulk-2")
        self.assertEqual(a.status, 502)
        self.assertEqual(self.total_payments(), len(SEED_PAYMENTS) + 2, "it was carried out")
        b = self.call("bulkfiles/initiate", None, raw_body=body, content_type=ctype, idem="bulk-2")
        self.assertEqual(b.status, 200, b)
        self.assertEqual(self.total_payments(), len(SEED_PAYMENTS) + 2)


# =====================================================================
# The new routes: auth, env, faults, counters, idempotency, reset
# =====================================================================
class T27NewRoutes(Base):
    # route -> a body it accepts (against the seed)
    GOOD = {
        "pay/link/create": {"name": "Faulty", "amount": 1000},
        "pay/authorization/initiate": {"authorization": A_ACTIVE, "amount": 100,
                                       "initialAmount": 100, "startDate": "2030-01-01",
                                       "interval": "weekly"},
        "pay/authorization/cancel": {"authorization": A_ACTIVE, "customer": "64c0000000000000000000a1",
                                     "link": L_FIXED},
        "pay/authorization/reauth": {"authorization": A_MERCHANT, "customer": "64c0000000000000000000a2",
                                     "link": L_OPEN, "account": "64d0000000000000000000a2"},
        "pay/authorization/list": {"limit": 2},
        "pay/authorization/getByCustomer": {"customer": "64c0000000000000000000a1"},
        "pay/payout/get": {"payout_id": PO_INIT},
        "pay/get/": {"customer_id": "64c000000000000000000001"},
        "pay/get": {"customer_id": "64c000000000000000000001"},
    }

    def test_every_new_route_answers_under_both_prefixes(self):
        for route, body in self.GOOD.items():
            for prefix in ("/v2/", "/v2/sandbox/"):
                with self.subTest(route=prefix + route):
                    self.api.control("POST", "reset")
                    self.ok(route, body, prefix=prefix)
        r = self.bulk_call(CSV_HEADER + T26Bulk.ROWS, prefix="/v2/sandbox/")
        self.assertEqual(r.status, 200, r)

    def test_env_follows_prefix(self):
        d = self.ok("pay/link/create", {"name": "E", "amount": 100}, prefix="/v2/sandbox/")
        self.assertEqual(d["env"], "production-sandbox")
        d = self.ok("pay/payout", {"account_to_credit": ACCOUNT, "amount": 100},
                    prefix="/v2/sandbox/")
        self.assertEqual(d["payout"]["env"], "production-sandbox")

    def test_status_fault_executes_nothing(self):
        cases = [
            ("pay/link/create", lambda: len(self.ctl("GET", "links")["links"])),
            ("pay/authorization/initiate",
             lambda: find_by_id(self.ctl("GET", "authorizations"), A_ACTIVE)["amount"]),
            ("pay/authorization/cancel",
             lambda: find_by_id(self.ctl("GET", "authorizations"), A_ACTIVE)["status"]),
        ]
        for route, probe in cases:
            with self.subTest(route=route):
                before = probe()
                self.fault(kind="status", status=503, route=route)
                r = self.call(route, self.GOOD[route])
                self.assertEqual(r.status, 503, r)
                self.assertEqual(probe(), before)
                self.ok(route, self.GOOD[route])      # the fault is used up
                self.assertNotEqual(probe(), before)
        self.fault(kind="timeout503", route="bulkfiles/initiate")
        self.check_err(self.bulk_call(CSV_HEADER + T26Bulk.ROWS), 503, MSG["timeout503"])
        self.assertEqual(self.total_payments(), len(SEED_PAYMENTS))

    def test_faults_match_only_their_route(self):
        self.fault(kind="status", status=500, route="pay/authorization/list", count=2)
        self.ok("pay/authorization/getByCustomer", self.GOOD["pay/authorization/getByCustomer"])
        self.ok("pay/list", {})
        self.assertEqual(self.call("pay/authorization/list", {}).status, 500)
        self.fault(kind="html", route="pay/get")       # an alias arms the route
        self.assertEqual(self.call("pay/get/", self.GOOD["pay/get/"]).status, 502)
        r = self.api.control("POST", "faults", {"kind": "status", "route": "pay/authorization/getByOptions"})
        self.assertEqual(r.status, 400)

    def test_wire_faults_on_new_routes(self):
        normal = self.call("pay/payout/get", self.GOOD["pay/payout/get"])
        self.fault(kind="truncate", bytes=15, route="pay/payout/get")
        r = sb.api_raw(PORT, KEY, "pay/payout/get", self.GOOD["pay/payout/get"])
        self.assertEqual((r.status, r.content_length, r.body), (200, len(normal.body), normal.body[:15]))
        self.fault(kind="delay", ms=400, route="pay/link/create")
        r = self.call("pay/link/create", self.GOOD["pay/link/create"])
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(r.elapsed, 0.39)
        self.fault(kind="size", bytes=5000, route="pay/authorization/list")
        r = self.call("pay/authorization/list", {})
        self.assertEqual((r.status, len(r.body), r.json["message"]), (200, 5000, MSG["auth_list"]))
        self.fault(kind="reset", route="pay/get/")
        r = sb.api_raw(PORT, KEY, "pay/get/", self.GOOD["pay/get/"])
        self.assertTrue(r.end == "reset" or len(r.body) < (r.content_length or 1), r)
        self.fault(kind="after_drop", route="pay/authorization/cancel")
        r = sb.api_raw(PORT, KEY, "pay/authorization/cancel", self.GOOD["pay/authorization/cancel"])
        self.assertEqual(r.data, b"")
        self.assertEqual(find_by_id(self.ctl("GET", "authorizations"), A_ACTIVE)["status"],
                         "cancelled", "after_drop carries the operation out")

    def test_counters(self):
        self.ok("pay/link/create", self.GOOD["pay/link/create"])
        self.err("pay/link/create", {}, 400, invalid("name"))
        self.ok("pay/get", self.GOOD["pay/get"])
        self.ok("pay/authorization/list", {}, prefix="/v2/sandbox/")
        self.err("pay/payout/get", {}, 401, MSG["auth"], key=None)
        self.bulk_call(CSV_HEADER + T26Bulk.ROWS)
        self.assertEqual(self.counters()["requests"], {
            "/v2/pay/link/create": {"200": 1, "400": 1},
            "/v2/pay/get": {"200": 1},
            "/v2/sandbox/pay/authorization/list": {"200": 1},
            "/v2/pay/payout/get": {"401": 1},
            "/v2/bulkfiles/initiate": {"200": 1},
        })

    def test_idempotency_replays(self):
        writes = [
            ("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 900, "type": "recurring",
                              "schedule": {"interval": "daily"}},
             lambda: self.total_payments()),
            ("pay/payout", {"account_to_credit": ACCOUNT, "amount": 900},
             lambda: len(self.ctl("GET", "payouts")["payouts"])),
            ("pay/link/create", {"name": "Idem", "amount": 900},
             lambda: len(self.ctl("GET", "links")["links"])),
            ("pay/authorization/initiate", self.GOOD["pay/authorization/initiate"],
             lambda: find_by_id(self.ctl("GET", "authorizations"), A_ACTIVE)["last_updated"]),
        ]
        for n, (route, body, probe) in enumerate(writes, 1):
            with self.subTest(route=route):
                a = self.call(route, body, idem="new-route-%d" % n)
                self.assertEqual(a.status, 200, a)
                after = probe()
                time.sleep(0.005)
                b = self.call(route, body, idem="new-route-%d" % n)
                self.assertEqual((b.status, b.body), (200, a.body))
                self.assertEqual(probe(), after, "the replay executed nothing")
                self.check_err(self.call(route, dict(body, amount=901), idem="new-route-%d" % n),
                               422, MSG["idem_body"])
        self.assertEqual(self.counters()["idempotent_replays"], len(writes))

    def test_reset_restores_new_state(self):
        self.ok("pay/link/create", {"name": "Gone", "amount": 100})
        self.ctl("POST", "links/%s/pay" % L_FIXED, {"status": "success"})
        self.new_auth()
        self.ok("pay/authorization/cancel", self.GOOD["pay/authorization/cancel"])
        self.ok("pay/authorization/reauth", self.GOOD["pay/authorization/reauth"])
        self.ctl("POST", "authorizations/%s/cancel-by-customer" % A_MERCHANT)
        self.ok("pay/payout", {"account_to_credit": ACCOUNT, "amount": 100})
        self.ctl("POST", "payouts/" + PO_INIT, {"status": "failed"})
        self.bulk_call(CSV_HEADER + T26Bulk.ROWS)
        self.api.control("POST", "reset")
        links = self.ctl("GET", "links")["links"]
        self.assertEqual(sorted(x["_id"] for x in links), sorted(SEED_LINKS))
        self.assertEqual(find_by_id(links, L_FIXED)["count"], 0)
        auths = self.ctl("GET", "authorizations")["authorizations"]
        self.assertEqual([(x["_id"], x["status"], x["cancelled_by"]) for x in auths],
                         [(A_ACTIVE, "active", None), (A_MERCHANT, "cancelled", "merchant"),
                          (A_CUSTOMER, "cancelled", "customer")])
        payouts = self.ctl("GET", "payouts")["payouts"]
        self.assertEqual([(x["_id"], x["status"]) for x in payouts],
                         [(PO_INIT, "initiated"), (PO_DONE, "success")])
        self.assertEqual(self.ctl("GET", "bulkfiles")["bulkfiles"], [])
        self.assertEqual(self.total_payments(), len(SEED_PAYMENTS))
        self.assertEqual(self.wallet(), SEED_WALLET)


class T28NewSeeds(unittest.TestCase):
    """The seed file's links, authorizations and payouts (SEEDS.md)."""

    def spawn_with(self, seed):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(seed, f)
        self.addCleanup(os.unlink, f.name)
        s = sb.Sandbox(BIN, "-q", "--key", "ka", "--key", "kb", "--seed", f.name)
        self.addCleanup(s.stop)
        return s

    def test_defaults_and_key(self):
        s = self.spawn_with({"links": [{"name": "Kb link", "amount": None, "key": "kb",
                                        "env": "production-sandbox"}],
                             "authorizations": [{"customer": "64c0000000000000000000aa",
                                                 "accounts": [ACCOUNT], "key": "kb"}],
                             "payouts": [{"amount": 100, "nuban": "0123456789",
                                          "bank": "5d6fe57a4099cc4b210bbec0", "key": "kb"}]})
        api = sb.Api(s.port, "kb")
        links = api.control("GET", "links").json["links"]
        self.assertEqual(len(links), 1)
        self.assertRegex(links[0]["_id"], HEX24)
        self.assertEqual((links[0]["env"], links[0]["amount"]), ("production-sandbox", None))
        r = api.call("pay/authorization/list", {})
        self.assertEqual(r.json["data"]["pagination"]["totalDocs"], 1)
        self.assertEqual(sb.Api(s.port, "ka").call("pay/authorization/list", {}).json["data"]
                         ["pagination"]["totalDocs"], 0)
        po = api.control("GET", "payouts").json["payouts"][0]
        self.assertEqual((po["status"], po["nuban_to_credit"]["nuban"]), ("initiated", "0123456789"))
        self.assertEqual(api.call("pay/payout/get", {"payout_id": po["_id"]}).status, 200)

    def test_bad_entries_stop_the_start(self):
        import subprocess
        import tempfile
        for seed in ({"links": {}}, {"links": [{"amount": 100}]},
                     {"links": [{"name": "x", "amount": 50}]},
                     {"links": [{"name": "x", "amount": 100, "short_url": "a b"}]},
                     {"links": [{"name": "x", "amount": 100, "short_url": "dup"},
                                {"name": "y", "amount": 100, "short_url": "dup"}]},
                     {"authorizations": [{"customer": "64c0000000000000000000aa"}]},
                     {"authorizations": [{"customer": "64c0000000000000000000aa",
                                          "accounts": [ACCOUNT], "key": "nokey"}]},
                     {"payouts": [{"amount": 0, "account_to_credit": ACCOUNT}]},
                     {"payouts": [{"amount": 10, "nuban": "1"}]},
                     {"payouts": [{"amount": 10, "account_to_credit": ACCOUNT, "status": "sent"}]},
                     {"payouts": [{"id": PO_INIT, "amount": 10, "account_to_credit": ACCOUNT},
                                  {"id": PO_INIT, "amount": 10, "account_to_credit": ACCOUNT}]}):
            with self.subTest(seed=seed):
                with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
                    json.dump(seed, f)
                    f.flush()
                    try:
                        r = subprocess.run([BIN, "--port", "0", "-q", "--seed", f.name],
                                           capture_output=True, timeout=5)
                        rc = r.returncode
                    except subprocess.TimeoutExpired:
                        rc = "still running"
                    self.assertEqual(rc, 1, r.stderr if rc != "still running" else rc)
                    self.assertIn(b"seed:", r.stderr)


# =====================================================================
# runner: TAP output
# =====================================================================
class Tap:
    """Runs tests one by one and prints TAP; failing subtests fail their test once."""

    def __init__(self):
        self.n = 0
        self.passed = 0
        self.failed = []

    def run(self, test):
        name = "%s.%s" % (type(test).__name__, test._testMethodName)
        res = unittest.TestResult()
        test(res)
        self.n += 1
        if res.skipped and not (res.errors or res.failures):
            self.passed += 1
            print("ok %d - %s # SKIP %s" % (self.n, name, res.skipped[0][1]), flush=True)
            return
        problems = res.errors + res.failures
        if not problems:
            self.passed += 1
            print("ok %d - %s" % (self.n, name), flush=True)
            return
        self.failed.append(name)
        print("not ok %d - %s" % (self.n, name), flush=True)
        for case, tb in problems[:4]:
            if case is not test:
                print("#   in subtest %s" % case._subDescription(), flush=True)
            lines = tb.rstrip().splitlines()
            keep = [ln for ln in lines if not ln.startswith("Traceback")]
            for ln in keep[-14:]:
                print("#   " + ln, flush=True)
        if len(problems) > 4:
            print("#   ... and %d more failing subtests" % (len(problems) - 4), flush=True)


def main(argv):
    loader = unittest.TestLoader()
    tests = []
    mod = sys.modules[__name__]
    for name in sorted(dir(mod)):
        obj = getattr(mod, name)
        if isinstance(obj, type) and issubclass(obj, unittest.TestCase) and obj not in (Base,):
            for t in loader.loadTestsFromTestCase(obj):
                tests.append(t)
    if argv:
        tests = [t for t in tests if any(a in t.id() for a in argv)]
    print("1..%d" % len(tests), flush=True)
    tap = Tap()
    t0 = time.monotonic()
    for t in tests:
        tap.run(t)
    print("# %d tests in %.1f s" % (tap.n, time.monotonic() - t0))
    for n in tap.failed:
        print("# FAILED: %s" % n)
    print("SUMMARY passed=%d failed=%d" % (tap.passed, len(tap.failed)), flush=True)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
