# Helpers for okra's TAP tests (test/t/*.pl): okra-sandbox, and a node with
# okra preloaded and pointed at it.
package OkraTest;

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

our $repo = abs_path(dirname(__FILE__) . '/../..');
our $key = 'sk_test_okra_tap';
my @sandboxes;

# start_sandbox(args...): okra-sandbox on a free loopback port; its port
sub start_sandbox
{
	my @args = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ "$repo/test/sandbox/okra-sandbox", '--port', '0', '--key', $key,
		  '--seed', "$repo/test/sandbox/seed-test.json", @args ],
		'>', \$out, '2>', \$err);
	my $port;
	for (1 .. 200)
	{
		$h->pump_nb;
		last if ($port) = $out =~ /^OKRA_SANDBOX_PORT=(\d+)/m;
		select(undef, undef, undef, 0.05);
	}
	die "okra-sandbox did not start: $err" unless $port;
	push @sandboxes, $h;
	return $port;
}

# sandbox(port, method, path[, json]): the control API's answer, decoded
sub sandbox
{
	my ($port, $method, $path, $body) = @_;
	my @cmd = ('curl', '-s', '-X', $method, "http://127.0.0.1:$port/_sandbox/$path");
	push @cmd, ('-H', 'Content-Type: application/json', '-d', $body) if defined $body;
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err) or die "curl failed: $err";
	return decode_json($out);
}

# refunds(port, payment_id): how many refunds the sandbox carried out
sub refunds
{
	my ($port, $payment) = @_;
	my $c = sandbox($port, 'GET', 'counters');
	return $c->{refunds}{$payment} ? $c->{refunds}{$payment}{count} : 0;
}

# new_payment(port, amount): a successful sandbox payment's id
sub new_payment
{
	my ($port, $amount) = @_;
	return sandbox($port, 'POST', 'payments',
		qq({"status": "success", "amount": $amount}))->{payment}{id};
}

# configure(node, port, extra conf): okra preloaded, pointed at the sandbox
sub configure
{
	my ($node, $port, $extra) = @_;
	my $keyfile = $node->basedir . '/okra.key';
	open(my $fh, '>', $keyfile) or die;
	print $fh "$key\n";
	close $fh;
	chmod 0600, $keyfile;
	$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'okra'
okra.base_url = 'http://127.0.0.1:$port/v2'
okra.api_key_file = '$keyfile'
okra.outbox_poll_interval = '1s'
) . ($extra // ''));
}

# wait_for_worker(node, db): until the okra worker of db runs
sub wait_for_worker
{
	my ($node, $db) = @_;
	return $node->poll_query_until($db,
		"SELECT worker_running FROM okra_outbox_health()");
}

END
{
	$_->kill_kill for @sandboxes;
}

1;
