# With synchronous_commit = off for the whole server (a common tuning), what
# okra commits before sending is still durable: an outbox claim, and a
# synchronous refund's journal intent.  An immediate shutdown right after
# the send leaves the request "sending" (then checked, never resent) and
# the intent with no outcome (and the guard refuses the next refund).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use OkraTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $sb = OkraTest::start_sandbox();
my $node = PostgreSQL::Test::Cluster->new('async');
$node->init;
OkraTest::configure($node, $sb, "synchronous_commit = off\nwal_writer_delay = '10s'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION okra');
OkraTest::wait_for_worker($node, 'postgres');
my $p1 = OkraTest::new_payment($sb, 10000);
my $p2 = OkraTest::new_payment($sb, 10000);
$node->safe_psql('postgres', "SELECT okra_verify('$p1'), okra_verify('$p2')");

sub requests
{
	my $r = OkraTest::sandbox($sb, 'GET', 'counters')->{requests}{'/v2/pay/refund'} // {};
	my $n = 0;
	$n += $_ for values %$r;
	return $n;
}

# -- the outbox: the refund is carried out, its answer never comes
OkraTest::sandbox($sb, 'POST', 'faults',
	qq({"kind": "after_hang", "ms": 60000, "route": "pay/refund", "payment_id": "$p1"}));
my $req = $node->safe_psql('postgres', "SELECT okra_refund_after_commit('$p1', 400)");
for (1 .. 200)
{
	last if OkraTest::refunds($sb, $p1) == 1;
	select(undef, undef, undef, 0.05);
}
is(OkraTest::refunds($sb, $p1), 1, 'the worker sent the queued refund and the sandbox carried it out');
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', "SELECT state FROM okra_outbox_requests WHERE request_id = $req"),
	'sending', 'after an immediate shutdown the claim survived: the request is still "sending", not "queued"');
$node->safe_psql('postgres',
	"UPDATE okra_outbox_requests SET lease_until = now() - interval '1 s' WHERE request_id = $req");
ok($node->poll_query_until('postgres',
		"SELECT state = 'unknown' AND next_attempt_at IS NULL FROM okra_outbox_requests WHERE request_id = $req"),
	'after its lease it is checked, and left for a person (a partial refund)');
is(requests(), 1, 'the refund was POSTed once');
is(OkraTest::sandbox($sb, 'GET', 'counters')->{idempotent_replays}, 0,
	'and no Idempotency-Key replay was needed');

# -- a synchronous refund: its intent survives the immediate shutdown
OkraTest::wait_for_worker($node, 'postgres');
OkraTest::sandbox($sb, 'POST', 'faults',
	qq({"kind": "after_hang", "ms": 60000, "route": "pay/refund", "payment_id": "$p2"}));
my $h = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'),
		'-c', "SELECT okra_refund('$p2', 500)" ], '>', \my $out, '2>', \my $err);
for (1 .. 200)
{
	last if OkraTest::refunds($sb, $p2) == 1;
	select(undef, undef, undef, 0.05);
}
is(OkraTest::refunds($sb, $p2), 1, 'a synchronous refund was carried out, its answer never comes');
$node->stop('immediate');
$h->finish;
$node->start;
is($node->safe_psql('postgres',
		"SELECT count(*) || ' ' || count(*) FILTER (WHERE outcome IS NULL) FROM okra_journal WHERE payment_id = '$p2'"),
	'1 1', 'the journal has its intent, with no outcome');
OkraTest::wait_for_worker($node, 'postgres');
my ($rc, $o, $e) = $node->psql('postgres', "SELECT okra_refund('$p2', 500)",
	extra_params => [ '-v', 'VERBOSITY=sqlstate' ]);
like($e, qr/ERROR:  OK012/, 'so a retry is refused with OK012');
is(OkraTest::refunds($sb, $p2), 1, 'one refund at the sandbox');

done_testing();
