# Failover with synchronous replication: 50 partial refunds queued while
# the sandbox answers slowly; the primary's postmaster is killed (-9) in
# the middle of sending them and its synchronous standby promoted.  The
# new primary's worker finishes the queue, and per payment the sandbox
# carried out each refund exactly once.  A request left "unknown" for a
# person is acceptable (counted); double execution is the failure.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use OkraTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $sb = OkraTest::start_sandbox('--latency-ms', '500');
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
OkraTest::configure($primary, $sb, "synchronous_standby_names = 'standby'\n");
$primary->start;
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
# once promoted it has no standby of its own: it must not wait for one
$standby->append_conf('postgresql.conf', "primary_conninfo = '" . $primary->connstr
	. " application_name=standby'\nsynchronous_standby_names = ''\n");
$standby->start;
$primary->poll_query_until('postgres',
	"SELECT sync_state = 'sync' FROM pg_stat_replication WHERE application_name = 'standby'")
	or die 'the standby did not become synchronous';

$primary->safe_psql('postgres', 'CREATE EXTENSION okra');
OkraTest::wait_for_worker($primary, 'postgres');
my @payments = map { OkraTest::new_payment($sb, 100000) } 1 .. 50;
$primary->safe_psql('postgres', join(';', map { "SELECT okra_verify('$_')" } @payments));

# 50 partial refunds in one transaction: the worker starts once it commits
$primary->safe_psql('postgres',
	join(";\n", 'BEGIN', (map { "SELECT okra_refund_after_commit('$_', 1234)" } @payments), 'COMMIT'));
# kill the primary mid-run: some refunds done, some not
sub carried_out { scalar keys %{ OkraTest::sandbox($sb, 'GET', 'counters')->{refunds} // {} } }
for (1 .. 1000)
{
	last if carried_out() >= 10;
	select(undef, undef, undef, 0.01);
}
my $before = carried_out();
ok($before > 0 && $before < 50, "the primary was killed mid-run ($before of 50 refunds carried out)");
$primary->kill9;
$standby->promote;
ok(OkraTest::wait_for_worker($standby, 'postgres'), 'the promoted standby runs an okra worker');

# it finishes the queue: every request final or unknown (for a person)
$standby->safe_psql('postgres',
	"UPDATE okra_outbox_requests SET lease_until = now() WHERE state = 'sending'");
ok($standby->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM okra_outbox_requests
		  WHERE state IN ('queued', 'sending') OR (state = 'unknown' AND next_attempt_at IS NOT NULL)"),
	'the new primary\'s worker finishes the queue');
my $twice = grep { OkraTest::refunds($sb, $_) > 1 } @payments;
is($twice, 0, 'no refund was carried out twice');
my $never = grep { OkraTest::refunds($sb, $_) == 0 } @payments;
is($never, 0, 'every refund was carried out');
my $unknown = $standby->safe_psql('postgres', "SELECT count(*) FROM okra_outbox_requests WHERE state = 'unknown'");
my $succeeded = $standby->safe_psql('postgres', "SELECT count(*) FROM okra_outbox_requests WHERE state = 'succeeded'");
diag("after the failover: $succeeded succeeded, $unknown unknown for a person (answers lost with the primary)");
is($succeeded + $unknown, 50, 'each request ended succeeded, or unknown for a person');
diag($standby->safe_psql('postgres',
	"SELECT string_agg(DISTINCT state || ' ' || coalesce(sqlstate, '') || ' ' || coalesce(last_error, ''), E'\\n')
	   FROM okra_outbox_requests WHERE state NOT IN ('succeeded', 'unknown')"));
is($standby->safe_psql('postgres',
		"SELECT count(*) FROM okra_outbox_requests o WHERE state = 'succeeded'
		    AND NOT EXISTS (SELECT 1 FROM okra_refunds r WHERE r.refund_id = o.refund_id)"),
	'0', 'every succeeded request has its refund in the ledger');

done_testing();
