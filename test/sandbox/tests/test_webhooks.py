#!/usr/bin/env python3
"""Black-box tests of okra-sandbox's webhooks (README.md "Webhooks", API.md
8.15), stdlib only. Run by tests/run.sh after test_sandbox.py, with the same
environment (OKRA_SANDBOX_BIN, OKRA_SANDBOX_PORT: a sandbox started without
webhook flags).

Each test starts its own sandbox (with --webhook-* flags) and a tiny receiver
(http.server in a thread) that records every POST and answers as told. Output
is TAP; the last line is "SUMMARY passed=N failed=M". Arguments, if any,
select tests whose name contains one of them.
"""

import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbclient as sb  # noqa: E402
import test_sandbox as ts  # noqa: E402

BIN = ts.BIN
TOKEN = "whsec_sandbox_suite"
HEX24 = re.compile(r"^[0-9a-f]{24}$")
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PAYLOAD_KEYS = ["callback_type", "callback_code", "event_id", "payment_id", "ref", "status",
                "amount", "currency", "env", "created_at"]
COUNTER_KEYS = ["events", "deliveries", "sent", "delivered", "retried", "failed", "pending",
                "by_status"]
ACCOUNT = "64d000000000000000000001"


class Receiver:
    """A webhook receiver on 127.0.0.1: records every POST (time, path,
    headers, body) and answers with the next of `statuses` (then 200), or
    sleeps `hang` seconds first."""

    def __init__(self, statuses=(), hang=0.0):
        self.hits = []
        self.statuses = list(statuses)
        self.hang = hang
        self.cv = threading.Condition()
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with rec.cv:
                    rec.hits.append({"t": time.monotonic(), "path": self.path,
                                     "headers": {k.lower(): v for k, v in self.headers.items()},
                                     "body": body})
                    status = rec.statuses.pop(0) if rec.statuses else 200
                    rec.cv.notify_all()
                if rec.hang:
                    time.sleep(rec.hang)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/okra/webhook" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n, timeout=5.0):
        """Waits until n POSTs have arrived; returns the hits so far."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while len(self.hits) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cv.wait(left)
            return list(self.hits)

    def bodies(self):
        with self.cv:
            return [sb.parse_json(h["body"]) for h in self.hits]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class WebhookBase(unittest.TestCase):
    maxDiff = None

    def start(self, *flags, receiver=None, token=TOKEN, backoff=100, tries=None, url=True):
        """A sandbox POSTing webhooks to `receiver` (a new Receiver unless
        given), with a short backoff."""
        self.rcv = receiver or Receiver()
        self.addCleanup(self.rcv.close)
        args = ["-q"]
        if url:
            args += ["--webhook-url", self.rcv.url]
        if token is not None:
            args += ["--webhook-token", token]
        if backoff is not None:
            args += ["--webhook-backoff-ms", str(backoff)]
        if tries is not None:
            args += ["--webhook-tries", str(tries)]
        self.sb = sb.Sandbox(BIN, *(args + list(flags)))
        self.addCleanup(self.sb.stop)
        self.api = sb.Api(self.sb.port, "sk_test_okra_sandbox")
        return self.sb

    def ctl(self, method, path, body=None, expect=200):
        r = self.api.control(method, path, body)
        if expect is not None:
            self.assertEqual(r.status, expect, "%s /_sandbox/%s %r -> %r"
                             % (method, path, body, r))
        return r.json

    def new_payment(self, status="pending", amount=5000, **extra):
        body = {"status": status, "amount": amount}
        body.update(extra)
        return self.ctl("POST", "payments", body)["payment"]

    def move(self, pid, status, **extra):
        body = {"status": status}
        body.update(extra)
        return self.ctl("POST", "payments/" + pid, body)["payment"]

    def hooks(self):
        return self.ctl("GET", "webhooks")["webhooks"]

    def counters(self):
        return self.hooks()["counters"]

    def settle(self, timeout=5.0):
        """Waits until nothing is queued, held or under way."""
        deadline = time.monotonic() + timeout
        while True:
            c = self.counters()
            if c["pending"] == 0 or time.monotonic() > deadline:
                return c
            time.sleep(0.02)

    def quiet_for(self, seconds, n):
        """No more than n POSTs arrive within `seconds`."""
        time.sleep(seconds)
        self.assertEqual(len(self.rcv.hits), n, self.rcv.bodies())

    def fault(self, expect=200, **spec):
        return self.ctl("POST", "webhooks/faults", spec, expect=expect)


class W01Delivery(WebhookBase):
    def test_status_change_sends_one_webhook(self):
        self.start()
        p = self.new_payment("pending", 12345)
        self.quiet_for(0.3, 0)          # a payment made by the control API is not a change
        t0 = time.time()
        self.move(p["id"], "success")
        hits = self.rcv.wait(1)
        self.quiet_for(0.3, 1)
        h = hits[0]
        self.assertEqual(h["path"], "/okra/webhook")
        self.assertEqual(h["headers"].get("authorization"), "Bearer " + TOKEN)
        self.assertTrue(h["headers"].get("content-type", "").startswith("application/json"),
                        h["headers"])
        ev = sb.parse_json(h["body"])
        self.assertEqual(list(ev.keys()), PAYLOAD_KEYS)
        self.assertEqual(ev["callback_type"], "PAYMENT")
        self.assertEqual(ev["callback_code"], "SUCCESS")
        self.assertRegex(ev["event_id"], HEX24)
        self.assertEqual(ev["payment_id"], p["id"])
        self.assertEqual(ev["ref"], p["ref"])
        self.assertEqual(ev["status"], "success")
        self.assertEqual(ev["amount"], 12345)
        self.assertEqual(ev["currency"], "NGN")
        self.assertEqual(ev["env"], "production")
        self.assertRegex(ev["created_at"], ISO_RE)
        self.assertLess(abs(ts.iso_time(ev["created_at"]) - t0), 2)
        c = self.settle()
        self.assertEqual(c, {"events": 1, "deliveries": 1, "sent": 1, "delivered": 1,
                             "retried": 0, "failed": 0, "pending": 0, "by_status": {"200": 1}})
        # the same counters in GET /_sandbox/counters
        self.assertEqual(self.ctl("GET", "counters")["webhooks"], c)
        # moving to the status it has is no change
        self.move(p["id"], "success")
        self.quiet_for(0.3, 1)

    def test_every_kind_of_status_change(self):
        self.start()
        # an initiate completing
        d = self.api.call("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 700,
                                           "currency": "NGN"}, prefix="/v2/sandbox/")
        self.assertEqual(d.status, 200, d)
        ip = d.json["data"]["payment"]["id"]
        self.quiet_for(0.2, 0)          # initiating is no change: it starts at initialize
        self.move(ip, "success")
        # pay/cancel
        c = self.api.call("pay/initiate", {"account_to_debit": ACCOUNT, "amount": 800,
                                           "currency": "NGN"}).json["data"]["payment"]["id"]
        self.assertEqual(self.api.call("pay/cancel", {"payment_id": c}).status, 200)
        # a refund's payment settling (control call), and by --refund-settle-ms
        paid = self.new_payment("success", 9000)
        r1 = self.api.call("pay/refund", {"payment_id": paid["id"], "amount": 1000}).json["data"]
        self.ctl("POST", "refunds/" + r1["refund"]["_id"], {"status": "completed"})
        self.ctl("POST", "config", {"refund_settle_ms": 50})
        r2 = self.api.call("pay/refund", {"payment_id": paid["id"], "amount": 2000}).json["data"]
        time.sleep(0.1)
        self.ctl("GET", "state")        # settles due refunds
        # a payment through a link
        link = self.api.call("pay/link/create", {"name": "w", "amount": 4000,
                                                 "currency": "NGN"}).json["data"]
        lp = self.ctl("POST", "links/%s/pay" % link["_id"], {"status": "success"})["payment"]
        hits = self.rcv.wait(5)
        self.quiet_for(0.3, 5)
        got = [(e["payment_id"], e["status"], e["env"]) for e in self.rcv.bodies()]
        rp1 = r1["refund_payment"]["data"]["payment"]["id"]
        rp2 = r2["refund_payment"]["data"]["payment"]["id"]
        self.assertEqual(got, [(ip, "success", "production-sandbox"),
                               (c, "cancelled", "production"),
                               (rp1, "success", "production"),
                               (rp2, "success", "production"),
                               (lp["id"], "success", "production")])
        self.assertEqual(len({sb.parse_json(h["body"])["event_id"] for h in hits}), 5)

    def test_flags_and_control_call(self):
        self.start(token=None, url=False)
        self.assertEqual(self.hooks(), {"url": None, "token": False, "tries": 6,
                                        "backoff_ms": 100, "timeout_ms": 5000,
                                        "counters": self.counters()})
        p = self.new_payment()
        self.move(p["id"], "failed")
        self.quiet_for(0.3, 0)
        j = self.ctl("POST", "webhooks", {"url": self.rcv.url, "token": "t2", "tries": 3,
                                          "backoff_ms": 10, "timeout_ms": 800})["webhooks"]
        self.assertEqual([j[k] for k in ("url", "token", "tries", "backoff_ms", "timeout_ms")],
                         [self.rcv.url, True, 3, 10, 800])
        self.move(p["id"], "error")
        self.assertEqual(self.rcv.wait(1)[0]["headers"]["authorization"], "Bearer t2")
        # token null: no Authorization header
        self.ctl("POST", "webhooks", {"token": None})
        self.move(p["id"], "failed")
        self.assertNotIn("authorization", self.rcv.wait(2)[1]["headers"])
        for bad in ({"url": "ftp://x"}, {"url": 3}, {"url": "http://a b"}, {"token": "a b"},
                    {"tries": 0}, {"tries": 21}, {"backoff_ms": -1}, {"timeout_ms": 0},
                    {"tries": "3"}):
            with self.subTest(bad=bad):
                r = self.api.control("POST", "webhooks", bad)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(list(r.json.keys()), ["error"])
        self.assertEqual(self.api.control("PUT", "webhooks", {}).status, 404)
        self.assertEqual(self.api.control("GET", "webhooks/nope").status, 404)
        # url null turns them off; reset brings back the command line's (none)
        self.ctl("POST", "webhooks", {"url": None})
        self.move(p["id"], "error")
        self.quiet_for(0.3, 2)
        self.ctl("POST", "webhooks", {"url": self.rcv.url})
        self.ctl("POST", "reset")
        self.assertEqual(self.hooks()["url"], None)
        self.assertEqual(self.counters()["events"], 0)

    def test_bad_flags(self):
        for args in (["--webhook-url", "ftp://x"], ["--webhook-token", "a b"],
                     ["--webhook-tries", "0"], ["--webhook-backoff-ms", "-1"],
                     ["--webhook-timeout-ms", "0"]):
            with self.subTest(args=args):
                r = subprocess.run([BIN, "--port", "0"] + args, capture_output=True, timeout=5)
                self.assertEqual(r.returncode, 2, r)
                self.assertIn(b"invalid --webhook", r.stderr)


class W02Retries(WebhookBase):
    def test_500_retried_with_backoff_then_success(self):
        self.start(receiver=Receiver(statuses=[500, 503, 500]), backoff=150)
        p = self.new_payment()
        self.move(p["id"], "success")
        hits = self.rcv.wait(4, timeout=6)
        self.assertEqual(len(hits), 4)
        gaps = [hits[i + 1]["t"] - hits[i]["t"] for i in range(3)]
        # 150 ms, then 300, then 600: doubled each time
        for gap, want in zip(gaps, (0.15, 0.3, 0.6)):
            self.assertGreaterEqual(gap, want * 0.95, gaps)
            self.assertLess(gap, want + 0.4, gaps)
        self.assertEqual(len({h["body"] for h in hits}), 1, "every try sends the same event")
        c = self.settle()
        self.quiet_for(0.3, 4)
        self.assertEqual(c, {"events": 1, "deliveries": 1, "sent": 4, "delivered": 1,
                             "retried": 3, "failed": 0, "pending": 0,
                             "by_status": {"500": 2, "503": 1, "200": 1}})

    def test_gives_up_after_the_last_try(self):
        self.start(receiver=Receiver(statuses=[404] * 10), backoff=20, tries=3)
        p = self.new_payment()
        self.move(p["id"], "success")
        self.rcv.wait(3)
        c = self.settle()
        self.quiet_for(0.3, 3)
        self.assertEqual((c["sent"], c["retried"], c["delivered"], c["failed"], c["by_status"]),
                         (3, 2, 0, 1, {"404": 3}))

    def test_connection_failure_retried(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
        s.close()                       # nothing listens there
        self.start(backoff=20, tries=4)
        self.ctl("POST", "webhooks", {"url": "http://127.0.0.1:%d/x" % dead})
        p = self.new_payment()
        self.move(p["id"], "success")
        c = self.settle()
        self.assertEqual((c["sent"], c["retried"], c["failed"], c["by_status"]),
                         (4, 3, 1, {"0": 4}))
        # a receiver that comes back gets the next event
        self.ctl("POST", "webhooks", {"url": self.rcv.url})
        self.move(p["id"], "failed")
        self.rcv.wait(1)
        self.assertEqual([e["status"] for e in self.rcv.bodies()], ["failed"])


class W03Faults(WebhookBase):
    def test_duplicates(self):
        self.start()
        p = self.new_payment()
        f = self.fault(kind="duplicate", copies=5)["fault"]
        self.assertEqual((f["kind"], f["copies"], f["remaining"]), ("duplicate", 5, 1))
        self.move(p["id"], "success")
        hits = self.rcv.wait(5)
        self.quiet_for(0.3, 5)
        self.assertEqual(len({h["body"] for h in hits}), 1, "5 copies of one event")
        self.assertEqual(self.fault_list(), [])
        self.move(p["id"], "failed")    # the fault is used up: one copy again
        self.rcv.wait(6)
        self.quiet_for(0.3, 6)
        c = self.settle()
        self.assertEqual((c["events"], c["deliveries"], c["delivered"]), (2, 6, 6))

    def test_duplicates_for_one_payment_only(self):
        self.start()
        a, b = self.new_payment(), self.new_payment()
        self.fault(kind="duplicate", copies=3, count=2, payment_id=b["id"])
        self.move(a["id"], "success")
        self.move(b["id"], "success")
        self.rcv.wait(4)
        self.quiet_for(0.3, 4)
        ids = [e["payment_id"] for e in self.rcv.bodies()]
        self.assertEqual((ids.count(a["id"]), ids.count(b["id"])), (1, 3))
        self.assertEqual(self.fault_list()[0]["remaining"], 1)

    def test_wrong_token(self):
        self.start()
        p = self.new_payment()
        self.fault(kind="wrong_token", token="stolen-or-stale")
        self.move(p["id"], "initiated")
        self.fault(kind="wrong_token", token=None)
        self.move(p["id"], "success")
        self.move(p["id"], "completed")
        hits = self.rcv.wait(3)
        self.assertEqual(hits[0]["headers"].get("authorization"), "Bearer stolen-or-stale")
        self.assertNotIn("authorization", hits[1]["headers"])
        self.assertEqual(hits[2]["headers"].get("authorization"), "Bearer " + TOKEN)
        self.fault(kind="wrong_token")
        self.move(p["id"], "failed")
        self.assertEqual(self.rcv.wait(4)[3]["headers"].get("authorization"),
                         "Bearer wrong-token")

    def test_out_of_order(self):
        self.start()
        p, other = self.new_payment("initialize"), self.new_payment()
        f = self.fault(kind="out_of_order", payment_id=p["id"], events=3)["fault"]
        self.assertEqual((f["remaining"], f["held"]), (3, 0))
        self.move(p["id"], "pending")
        self.move(p["id"], "initiated")
        self.move(other["id"], "success")   # another payment's events are not held
        self.assertEqual([e["payment_id"] for e in
                          [sb.parse_json(h["body"]) for h in self.rcv.wait(1)]], [other["id"]])
        self.quiet_for(0.3, 1)
        self.assertEqual(self.counters()["pending"], 2)
        self.assertEqual(self.fault_list()[0]["held"], 2)
        self.move(p["id"], "success")
        self.rcv.wait(4)
        self.quiet_for(0.2, 4)
        evs = [e for e in self.rcv.bodies() if e["payment_id"] == p["id"]]
        self.assertEqual([e["status"] for e in evs], ["success", "initiated", "pending"])
        self.assertGreaterEqual(ts.iso_time(evs[0]["created_at"]),
                                ts.iso_time(evs[2]["created_at"]))
        self.assertEqual(self.fault_list(), [])

    def test_out_of_order_released_by_delete(self):
        self.start()
        p = self.new_payment("initialize")
        self.fault(kind="out_of_order", payment_id=p["id"], events=5)
        self.move(p["id"], "pending")
        self.move(p["id"], "success")
        self.quiet_for(0.3, 0)
        self.ctl("DELETE", "webhooks/faults")
        self.rcv.wait(2)
        self.assertEqual([e["status"] for e in self.rcv.bodies()], ["success", "pending"])

    def test_lie(self):
        self.start()
        p = self.new_payment("failed", 3000)
        j = self.ctl("POST", "webhooks/lie", {"payment_id": p["id"], "status": "success"})
        self.assertEqual(list(j.keys()), ["event"])
        ev = sb.parse_json(self.rcv.wait(1)[0]["body"])
        self.assertEqual(ev, j["event"])
        self.assertEqual((ev["payment_id"], ev["status"], ev["callback_code"], ev["amount"]),
                         (p["id"], "success", "SUCCESS", 3000))
        # the payment is still failed
        v = self.api.call("pay/verify", {"payment_id": p["id"]}).json["data"]["payment_status"]
        self.assertEqual(v["status"], "failed")
        # a lie goes through the faults like any event
        self.fault(kind="duplicate", copies=2)
        self.ctl("POST", "webhooks/lie", {"payment_id": p["id"], "status": "completed"})
        self.rcv.wait(3)
        for body, status, msg in (
                ({"payment_id": p["id"], "status": "failed"}, 400,
                 "That is the payment's real status; a lie must differ."),
                ({"payment_id": "64a0000000000000000000ff", "status": "success"}, 404,
                 "Payment not found."),
                ({"payment_id": "x", "status": "success"}, 400, "Invalid or missing payment_id."),
                ({"payment_id": p["id"], "status": "Success"}, 400, "Invalid or missing status."),
                ({"payment_id": p["id"]}, 400, "Invalid or missing status.")):
            with self.subTest(body=body):
                r = self.api.control("POST", "webhooks/lie", body)
                self.assertEqual((r.status, r.json), (status, {"error": msg}))
        self.ctl("POST", "webhooks", {"url": None})
        r = self.api.control("POST", "webhooks/lie", {"payment_id": p["id"], "status": "success"})
        self.assertEqual((r.status, r.json), (400, {"error": "Webhooks are not configured."}))

    def test_fault_errors_and_list(self):
        self.start()
        for spec in ({"kind": "nope"}, {}, {"kind": "duplicate", "copies": 0},
                     {"kind": "duplicate", "copies": 1001}, {"kind": "duplicate", "count": 0},
                     {"kind": "out_of_order"}, {"kind": "out_of_order",
                                                "payment_id": "64a000000000000000000001",
                                                "events": 1},
                     {"kind": "wrong_token", "token": "a b"},
                     {"kind": "duplicate", "payment_id": "zz"}):
            with self.subTest(spec=spec):
                r = self.api.control("POST", "webhooks/faults", spec)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(list(r.json.keys()), ["error"])
        self.fault(kind="duplicate", copies=3, count=2)
        self.fault(kind="wrong_token")
        self.assertEqual([(f["kind"], f["remaining"]) for f in self.fault_list()],
                         [("duplicate", 2), ("wrong_token", 1)])
        self.ctl("DELETE", "webhooks/faults")
        self.assertEqual(self.fault_list(), [])
        self.fault(kind="duplicate", copies=3)
        self.ctl("POST", "reset")
        self.assertEqual(self.fault_list(), [])

    def fault_list(self):
        return self.ctl("GET", "webhooks/faults")["faults"]


class W04Isolation(WebhookBase):
    def test_no_webhook_when_unconfigured(self):
        # the suite's main sandbox was started without --webhook-url
        rcv = Receiver()
        self.addCleanup(rcv.close)
        self.api = sb.Api(ts.PORT, ts.KEY)
        self.ctl("POST", "reset")
        self.assertEqual(self.hooks()["url"], None)
        p = self.new_payment()
        self.move(p["id"], "success")
        self.api.call("pay/refund", {"payment_id": p["id"]})
        self.ctl("POST", "refunds/" + self.ctl("GET", "state")["owners"][0]["refunds"][0]["_id"],
                 {"status": "completed"})
        time.sleep(0.3)
        self.assertEqual(rcv.hits, [])
        self.assertEqual(self.counters(), {"events": 0, "deliveries": 0, "sent": 0,
                                           "delivered": 0, "retried": 0, "failed": 0,
                                           "pending": 0, "by_status": {}})

    def test_api_not_slowed_while_receiver_hangs(self):
        self.start(receiver=Receiver(hang=4.0))
        self.ctl("POST", "webhooks", {"timeout_ms": 3000})
        pays = [self.new_payment()["id"] for _ in range(10)]
        self.rcv.statuses = []
        t0 = time.monotonic()
        worst = 0.0
        for pid in pays:
            t = time.monotonic()
            self.move(pid, "success")
            v = self.api.call("pay/verify", {"payment_id": pid})
            self.assertEqual(v.status, 200)
            worst = max(worst, time.monotonic() - t)
        total = time.monotonic() - t0
        self.rcv.wait(1)
        self.assertLess(worst, 0.5, "a control call and a verify took %.2f s" % worst)
        self.assertLess(total, 2.0)
        c = self.counters()
        self.assertEqual(c["events"], 10)
        self.assertGreaterEqual(c["pending"], 9, c)       # waiting behind the hung POST
        self.assertEqual(self.ctl("GET", "state")["owners"][0]["payments"][0]["status"],
                         "success")

    def test_sigterm_while_a_post_hangs(self):
        s = self.start(receiver=Receiver(hang=20.0))
        p = self.new_payment()
        self.move(p["id"], "success")
        self.rcv.wait(1)
        t = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        rc = s.wait_exit(10)
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - t, 5)


def main(argv):
    loader = unittest.TestLoader()
    tests = []
    mod = sys.modules[__name__]
    for name in sorted(dir(mod)):
        obj = getattr(mod, name)
        if (isinstance(obj, type) and issubclass(obj, WebhookBase) and obj is not WebhookBase):
            tests.extend(loader.loadTestsFromTestCase(obj))
    if argv:
        tests = [t for t in tests if any(a in t.id() for a in argv)]
    print("1..%d" % len(tests), flush=True)
    tap = ts.Tap()
    t0 = time.monotonic()
    for t in tests:
        tap.run(t)
    print("# %d webhook tests in %.1f s" % (tap.n, time.monotonic() - t0))
    for n in tap.failed:
        print("# FAILED: %s" % n)
    print("SUMMARY passed=%d failed=%d" % (tap.passed, len(tap.failed)), flush=True)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
