#!/usr/bin/env python3
"""Read memcheck logs and report what is attributable to okra.

Usage: analyze.py [--src-dir DIR] [--server-log FILE] LOG...

Each LOG is one process's memcheck output (--log-file=vg.%p.log). A record
(an error such as "Invalid read", or a leak "... are definitely lost ...")
is attributable to okra when one of its frames, in any of its stacks (the
error's, and the "Address ... alloc'd / free'd" ones), is

  * in okra.so: a frame "(in .../okra.so)", or one naming a source file of
    the extension ("/src/http.c:123", the basenames of DIR/*.c), or
  * in libcurl or json-c ("(in .../libcurl.so.4...)", ".../libjson-c.so.5"):
    nothing but okra loads those into a PostgreSQL backend, so memory they
    allocate is memory okra asked for, even when the stack is cut off
    (--num-callers) before okra's own frame.

Every attributable record is printed in full. One check per log file:
"ok" when it has no attributable record and its process finished its leak
check (a log without "ERROR SUMMARY" is a process that crashed or was
killed). Records not attributable to okra (PostgreSQL, libc, OpenSSL noise
the suppression file does not cover) are counted and summarised, never
failed.

Prints "CHECKS passed=N failed=M" last; exits 1 when any check failed.
"""

import glob
import os
import re
import sys
from collections import Counter

FRAME_RE = re.compile(r"^\s*(at|by) 0x[0-9A-Fa-f]+: (.*)$")
LEAK_RE = re.compile(r"are (definitely|indirectly|possibly) lost|still reachable")
SKIP_HEADLINES = (
    "Memcheck,", "Copyright", "Using Valgrind", "Command:", "Parent PID:",
    "HEAP SUMMARY", "LEAK SUMMARY", "ERROR SUMMARY", "For lists of",
    "For counts of", "Use --track-origins", "Reachable blocks", "To see them",
    "All heap blocks were freed",
)


def okra_frame_matcher(src_dir):
    """A predicate: is this frame text okra's (or libcurl's / json-c's)?"""
    names = set()
    if src_dir and os.path.isdir(src_dir):
        names = {os.path.basename(p) for p in glob.glob(os.path.join(src_dir, "*.c"))}
    if not names:
        names = {"okra.c", "guc.c", "key.c", "http.c", "json.c", "errors.c", "api.c"}
    src_re = re.compile(r"(^|[/(])src/(%s):\d+" % "|".join(re.escape(n) for n in sorted(names)))
    obj_okra = re.compile(r"\(in [^)]*/okra\.so\)")
    obj_lib = re.compile(r"\(in [^)]*/lib(curl|curl-gnutls|json-c)\.so[^)]*\)")

    def why(frame):
        if obj_okra.search(frame) or src_re.search(frame):
            return "okra"
        if obj_lib.search(frame):
            return "lib"
        return None

    return why


def parse_log(path):
    """Yield (headline, lines) paragraphs; also return whether it is complete."""
    pid = None
    paragraphs = []
    cur = []
    complete = False
    with open(path, errors="replace") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            m = re.match(r"^==(\d+)== ?(.*)$", raw)
            if not m:
                # lines without a prefix (e.g. a --log-file shared by threads): keep them
                text = raw
            else:
                pid = pid or m.group(1)
                text = m.group(2)
            if text.startswith("ERROR SUMMARY:"):
                complete = True
            if text.strip() == "":
                if cur:
                    paragraphs.append(cur)
                cur = []
            else:
                cur.append(text)
    if cur:
        paragraphs.append(cur)
    return pid, paragraphs, complete


def records(paragraphs):
    """Paragraphs that are memcheck errors or leak records (they have frames)."""
    for p in paragraphs:
        head = p[0].strip()
        if head.startswith(SKIP_HEADLINES):
            continue
        if not any(FRAME_RE.match(l) for l in p):
            continue
        kind = "leak" if LEAK_RE.search(head) else "error"
        yield kind, p


def first_interesting_frame(p):
    """A short signature for an unattributed record: its first frame that is
    not an allocator or a libc wrapper."""
    boring = re.compile(r"\b(malloc|calloc|realloc|free|strdup|memcpy|memmove|"
                        r"memset|pwrite|write|send|sendto|__libc_\w+)\b")
    frames = [m.group(2) for m in map(FRAME_RE.match, p) if m]
    for f in frames:
        if boring.search(f) or f.startswith("???") or "libc.so" in f or "(libio/" in f \
                or "vgpreload" in f:
            continue
        return f
    return frames[0] if frames else ""


def main(argv):
    src_dir = None
    server_log = None
    logs = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--src-dir":
            src_dir = argv[i + 1]
            i += 2
        elif a == "--server-log":
            server_log = argv[i + 1]
            i += 2
        else:
            logs.append(a)
            i += 1
    if not logs:
        print("analyze.py: no log files given", file=sys.stderr)
        return 2

    why = okra_frame_matcher(src_dir)
    roles = {}
    if server_log and os.path.exists(server_log):
        # log_line_prefix '... [%p] %b ...': the first line naming a pid tells its role
        with open(server_log, errors="replace") as f:
            for l in f:
                m = re.search(r"\[(\d+)\] (.*?): ", l)
                if m and m.group(1) not in roles:
                    roles[m.group(1)] = m.group(2).strip()

    passed = failed = 0
    others = Counter()
    flagged_total = 0
    for path in sorted(logs, key=lambda p: (len(p), p)):
        pid, paragraphs, complete = parse_log(path)
        flagged = []
        for kind, p in records(paragraphs):
            hits = {why(l) for l in p if FRAME_RE.match(l)} - {None}
            if hits:
                flagged.append((kind, hits, p))
            else:
                head = re.sub(r" in loss record .*", "", p[0].strip())
                head = re.sub(r"\d[\d,]*", "N", head)
                others[(kind, head[:80], first_interesting_frame(p)[:90])] += 1
        name = os.path.basename(path)
        role = roles.get(pid or "", "")
        label = "%s%s" % (name, " (%s)" % role if role else "")
        for kind, hits, p in flagged:
            print("---- %s: %s attributable to okra (%s)" % (
                label, kind, ", ".join(sorted("frame in okra.so" if h == "okra" else
                                              "allocated in libcurl/json-c" for h in hits))))
            for l in p:
                print("    " + l)
        flagged_total += len(flagged)
        if flagged or not complete:
            failed += 1
            reasons = []
            if flagged:
                reasons.append("%d record(s) attributable to okra" % len(flagged))
            if not complete:
                reasons.append("no ERROR SUMMARY: the process crashed, was killed or is still running")
            print("not ok %s: %s" % (label, "; ".join(reasons)))
        else:
            passed += 1
            print("ok   %s" % label)

    if others:
        print("# records not attributable to okra (PostgreSQL/libc/TLS noise), by kind:")
        for (kind, head, frame), n in sorted(others.items(), key=lambda kv: -kv[1]):
            print("#   %4d x %s | %s" % (n, head, frame))
    print("# %d log file(s), %d attributable record(s)" % (len(logs), flagged_total))
    print("CHECKS passed=%d failed=%d" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
