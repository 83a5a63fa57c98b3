/*
 * bench/verify/client.c: the ceiling for okra_verify's per-call cost.
 *
 *   verify-client URL KEYFILE N ID...
 *
 * Sends N POST URL/pay/verify requests in turn, one at a time, over one
 * keep-alive libcurl easy handle, with the body and headers okra_verify
 * sends ({"payment_id":"<id>"}, cycling through the IDs).  Reads each whole
 * answer and checks for HTTP 200; prints the elapsed seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

struct sink
{
	size_t		len;
};

static size_t
discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void) ptr;
	((struct sink *) userdata)->len += size * nmemb;
	return size * nmemb;
}

int
main(int argc, char **argv)
{
	char		key[512];
	char		auth[600];
	char		url[1024];
	char		body[64];
	FILE	   *f;
	long		n;
	long		i;
	CURL	   *h;
	struct curl_slist *headers = NULL;
	struct sink sink = {0};
	struct timespec t0, t1;

	if (argc < 5)
	{
		fprintf(stderr, "usage: %s URL KEYFILE N ID...\n", argv[0]);
		return 2;
	}
	if ((f = fopen(argv[2], "r")) == NULL || fgets(key, sizeof(key), f) == NULL)
	{
		fprintf(stderr, "cannot read %s\n", argv[2]);
		return 2;
	}
	fclose(f);
	key[strcspn(key, "\r\n")] = '\0';
	n = atol(argv[3]);
	snprintf(url, sizeof(url), "%s/pay/verify", argv[1]);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h = curl_easy_init();
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Accept: application/json");
	headers = curl_slist_append(headers, "Expect:");
	headers = curl_slist_append(headers, auth);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
	{
		long		code = 0;

		snprintf(body, sizeof(body), "{\"payment_id\":\"%s\"}", argv[4 + i % (argc - 4)]);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		if (curl_easy_perform(h) != CURLE_OK ||
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200)
		{
			fprintf(stderr, "request %ld failed (HTTP %ld)\n", i, code);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.6f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return 0;
}
