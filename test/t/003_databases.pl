# Every database where okra is installed is served, with no configuration
# and no restart: installing okra in a new database starts its worker (the
# outbox is sent, synchronous calls are journaled), dropping the extension
# stops it, and DROP DATABASE is not blocked by it.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use OkraTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $sb = OkraTest::start_sandbox();
my $node = PostgreSQL::Test::Cluster->new('dbs');
$node->init;
OkraTest::configure($node, $sb, "okra.outbox_poll_interval = '60s'\n");
$node->start;
sub workers { "SELECT count(*) = $_[0] FROM pg_stat_activity WHERE backend_type = 'okra worker'" }

$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->safe_psql('postgres', 'CREATE DATABASE other');
is($node->safe_psql('postgres', workers(0)), 't', 'no worker where okra is not installed');

$node->safe_psql('shop', 'CREATE EXTENSION okra');
ok(OkraTest::wait_for_worker($node, 'shop'), 'CREATE EXTENSION okra in "shop" starts its worker');
my $p = OkraTest::new_payment($sb, 10000);
$node->safe_psql('shop', "SELECT okra_verify('$p')");
my $req = $node->safe_psql('shop', "SELECT okra_refund_after_commit('$p', 100)");
is($node->safe_psql('shop', "SELECT okra_outbox_wait($req, '10 s')"), 'succeeded',
	'a refund queued in "shop" is sent after commit');
is($node->safe_psql('shop', "SELECT amount FROM okra_refund('$p', 200)"), '200',
	'a synchronous refund in "shop" goes');
is($node->safe_psql('shop', "SELECT outcome FROM okra_journal WHERE payment_id = '$p'"),
	'succeeded', 'and is journaled there');

$node->safe_psql('other', 'CREATE EXTENSION okra');
ok(OkraTest::wait_for_worker($node, 'other'), 'a second database gets its own worker');
is($node->safe_psql('postgres', workers(2)), 't', 'two workers, one per database with okra');

$node->safe_psql('other', 'DROP EXTENSION okra');
ok($node->poll_query_until('postgres', workers(1)), 'DROP EXTENSION okra stops that database\'s worker');
$node->safe_psql('other', 'CREATE EXTENSION okra');
ok(OkraTest::wait_for_worker($node, 'other'), 'installing it again starts one again, without a restart');

my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE shop');
is($rc, 0, "DROP DATABASE of a served database works ($err)");
ok($node->poll_query_until('postgres', workers(1)), 'and its worker is gone');

done_testing();
