/*
 * static-responder: the baseline for bench/sandbox/run.sh.
 *
 * A libmicrohttpd server that does the least an HTTP JSON API can do: it
 * reads and discards every request body and answers every request with the
 * same fixed JSON body (by default shaped like okra-sandbox's pay/verify
 * answer; --body-file gives the exact bytes, which run.sh captures from the
 * sandbox so both servers send bodies of identical size).
 *
 * Its threading model is a flag (--mode) so it can be matched to whatever
 * test/sandbox/okra-sandbox uses. The defaults are what the sandbox's
 * http_start() (test/sandbox/http.c) asks for: MHD_USE_THREAD_PER_CONNECTION
 * | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_TURBO, a 64 KiB
 * connection memory limit and 512 KiB thread stacks.
 *
 * With --port 0 the kernel picks a free port; the first stdout line is then
 * "PORT=N", flushed as soon as the socket listens. SIGTERM/SIGINT stop it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

/* Same shape as okra-sandbox's pay/verify success envelope. */
static const char default_body[] =
	"{\"status\":\"success\",\"message\":\"Payment Status suceccefully retrieved!\","
	"\"data\":{\"payment_status\":{\"_id\":\"5f88ebf63103d912f1d4baca\","
	"\"amount\":10000,\"currency\":\"NGN\",\"customer\":\"5f5b67748df30163f294f432\","
	"\"link\":\"https://app.okra.ng/pay/5f88ebf63103d912f1d4baca\","
	"\"status\":\"success\",\"response_status\":\"success\"}}}";

static char *body;
static size_t body_len;
static const char *content_type = "application/json";
static struct MHD_Response *shared_response; /* --shared-response */

/* Marker stored in *req_cls once the request has been seen. */
static int seen_marker;

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload_data,
       size_t *upload_data_size, void **req_cls)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void) cls; (void) url; (void) method; (void) version; (void) upload_data;

	if (*req_cls == NULL) {
		/* Headers only: ask MHD for the body (if any). */
		*req_cls = &seen_marker;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		/* Discard the body chunk. */
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (shared_response != NULL)
		return MHD_queue_response(conn, MHD_HTTP_OK, shared_response);

	resp = MHD_create_response_from_buffer(body_len, body,
					       MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				    content_type) != MHD_YES) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: static-responder [options]\n"
		"  --host ADDR          IPv4 address to bind (default 127.0.0.1)\n"
		"  --port N             port, 0 = any free one (default 0); prints PORT=N\n"
		"  --mode MODE          threading model (default tpc):\n"
		"                         tpc         thread per connection + internal\n"
		"                                     polling thread, poll()\n"
		"                         tpc-select  the same with select()\n"
		"                         poll        internal polling thread(s), poll()\n"
		"                         epoll       internal polling thread(s), epoll\n"
		"                         select      internal polling thread(s), select()\n"
		"                         auto        MHD_USE_AUTO_INTERNAL_THREAD\n"
		"  --threads N          thread pool size for poll/epoll/select/auto (default 1)\n"
		"  --no-turbo           without MHD_USE_TURBO (default: with)\n"
		"  --memory-limit N     MHD_OPTION_CONNECTION_MEMORY_LIMIT (default 65536)\n"
		"  --stack-size N       MHD_OPTION_THREAD_STACK_SIZE (default 524288)\n"
		"  --body-file FILE     answer with this file's bytes\n"
		"  --body-size N        pad/truncate the default body to N bytes\n"
		"  --content-type TYPE  Content-Type header (default application/json)\n"
		"  --shared-response    one MHD_Response for all requests instead of one\n"
		"                       per request\n"
		"  --connection-limit N (default: MHD's)\n"
		"  -h, --help\n");
}

static long
parse_long(const char *flag, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "static-responder: bad value for %s: %s\n", flag, s);
		exit(2);
	}
	return v;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL) {
		fprintf(stderr, "static-responder: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			if (buf == NULL) {
				fprintf(stderr, "static-responder: out of memory\n");
				exit(1);
			}
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	if (ferror(f)) {
		fprintf(stderr, "static-responder: %s: read error\n", path);
		exit(2);
	}
	fclose(f);
	*len = n;
	return buf;
}

int
main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	const char *mode = "tpc";
	const char *body_file = NULL;
	long port = 0, threads = 1, body_size = -1, conn_limit = 0;
	long mem_limit = 65536, stack_size = 512 * 1024;
	int turbo = 1, shared = 0;
	unsigned int flags;
	struct sockaddr_in addr;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	struct MHD_OptionItem opts[6];
	int sig, i, nopt;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
		int takes = 1;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--turbo")) {
			turbo = 1; takes = 0;
		} else if (!strcmp(a, "--no-turbo")) {
			turbo = 0; takes = 0;
		} else if (!strcmp(a, "--shared-response")) {
			shared = 1; takes = 0;
		} else if (v == NULL) {
			usage(stderr);
			return 2;
		} else if (!strcmp(a, "--host")) {
			host = v;
		} else if (!strcmp(a, "--port")) {
			port = parse_long(a, v, 0, 65535);
		} else if (!strcmp(a, "--mode")) {
			mode = v;
		} else if (!strcmp(a, "--threads")) {
			threads = parse_long(a, v, 1, 1024);
		} else if (!strcmp(a, "--body-file")) {
			body_file = v;
		} else if (!strcmp(a, "--body-size")) {
			body_size = parse_long(a, v, 0, 16L * 1024 * 1024);
		} else if (!strcmp(a, "--content-type")) {
			content_type = v;
		} else if (!strcmp(a, "--memory-limit")) {
			mem_limit = parse_long(a, v, 0, LONG_MAX);
		} else if (!strcmp(a, "--stack-size")) {
			stack_size = parse_long(a, v, 0, LONG_MAX);
		} else if (!strcmp(a, "--connection-limit")) {
			conn_limit = parse_long(a, v, 1, INT_MAX);
		} else {
			usage(stderr);
			return 2;
		}
		i += takes;
	}

	if (body_file != NULL) {
		body = read_file(body_file, &body_len);
	} else {
		body_len = sizeof(default_body) - 1;
		body = malloc(body_len + 1);
		if (body == NULL)
			return 1;
		memcpy(body, default_body, body_len + 1);
	}
	if (body_size >= 0 && (size_t) body_size != body_len) {
		/* Pad with spaces (still valid JSON) or cut. */
		char *nb = malloc((size_t) body_size + 1);
		if (nb == NULL)
			return 1;
		if ((size_t) body_size > body_len) {
			memcpy(nb, body, body_len);
			memset(nb + body_len, ' ', (size_t) body_size - body_len);
		} else {
			memcpy(nb, body, (size_t) body_size);
		}
		free(body);
		body = nb;
		body_len = (size_t) body_size;
	}

	if (!strcmp(mode, "tpc"))
		flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	else if (!strcmp(mode, "tpc-select"))
		flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
	else if (!strcmp(mode, "poll"))
		flags = MHD_USE_POLL_INTERNAL_THREAD;
	else if (!strcmp(mode, "epoll"))
		flags = MHD_USE_EPOLL_INTERNAL_THREAD;
	else if (!strcmp(mode, "select"))
		flags = MHD_USE_INTERNAL_POLLING_THREAD;
	else if (!strcmp(mode, "auto"))
		flags = MHD_USE_AUTO_INTERNAL_THREAD;
	else {
		fprintf(stderr, "static-responder: unknown --mode %s\n", mode);
		return 2;
	}
	if (turbo)
		flags |= MHD_USE_TURBO;
	flags |= MHD_USE_ERROR_LOG;
	if (threads > 1 && (flags & MHD_USE_THREAD_PER_CONNECTION)) {
		fprintf(stderr, "static-responder: --threads needs a non-tpc --mode\n");
		return 2;
	}

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t) port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		fprintf(stderr, "static-responder: bad --host %s\n", host);
		return 2;
	}

	/* Block the stop signals in every thread; main collects them below. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (shared) {
		shared_response = MHD_create_response_from_buffer(
			body_len, body, MHD_RESPMEM_PERSISTENT);
		if (shared_response == NULL ||
		    MHD_add_response_header(shared_response,
					    MHD_HTTP_HEADER_CONTENT_TYPE,
					    content_type) != MHD_YES) {
			fprintf(stderr, "static-responder: cannot build response\n");
			return 1;
		}
	}

	nopt = 0;
	opts[nopt++] = (struct MHD_OptionItem) {
		MHD_OPTION_SOCK_ADDR, 0, &addr };
	if (threads > 1)
		opts[nopt++] = (struct MHD_OptionItem) {
			MHD_OPTION_THREAD_POOL_SIZE, (intptr_t) threads, NULL };
	if (conn_limit > 0)
		opts[nopt++] = (struct MHD_OptionItem) {
			MHD_OPTION_CONNECTION_LIMIT, (intptr_t) conn_limit, NULL };
	if (mem_limit > 0)
		opts[nopt++] = (struct MHD_OptionItem) {
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t) mem_limit, NULL };
	if (stack_size > 0)
		opts[nopt++] = (struct MHD_OptionItem) {
			MHD_OPTION_THREAD_STACK_SIZE, (intptr_t) stack_size, NULL };
	opts[nopt++] = (struct MHD_OptionItem) { MHD_OPTION_END, 0, NULL };

	d = MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL,
			     MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "static-responder: cannot start daemon on %s:%ld\n",
			host, port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0) {
		fprintf(stderr, "static-responder: cannot read bound port\n");
		MHD_stop_daemon(d);
		return 1;
	}
	printf("PORT=%u\n", (unsigned int) info->port);
	fflush(stdout);
	fprintf(stderr, "static-responder: listening on %s:%u, mode %s%s, "
		"threads %ld, memory limit %ld, stack %ld, body %zu bytes%s\n", host, (unsigned int) info->port,
		mode, turbo ? "+turbo" : "",
		(flags & MHD_USE_THREAD_PER_CONNECTION) ? 0L : threads,
		mem_limit, stack_size, body_len,
		shared ? ", shared response" : "");

	while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
		;
	MHD_stop_daemon(d);
	if (shared_response != NULL)
		MHD_destroy_response(shared_response);
	free(body);
	return 0;
}
