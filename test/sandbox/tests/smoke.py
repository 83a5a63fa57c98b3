#!/usr/bin/env python3
"""Drives one okra-sandbox through every route (links, authorizations, payouts,
bulk files included), error path, control call and fault kind, with short
waits; used by run.sh for the valgrind run.

    smoke.py PORT KEY1 KEY2 [CA-FILE]

With CA-FILE, the sandbox is spoken to over HTTPS, trusting that CA.

It checks status codes only (the full assertions live in test_sandbox.py) and
exits non-zero if any of them is not what the contract says.
"""

import http.server
import ssl
import sys
import threading
import time

import sbclient as sb

port, key1, key2 = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=sys.argv[4]) if len(sys.argv) > 4 else None
api = sb.Api(port, key1, ctx)
P = {n: "64a0000000000000000000%02x" % n for n in range(1, 0x16)}
ACC = "64d000000000000000000001"
problems = []


def expect(what, got, want):
    if got != want:
        problems.append("%s: got %r, want %r" % (what, got, want))


def call(route, body, want, **kw):
    try:
        r = api.call(route, body, timeout=60, **kw)
    except Exception as e:      # noqa: BLE001 - report and go on
        problems.append("%s %r: %r" % (route, body, e))
        return None
    expect("%s %r" % (route, body), r.status, want)
    return r


def ctl(method, path, body=None, want=200):
    r = api.control(method, path, body, timeout=60)
    expect("%s /_sandbox/%s" % (method, path), r.status, want)
    return r


def fault(**spec):
    ctl("POST", "faults", spec)


def raw(route, body):
    try:
        return sb.api_raw(port, key1, route, body, timeout=60, tls_ctx=ctx)
    except Exception as e:      # noqa: BLE001
        problems.append("raw %s: %r" % (route, e))
        return None


ctl("POST", "reset")
for prefix in ("/v2/", "/v2/sandbox/"):
    call("pay/verify", {"payment_id": P[1]}, 200, prefix=prefix)
    call("pay/get/id", {"payment_id": P[1]}, 200, prefix=prefix)
    call("pay/get/Id", {"payment_id": P[1]}, 200, prefix=prefix)
    call("pay/list", {"page": 1, "limit": 5}, 200, prefix=prefix)
    r = call("pay/initiate", {"account_to_debit": ACC, "amount": 100, "currency": "NGN"}, 200,
             prefix=prefix)
    if r is not None:
        call("pay/cancel", {"payment_id": r.json["data"]["payment"]["id"]}, 200, prefix=prefix)
    call("pay/payout", {"account_to_credit": ACC, "amount": 100, "currency": "NGN"}, 200,
         prefix=prefix)
    call("pay/payout", {"nuban": "1329137339", "bank": "5d6fe57a4099cc4b210bbec0", "amount": 50},
         200, prefix=prefix)

# links, authorizations, payouts, payments by customer, bulk files (every new
# route, its errors and its control calls)
L_FIXED, L_OPEN = "651000000000000000000001", "651000000000000000000002"
A_ACTIVE, A_MERCHANT, A_CUSTOMER = ("652000000000000000000001", "652000000000000000000002",
                                    "652000000000000000000003")
PO_INIT = "653000000000000000000001"
CSV = (b"account_to_debit,account_to_credit,amount,currency,callback_url\r\n"
       b"64d000000000000000000011,64d000000000000000000021,5000,NGN,https://x/cb\r\n"
       b"\"64d000000000000000000012\",64d000000000000000000022,700,NGN,\r\n")
for prefix in ("/v2/", "/v2/sandbox/"):
    call("pay/initiate", {"account_to_debit": ACC, "amount": 100, "type": "recurring",
                          "schedule": {"interval": "monthly", "startDate": "2025-01-01"}}, 200,
         prefix=prefix)
    r = call("pay/link/create", {"name": "Smoke", "amount": None, "type": "recurring",
                                 "schedule": {"interval": "weekly"}, "note": "n"}, 200,
             prefix=prefix)
    if r is not None:
        ctl("POST", "links/%s/pay" % r.json["data"]["_id"], {"status": "success", "amount": 150})
    call("pay/get/", {"customer_id": "64c000000000000000000001", "page": 1, "limit": 5}, 200,
         prefix=prefix)
    call("pay/get", {"customer_id": "64c000000000000000000001"}, 200, prefix=prefix)
    call("pay/authorization/list", {"page": 1, "limit": 2}, 200, prefix=prefix)
    call("pay/authorization/getByCustomer", {"customer": "64c0000000000000000000a1"}, 200,
         prefix=prefix)
    call("pay/payout/get", {"payout_id": PO_INIT}, 200, prefix=prefix)
    body, ctype = sb.multipart([("product", "initiate_payment")],
                               [("file", "smoke.csv", "text/csv", CSV)])
    call("bulkfiles/initiate", None, 200, raw_body=body, content_type=ctype, prefix=prefix)
call("pay/link/create", {"name": "Smoke", "amount": 50}, 400)
call("pay/link/create", {"name": "Form", "amount": "5000"}, 400)
call("pay/link/create", None, 200, raw_body=b"name=Form&amount=5000&countries=NG&data=true",
     content_type="application/x-www-form-urlencoded")
call("pay/initiate", {"account_to_debit": ACC, "amount": 1, "type": "recurring"}, 400)
call("pay/initiate", {"account_to_debit": ACC, "amount": 1, "type": "recurring",
                      "schedule": {"interval": "monthly", "startDate": "2025-02-01",
                                   "endDate": "2025-01-01"}}, 400)
ctl("POST", "links/%s/pay" % L_FIXED, {"status": "pending"})
ctl("POST", "links/%s/pay" % L_FIXED, {"status": "pending", "amount": 1}, want=400)
ctl("POST", "links/%s/pay" % L_OPEN, {"status": "pending"}, want=400)
ctl("POST", "links/64a0000000000000000000ff/pay", {"status": "pending"}, want=404)
ctl("GET", "links")
r = ctl("POST", "authorizations", {"customer": "64c0000000000000000000c1",
                                   "accounts": ["64d0000000000000000000c1"], "link": L_FIXED})
ctl("POST", "authorizations", {"customer": "x"}, want=400)
auth = {"authorization": A_ACTIVE, "amount": 10000, "initialAmount": 7000, "currency": "NGN",
        "startDate": "2021/05/21", "endDate": "2021/06/27", "interval": "monthly",
        "oneTime": False}
call("pay/authorization/initiate", auth, 200)
call("pay/authorization/initiate", dict(auth, startDate="2021/13/01"), 400)
call("pay/authorization/initiate", dict(auth, authorization=A_MERCHANT), 400)
ids = {"authorization": A_ACTIVE, "customer": "64c0000000000000000000a1", "link": L_FIXED}
call("pay/authorization/cancel", ids, 200)
call("pay/authorization/cancel", ids, 400)
call("pay/authorization/reauth", dict(ids, account="64d0000000000000000000a1"), 200)
call("pay/authorization/reauth", dict(ids, account="64d0000000000000000000a1"), 400)
call("pay/authorization/cancel", dict(ids, customer="64c0000000000000000000a9"), 400)
ctl("POST", "authorizations/%s/cancel-by-customer" % A_ACTIVE)
ctl("POST", "authorizations/%s/cancel-by-customer" % A_ACTIVE, want=400)
call("pay/authorization/reauth", dict(ids, account="64d0000000000000000000a1"), 400)
call("pay/authorization/getByCustomer", {}, 400)
ctl("GET", "authorizations")
r = call("pay/payout", {"account_to_credit": ACC, "amount": 600000}, 200)
if r is not None:
    ctl("POST", "payouts/" + r.json["data"]["payout"]["_id"], {"status": "failed"})
    ctl("POST", "payouts/" + r.json["data"]["payout"]["_id"], {"status": "success"}, want=400)
ctl("POST", "payouts/" + PO_INIT, {"status": "success"})
ctl("POST", "payouts/" + PO_INIT, {"status": "bogus"}, want=400)
call("pay/payout/get", {"payout_id": "64a0000000000000000000ff"}, 400)
ctl("GET", "payouts")
call("pay/get/", {}, 400)
for csv in (CSV + b"64d000000000000000000011,x,1,NGN,\r\n", b"a,b\n", b"\"open",
            CSV.split(b"\r\n")[0]):
    body, ctype = sb.multipart([("product", "initiate_payment")],
                               [("file", "bad.csv", "text/csv", csv)])
    call("bulkfiles/initiate", None, 400, raw_body=body, content_type=ctype)
call("bulkfiles/initiate", None, 400, raw_body=b"--x\r\ngarbage", content_type="multipart/form-data")
call("bulkfiles/initiate", {"product": "initiate_payment"}, 400)
body, ctype = sb.multipart([("product", "initiate_payment")], [("file", "i.csv", "text/csv", CSV)])
call("bulkfiles/initiate", None, 200, raw_body=body, content_type=ctype, idem="smoke-bulk")
call("bulkfiles/initiate", None, 200, raw_body=body, content_type=ctype, idem="smoke-bulk")
fault(kind="after_status", route="bulkfiles/initiate")
call("bulkfiles/initiate", None, 500, raw_body=body, content_type=ctype)
fault(kind="size", bytes=3000, route="pay/authorization/initiate")
call("pay/authorization/initiate", auth, 200)
ctl("GET", "bulkfiles")
ctl("GET", "state")
ctl("POST", "reset")

# refunds: success, partial, every error, wallet with and without account
r = call("pay/refund", {"payment_id": P[1], "amount": 4000, "reason": "smoke"}, 200)
call("pay/refund", {"payment_id": P[1], "amount": 7000}, 400)
call("pay/refund", {"payment_id": P[1]}, 200)
call("pay/refund", {"payment_id": P[1]}, 400)
call("pay/refund", {"payment_id": P[0xe]}, 400)
call("pay/refund", {"payment_id": P[0x10]}, 200)
ctl("POST", "wallet", {"amount": 10})
call("pay/refund", {"payment_id": P[2]}, 400)
call("pay/refund", {"payment_id": P[2], "amount": 500, "account": ACC}, 200)
ctl("POST", "wallet", {"amount": 10000000})
r2 = call("pay/refund", {"payment_id": P[3]}, 200)
r3 = call("pay/refund", {"payment_id": P[4]}, 200)
if r2 is not None and r3 is not None:
    ctl("POST", "refunds/" + r2.json["data"]["refund"]["_id"], {"status": "completed"})
    ctl("POST", "refunds/" + r3.json["data"]["refund"]["_id"], {"status": "failed"})
    call("pay/refund", {"payment_id": P[3]}, 400)
    rp = r.json["data"]["refund_payment"]["data"]["payment"]["id"] if r is not None else P[1]
    call("pay/verify", {"payment_id": rp}, 200)
    call("pay/cancel", {"payment_id": rp}, 400)
    ctl("POST", "payments/" + rp, {"status": "success"})
call("pay/cancel", {"payment_id": P[0xa]}, 200)
call("pay/cancel", {"payment_id": P[0xa]}, 400)
ctl("POST", "config", {"refund_settle_ms": 50})
call("pay/refund", {"payment_id": P[5]}, 200)
time.sleep(0.2)
call("pay/list", {"limit": 100}, 200)

# control API
r = ctl("POST", "payments", {"status": "pending", "amount": 999, "key": key2})
ctl("POST", "payments", {"status": "completed", "amount": 5, "response_status": "failed",
                         "id": "64e000000000000000000009", "env": "production-sandbox"})
ctl("POST", "payments/" + P[0xb], {"status": "completed", "response_status": "success"})
ctl("POST", "payments/" + "64a0000000000000000000ff", {"status": "success"}, want=404)
ctl("POST", "payments", {"amount": 1}, want=400)
ctl("POST", "wallet", {"amount": 77, "key": key2})
ctl("GET", "state")
ctl("GET", "counters")
ctl("GET", "nothing", want=404)

# errors
call("pay/verify", {"payment_id": P[1]}, 401, key=None)
call("pay/verify", {"payment_id": P[1]}, 401, auth="Basic x")
call("pay/verify", {"payment_id": P[1]}, 401, key="wrong")
call("pay/verify", {"payment_id": P[1]}, 400, key=key2)
call("pay/nothing", {}, 404)
call("pay/verify", {}, 404, method="GET")
call("pay/verify", None, 400, raw_body=b"{nope")
call("pay/verify", None, 400, raw_body=b"[" * 20000)
call("pay/verify", {"payment_id": P[1][:23]}, 400)
call("pay/verify", {"payment_id": "64a0000000000000000000ff"}, 400)
call("pay/refund", {"payment_id": P[6], "amount": -1}, 400)
call("pay/initiate", {"amount": 1}, 400)
call("pay/list", {"limit": 0}, 400)
call("pay/verify", None, 200, raw_body=("payment_id=" + P[1]).encode(),
     content_type="application/x-www-form-urlencoded")
call("pay/refund", None, 200, raw_body=("payment_id=%s&amount=10" % P[6]).encode(),
     content_type="application/x-www-form-urlencoded")
big = b'{"payment_id":"' + P[1].encode() + b'","x":"' + b"x" * 1100000 + b'"}'
r = sb.raw(port, "POST", "/v2/pay/verify", big, {"Authorization": "Bearer " + key1,
                                                   "Content-Type": "application/json"},
           timeout=60, tls_ctx=ctx)
expect("413", r.status, 413)

# idempotency
call("pay/refund", {"payment_id": P[6], "amount": 20}, 200, idem="k1")
call("pay/refund", {"payment_id": P[6], "amount": 20}, 200, idem="k1")
call("pay/refund", {"payment_id": P[6], "amount": 21}, 422, idem="k1")

# rate limit
ctl("POST", "config", {"rate_limit": 2, "latency_ms": 5, "jitter_ms": 5})
call("pay/list", {}, 200, key=key2)
call("pay/list", {}, 200, key=key2)
call("pay/list", {}, 429, key=key2)
ctl("POST", "config", {"rate_limit": 0, "latency_ms": 0, "jitter_ms": 0})

# every fault kind
v = {"payment_id": P[7]}
fault(kind="delay", ms=50)
call("pay/verify", v, 200)
fault(kind="status", status=502, body="x", content_type="text/plain")
call("pay/verify", v, 502)
fault(kind="status", status=500)
call("pay/verify", v, 500)
fault(kind="html")
call("pay/verify", v, 502)
fault(kind="size", bytes=300000)
call("pay/verify", v, 200)
fault(kind="trickle", ms=2, chunk=8)
call("pay/verify", v, 200)
fault(kind="timeout503", route="pay/refund")
call("pay/refund", v, 503)
fault(kind="after_status", route="pay/refund", payment_id=P[7])
call("pay/refund", {"payment_id": P[7], "amount": 100}, 500, idem="k2")
call("pay/refund", {"payment_id": P[7], "amount": 100}, 200, idem="k2")
for kind, extra in (("truncate", {"bytes": 10}), ("truncate", {}), ("reset", {}),
                    ("hang", {"ms": 300}), ("after_drop", {}), ("after_hang", {"ms": 300})):
    spec = {"kind": kind, "route": "pay/refund"}
    spec.update(extra)
    fault(**spec)
    res = raw("pay/refund", {"payment_id": P[8], "amount": 100})
    if res is not None and res.status == 200 and res.content_length == len(res.body):
        problems.append("fault %s: the client got a whole response" % kind)
fault(kind="status", status=500, count=5)
fault(kind="hang", ms=100)
ctl("GET", "faults")
ctl("DELETE", "faults")
ctl("GET", "counters")
ctl("POST", "reset")
call("pay/verify", {"payment_id": P[1]}, 200)

# webhooks: delivery, retries, every fault, a lie, a reset with deliveries
# queued, and (at the end) one POST hanging and more queued behind it when
# SIGTERM comes
hook_hits = []
hook_answers = [500, 200, 200, 200, 200, 200, 200, 200]


class HookHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        hook_hits.append(self.path)
        status = hook_answers.pop(0) if hook_answers else 200
        if self.path == "/hang":
            time.sleep(60)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


hook_srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HookHandler)
hook_srv.daemon_threads = True
threading.Thread(target=hook_srv.serve_forever, daemon=True).start()
hook_url = "http://127.0.0.1:%d/" % hook_srv.server_address[1]
ctl("POST", "webhooks", {"url": hook_url + "ok", "token": "t", "backoff_ms": 20, "tries": 3})
wp = ctl("POST", "payments", {"status": "pending", "amount": 100}).json["payment"]["id"]
ctl("POST", "payments/" + wp, {"status": "success"})
ctl("POST", "webhooks/faults", {"kind": "duplicate", "copies": 3})
ctl("POST", "webhooks/faults", {"kind": "wrong_token", "token": None})
ctl("POST", "webhooks/faults", {"kind": "out_of_order", "payment_id": wp})
ctl("POST", "payments/" + wp, {"status": "failed"})
ctl("POST", "webhooks/lie", {"payment_id": wp, "status": "success"})
ctl("POST", "webhooks/faults", {"kind": "out_of_order", "payment_id": wp, "events": 3})
ctl("POST", "payments/" + wp, {"status": "error"})
ctl("GET", "webhooks/faults")
ctl("DELETE", "webhooks/faults")
ctl("POST", "webhooks/lie", {"payment_id": wp, "status": "error"}, want=400)
ctl("POST", "webhooks/faults", {"kind": "nope"}, want=400)
for _ in range(300):
    if ctl("GET", "webhooks").json["webhooks"]["counters"]["pending"] == 0:
        break
    time.sleep(0.05)
# success (500, then 200), failed x3 and the lie (held, then sent), error
expect("webhook POSTs", len(hook_hits), 7)
ctl("POST", "webhooks", {"url": hook_url + "hang", "timeout_ms": 60000})
ctl("POST", "payments/" + wp, {"status": "success"})
ctl("POST", "webhooks/faults", {"kind": "duplicate", "copies": 2})
ctl("POST", "webhooks/faults", {"kind": "out_of_order", "payment_id": wp, "events": 4})
ctl("POST", "payments/" + wp, {"status": "failed"})
ctl("POST", "reset")
ctl("POST", "webhooks", {"url": hook_url + "hang", "timeout_ms": 60000})
wp = ctl("POST", "payments", {"status": "pending", "amount": 100}).json["payment"]["id"]
ctl("POST", "webhooks/faults", {"kind": "out_of_order", "payment_id": wp})
for st in ("success", "failed", "error"):
    ctl("POST", "payments/" + wp, {"status": st})
ctl("GET", "counters")

# a keep-alive connection left open, to be closed by the shutdown
conn = sb.new_conn(port, ctx, timeout=60)
api.call("pay/verify", {"payment_id": P[1]}, conn=conn)

if problems:
    print("\n".join(problems))
    print("SMOKE failed: %d problems" % len(problems))
    sys.exit(1)
print("SMOKE ok")
