# A hot standby sends nothing that moves money and runs no okra worker;
# once promoted, its worker journals synchronous calls and sends the
# outbox queued before the failover.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use OkraTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $sb = OkraTest::start_sandbox();
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
OkraTest::configure($primary, $sb);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION okra');
OkraTest::wait_for_worker($primary, 'postgres');
my $p1 = OkraTest::new_payment($sb, 10000);
my $p2 = OkraTest::new_payment($sb, 10000);
$primary->safe_psql('postgres', "SELECT okra_verify('$p1'), okra_verify('$p2')");

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

# a refund queued on the primary that cannot reach Okra from there: it
# stays queued (08001 is retried), and the standby has it
$primary->safe_psql('postgres', "ALTER SYSTEM SET okra.base_url = 'http://127.0.0.1:1/v2'");
$primary->reload;
my $req = $primary->safe_psql('postgres', "SELECT okra_refund_after_commit('$p2', 300)");
$primary->poll_query_until('postgres',
	"SELECT sqlstate = '08001' AND state = 'queued' FROM okra_outbox_requests WHERE request_id = $req")
	or die 'the primary did not try the refund';
$primary->wait_for_catchup($standby);

# -- on the standby: 25006, nothing sent, no worker
for my $call ("okra_refund('$p1', 100)", "okra_cancel('$p1')", "okra_verify('$p1')",
	"okra_request('pay/cancel', '{\"payment_id\": \"$p1\"}')")
{
	my ($rc, $out, $err) = $standby->psql('postgres', "SELECT $call",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:  25006: cannot call okra_\w+ in a read-only transaction/,
		"on a hot standby, $call is refused with 25006");
	like($err, qr/Nothing was sent to Okra\..*HINT:  Call it on the primary server/s,
		'... saying nothing was sent, and where to call it');
}
is(OkraTest::sandbox($sb, 'GET', 'counters')->{requests}{'/v2/pay/refund'}, undef,
	'the sandbox got no refund');
is($standby->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('okra launcher', 'okra worker')"),
	'0', 'a standby runs no okra launcher or worker');

# -- promoted: its worker journals and sends
$primary->stop('immediate');
$standby->promote;
ok(OkraTest::wait_for_worker($standby, 'postgres'), 'after promotion, an okra worker serves the database');
is($standby->safe_psql('postgres', "SELECT amount FROM okra_refund('$p1', 100)"), '100',
	'a refund on the promoted standby goes');
is($standby->safe_psql('postgres',
		"SELECT outcome FROM okra_journal WHERE payment_id = '$p1'"),
	'succeeded', 'and is journaled there');
is(OkraTest::refunds($sb, $p1), 1, 'the sandbox carried it out once');
ok($standby->poll_query_until('postgres',
		"SELECT state = 'succeeded' FROM okra_outbox_requests WHERE request_id = $req"),
	'the refund queued on the old primary is sent by the new one');
is(OkraTest::refunds($sb, $p2), 1, 'once');

done_testing();
