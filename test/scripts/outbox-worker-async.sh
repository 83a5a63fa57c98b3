#!/usr/bin/env bash
# outbox-worker.sh (the worker woken at commit, the journal, fast shutdown,
# the crash test with 1,000 refunds, SIGKILL and an immediate shutdown)
# with synchronous_commit = off for the whole server: okra's commits
# before sending are durable all the same, so each refund is still carried
# out exactly once.
cd "$(dirname "$0")/../.."
OKRA_OUTBOX_ASYNC=1 exec bash test/scripts/outbox-worker.sh
