EXTENSION    = okra
EXTVERSION   = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" okra.control)
MODULE_big   = okra
OBJS         = src/okra.o src/guc.o src/key.o src/http.o src/json.o src/errors.o src/safe.o src/ratelimit.o src/contract.o src/txn.o src/ledger.o src/journal.o src/guard.o src/answer.o src/api.o src/pending.o src/outbox.o src/worker.o src/reads.o src/payouts.o src/links.o src/authorizations.o src/bulk.o src/repeat.o src/webhook.o
DATA_built   = sql/okra--$(EXTVERSION).sql
DATA         = $(filter-out $(DATA_built),$(wildcard sql/okra--*.sql))
PG_CPPFLAGS  = -DOKRA_VERSION=\"$(EXTVERSION)\" $(shell pkg-config --cflags libcurl json-c) -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK   = $(shell pkg-config --libs libcurl json-c)
REGRESS      = init surface inputs errors settings privileges
REGRESS_OPTS = --inputdir=test
ISOLATION    = initiate-reference payout-reference
ISOLATION_OPTS = --inputdir=test
EXTRA_CLEAN  = sql/okra--$(EXTVERSION).sql
# installcheck is ours (below): it starts okra-sandbox first
NO_INSTALLCHECK = 1

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)

include $(PGXS)

# every object depends on every header: rebuilt when one changes
$(OBJS): $(wildcard src/*.h)

sql/okra--$(EXTVERSION).sql: sql/okra.sql
	cp $< $@

.PHONY: sandbox sandbox-clean test valgrind installcheck regresscheck isolationcheck dist
# okra-sandbox, the Okra emulator (needs libmicrohttpd): not part of "all"
sandbox:
	$(MAKE) -C test/sandbox

clean: sandbox-clean
sandbox-clean:
	$(MAKE) -C test/sandbox clean

# The regression suite against the running server (PGHOST, PGPORT...),
# with an okra-sandbox of its own: see test/installcheck.sh.
installcheck: sandbox
	bash test/installcheck.sh

# pg_regress alone, against a server already pointed at a sandbox
regresscheck:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

# the isolation specs (test/specs), likewise
isolationcheck:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

# The release archive (PGXN): the committed tree at HEAD, in okra-VERSION/
# (DIST_TREE=$$(git stash create) archives uncommitted changes to tracked files)
DIST_TREE ?= HEAD
dist:
	git archive --format=tar.gz --prefix=okra-$(EXTVERSION)/ -o okra-$(EXTVERSION).tar.gz $(DIST_TREE)

# Every suite, with throwaway PostgreSQL and sandbox: the README's test command.
test:
	bash test/run-all.sh

# The extension's suites with every backend under valgrind memcheck.
valgrind:
	bash test/valgrind/run.sh
