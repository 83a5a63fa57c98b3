/*
 * okra-sandbox: flags, signals, daemon start and stop.
 * See README.md for the contract.
 */
#include "sandbox.h"

#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GRACE_MS 10000	/* longest wait for in-flight requests on stop */

struct config g_cfg;
struct settings g_set;

static const char usage[] =
	"usage: okra-sandbox [options]\n"
	"A local emulator of Okra's payments API v2 (see test/sandbox/README.md).\n"
	"\n"
	"  --host ADDR             address to bind (IPv4 literal; default 127.0.0.1)\n"
	"  --port N                port, 0 picks a free one (default 8089)\n"
	"  --key KEY               accepted secret key, repeatable\n"
	"                          (default sk_test_okra_sandbox)\n"
	"  --tls-cert FILE         serve HTTPS with this PEM certificate...\n"
	"  --tls-key FILE          ...and this PEM key\n"
	"  --latency-ms N          delay before every API response (default 0)\n"
	"  --jitter-ms N           plus a random 0..N ms (default 0)\n"
	"  --rate-limit N          requests per minute per key, 0 = off (default 0)\n"
	"  --refund-settle-ms N    initiated refunds complete after N ms, 0 = never\n"
	"  --wallet KOBO           starting Okra Wallet balance (default 100000000)\n"
	"  --seed FILE             JSON seed file\n"
	"  --max-body BYTES        largest request body (default 1048576)\n"
	"  --webhook-url URL       POST a webhook there on every payment status change\n"
	"  --webhook-token TOKEN   sent as Authorization: Bearer TOKEN\n"
	"  --webhook-tries N       POSTs per webhook before giving up (default 6)\n"
	"  --webhook-backoff-ms N  wait before the first retry, doubled after each\n"
	"                          (default 500)\n"
	"  --webhook-timeout-ms N  limit of one webhook POST (default 5000)\n"
	"  -v, --verbose           log each request to stderr (twice: bodies too)\n"
	"  -q, --quiet             only errors on stderr\n"
	"  -h, --help              this text\n"
	"\n"
	"The first line on stdout is OKRA_SANDBOX_PORT=<port>.\n";

static long long num(const char *flag, const char *s, long long lo,
		     long long hi)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || !*s || *end || v < lo || v > hi) {
		fprintf(stderr, "okra-sandbox: invalid %s: %s\n", flag, s);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv)
{
	enum {
		O_HOST = 256, O_PORT, O_KEY, O_CERT, O_TLSKEY, O_LAT, O_JIT,
		O_RATE, O_SETTLE, O_WALLET, O_SEED, O_MAXBODY, O_WH_URL,
		O_WH_TOKEN, O_WH_TRIES, O_WH_BACKOFF, O_WH_TIMEOUT
	};
	static const struct option opts[] = {
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "key", required_argument, NULL, O_KEY },
		{ "tls-cert", required_argument, NULL, O_CERT },
		{ "tls-key", required_argument, NULL, O_TLSKEY },
		{ "latency-ms", required_argument, NULL, O_LAT },
		{ "jitter-ms", required_argument, NULL, O_JIT },
		{ "rate-limit", required_argument, NULL, O_RATE },
		{ "refund-settle-ms", required_argument, NULL, O_SETTLE },
		{ "wallet", required_argument, NULL, O_WALLET },
		{ "seed", required_argument, NULL, O_SEED },
		{ "max-body", required_argument, NULL, O_MAXBODY },
		{ "webhook-url", required_argument, NULL, O_WH_URL },
		{ "webhook-token", required_argument, NULL, O_WH_TOKEN },
		{ "webhook-tries", required_argument, NULL, O_WH_TRIES },
		{ "webhook-backoff-ms", required_argument, NULL, O_WH_BACKOFF },
		{ "webhook-timeout-ms", required_argument, NULL, O_WH_TIMEOUT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const long long day = 86400000LL;

	g_cfg.host = "127.0.0.1";
	g_cfg.port = 8089;
	g_cfg.wallet = 100000000;
	g_cfg.max_body = 1048576;
	g_cfg.webhook_tries = 6;
	g_cfg.webhook_backoff_ms = 500;
	g_cfg.webhook_timeout_ms = 5000;
	g_cfg.keys = calloc((size_t)argc + 1, sizeof *g_cfg.keys);
	if (!g_cfg.keys)
		abort();

	int c;
	while ((c = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (c) {
		case O_HOST: g_cfg.host = optarg; break;
		case O_PORT:
			g_cfg.port = (unsigned)num("--port", optarg, 0, 65535);
			break;
		case O_KEY:
			if (!*optarg) {
				fputs("okra-sandbox: empty --key\n", stderr);
				exit(2);
			}
			g_cfg.keys[g_cfg.nkeys++] = optarg;
			break;
		case O_CERT: g_cfg.tls_cert = optarg; break;
		case O_TLSKEY: g_cfg.tls_key = optarg; break;
		case O_LAT:
			g_cfg.initial.latency_ms =
				(long)num("--latency-ms", optarg, 0, day);
			break;
		case O_JIT:
			g_cfg.initial.jitter_ms =
				(long)num("--jitter-ms", optarg, 0, day);
			break;
		case O_RATE:
			g_cfg.initial.rate_limit =
				(long)num("--rate-limit", optarg, 0, 100000000);
			break;
		case O_SETTLE:
			g_cfg.initial.refund_settle_ms =
				(long)num("--refund-settle-ms", optarg, 0, day);
			break;
		case O_WALLET:
			g_cfg.wallet = num("--wallet", optarg, 0, MAX_KOBO);
			break;
		case O_SEED: g_cfg.seed_path = optarg; break;
		case O_MAXBODY:
			g_cfg.max_body = (size_t)num("--max-body", optarg, 0,
						     1LL << 30);
			break;
		case O_WH_URL:
			if (strncmp(optarg, "http://", 7) != 0 &&
			    strncmp(optarg, "https://", 8) != 0) {
				fprintf(stderr, "okra-sandbox: invalid --webhook-url: "
					"%s\n", optarg);
				exit(2);
			}
			g_cfg.webhook_url = optarg;
			break;
		case O_WH_TOKEN:
			for (const char *t = optarg; *t; t++)
				if (*t <= ' ' || *t > '~') {
					fputs("okra-sandbox: invalid --webhook-token\n",
					      stderr);
					exit(2);
				}
			g_cfg.webhook_token = optarg;
			break;
		case O_WH_TRIES:
			g_cfg.webhook_tries = (long)num("--webhook-tries", optarg,
							1, 20);
			break;
		case O_WH_BACKOFF:
			g_cfg.webhook_backoff_ms =
				(long)num("--webhook-backoff-ms", optarg, 0, 600000);
			break;
		case O_WH_TIMEOUT:
			g_cfg.webhook_timeout_ms =
				(long)num("--webhook-timeout-ms", optarg, 1, 600000);
			break;
		case 'v': g_cfg.verbose++; break;
		case 'q': g_cfg.quiet = true; break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "okra-sandbox: unexpected argument: %s\n",
			argv[optind]);
		exit(2);
	}
	if (g_cfg.nkeys == 0)
		g_cfg.keys[g_cfg.nkeys++] = "sk_test_okra_sandbox";
	g_set = g_cfg.initial;
}

int main(int argc, char **argv)
{
	char err[512];
	parse_args(argc, argv);

	if (seed_load(err, sizeof err) < 0) {
		fprintf(stderr, "okra-sandbox: %s\n", err);
		return 1;
	}
	lock();
	int rc = model_init(err, sizeof err);
	unlock();
	if (rc < 0) {
		fprintf(stderr, "okra-sandbox: %s\n", err);
		sandbox_free_all();
		free(g_cfg.keys);
		return 1;
	}

	/* Signals are taken synchronously by this thread; every thread
	 * started from here on inherits the blocked mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (webhooks_start(err, sizeof err) < 0) {
		fprintf(stderr, "okra-sandbox: %s\n", err);
		sandbox_free_all();
		free(g_cfg.keys);
		return 1;
	}
	struct MHD_Daemon *d = http_start(err, sizeof err);
	if (!d) {
		fprintf(stderr, "okra-sandbox: %s\n", err);
		webhooks_stop();
		http_free();
		sandbox_free_all();
		free(g_cfg.keys);
		return 1;
	}
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = di ? di->port : g_cfg.port;
	printf("OKRA_SANDBOX_PORT=%u\n", port);
	fflush(stdout);
	if (!g_cfg.quiet)
		fprintf(stderr, "okra-sandbox: listening on %s://%s:%u "
			"(%zu key%s)\n", g_cfg.tls_cert ? "https" : "http",
			g_cfg.host, port, g_cfg.nkeys,
			g_cfg.nkeys == 1 ? "" : "s");

	int sig = 0;
	while (sigwait(&set, &sig) != 0)
		;
	if (!g_cfg.quiet)
		fprintf(stderr, "okra-sandbox: %s, stopping\n",
			sig == SIGINT ? "SIGINT" : "SIGTERM");

	/* Stop accepting, let in-flight requests finish (hangs end now,
	 * nothing waits past the grace), then stop the daemon. */
	MHD_socket lsock = MHD_quiesce_daemon(d);
	sb_begin_stop(GRACE_MS);
	for (int waited = 0; http_in_flight() > 0 && waited < GRACE_MS + 1000;
	     waited += 10)
		usleep(10000);
	MHD_stop_daemon(d);	/* closes idle connections, joins threads */
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock);
	http_free();
	webhooks_stop();	/* a POST under way is cut short */
	sandbox_free_all();
	free(g_cfg.keys);
	return 0;
}
