/*
 * Bulk payments: bulkfiles/initiate, a multipart/form-data upload with
 * product=initiate_payment and a CSV file whose rows become payments
 * (Okra docs, "Bulk payment"; API.md 5.11 and 8.14). Every function here
 * expects g_lock to be held.
 */
#include "sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { C_DEBIT, C_CREDIT, C_AMOUNT, C_CURRENCY, C_CALLBACK, NCOLS };

static const char *const columns[NCOLS] = {
	[C_DEBIT] = "account_to_debit",
	[C_CREDIT] = "account_to_credit",
	[C_AMOUNT] = "amount",
	[C_CURRENCY] = "currency",
	[C_CALLBACK] = "callback_url",
};

/* ------------------------------------------------------------------ CSV */

struct csv_row {
	char **f;
	size_t n, cap;
};

struct csv {
	struct csv_row *rows;
	size_t n, cap;
};

struct buf {
	char *s;
	size_t n, cap;
};

static void buf_add(struct buf *b, char c)
{
	if (b->n + 1 >= b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->s = xrealloc(b->s, b->cap);
	}
	b->s[b->n++] = c;
	b->s[b->n] = '\0';
}

/* the field in b, without surrounding blanks, onto row */
static void end_field(struct csv_row *row, struct buf *b)
{
	size_t i = 0, j = b->n;
	while (i < j && (b->s[i] == ' ' || b->s[i] == '\t'))
		i++;
	while (j > i && (b->s[j - 1] == ' ' || b->s[j - 1] == '\t'))
		j--;
	char *f = xmalloc(j - i + 1);
	memcpy(f, b->s ? b->s + i : "", j - i);
	f[j - i] = '\0';
	if (row->n == row->cap) {
		row->cap = row->cap ? row->cap * 2 : 8;
		row->f = xrealloc(row->f, row->cap * sizeof *row->f);
	}
	row->f[row->n++] = f;
	b->n = 0;
}

/* keeps row unless it is a blank line */
static void end_row(struct csv *c, struct csv_row *row)
{
	if (row->n == 1 && !*row->f[0]) {
		free(row->f[0]);
		row->n = 0;
		return;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->rows = xrealloc(c->rows, c->cap * sizeof *c->rows);
	}
	c->rows[c->n++] = *row;
	memset(row, 0, sizeof *row);
}

static void csv_free(struct csv *c)
{
	for (size_t r = 0; r < c->n; r++) {
		for (size_t i = 0; i < c->rows[r].n; i++)
			free(c->rows[r].f[i]);
		free(c->rows[r].f);
	}
	free(c->rows);
	memset(c, 0, sizeof *c);
}

/* RFC 4180 with LF or CRLF line ends; -1 on an unterminated quote */
static int csv_parse(const char *s, size_t n, struct csv *c)
{
	struct buf b = { 0 };
	struct csv_row row = { 0 };
	bool quoted = false, any = false;
	size_t i = 0;
	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		i = 3;		/* a UTF-8 byte order mark */
	for (; i < n; i++) {
		char ch = s[i];
		any = true;
		if (quoted) {
			if (ch != '"')
				buf_add(&b, ch);
			else if (i + 1 < n && s[i + 1] == '"')
				buf_add(&b, s[++i]);
			else
				quoted = false;
		} else if (ch == '"' && b.n == 0) {
			quoted = true;
		} else if (ch == ',') {
			end_field(&row, &b);
		} else if (ch == '\n' || (ch == '\r' && i + 1 < n &&
					  s[i + 1] == '\n')) {
			if (ch == '\r')
				i++;
			end_field(&row, &b);
			end_row(c, &row);
			any = false;
		} else {
			buf_add(&b, ch);
		}
	}
	if (any && !quoted) {
		end_field(&row, &b);
		end_row(c, &row);
	}
	for (size_t k = 0; k < row.n; k++)
		free(row.f[k]);
	free(row.f);
	free(b.s);
	if (quoted) {
		csv_free(c);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- rows */

struct row {
	const char *debit, *credit;
	int64_t amount;
};

static bool amount_ok(const char *s, int64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0 || v > MAX_KOBO)
		return false;
	*out = v;
	return true;
}

static bool callback_ok(const char *s)
{
	return !*s || strncmp(s, "https://", 8) == 0 ||
	       strncmp(s, "http://", 7) == 0;
}

/* header -> col[] (position of each column); false when not the five */
static bool read_header(const struct csv_row *h, size_t col[NCOLS])
{
	if (h->n != NCOLS)
		return false;
	for (int k = 0; k < NCOLS; k++) {
		col[k] = NCOLS;
		for (size_t i = 0; i < h->n; i++)
			if (strcmp(h->f[i], columns[k]) == 0)
				col[k] = i;
		if (col[k] == NCOLS)
			return false;
	}
	return true;
}

/* Checks every data row into rows[]; -1 with the message in err, naming
 * the row (the first line after the header is row 1). */
static int read_rows(const struct csv *c, struct row *rows, char *err,
		     size_t errlen)
{
	size_t col[NCOLS];
	if (c->n == 0 || !read_header(&c->rows[0], col)) {
		snprintf(err, errlen, "%s", msg(MSG_BULK_HEADER));
		return -1;
	}
	if (c->n == 1) {
		snprintf(err, errlen, "%s", msg(MSG_BULK_EMPTY));
		return -1;
	}
	for (size_t r = 1; r < c->n; r++) {
		const struct csv_row *cr = &c->rows[r];
		struct row *out = &rows[r - 1];
		const char *bad = NULL;
		if (cr->n != NCOLS) {
			snprintf(err, errlen, msg(MSG_BULK_COLUMNS), r,
				 (size_t)NCOLS);
			return -1;
		}
		out->debit = cr->f[col[C_DEBIT]];
		out->credit = cr->f[col[C_CREDIT]];
		if (!is_oid(out->debit))
			bad = columns[C_DEBIT];
		else if (!is_oid(out->credit))
			bad = columns[C_CREDIT];
		else if (!amount_ok(cr->f[col[C_AMOUNT]], &out->amount))
			bad = columns[C_AMOUNT];
		else if (strcmp(cr->f[col[C_CURRENCY]], "NGN") != 0)
			bad = columns[C_CURRENCY];
		else if (!callback_ok(cr->f[col[C_CALLBACK]]))
			bad = columns[C_CALLBACK];
		if (bad) {
			snprintf(err, errlen, msg(MSG_BULK_ROW), bad, r);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------- endpoint */

/* the uploaded file: {filename, content_type, data} as http.c makes it */
static json_object *file_part(const struct api_req *rq, const char **name)
{
	json_object *f = api_field(rq, "file"), *v;
	if (!rq->multipart || !f || !json_object_is_type(f, json_type_object) ||
	    !json_object_object_get_ex(f, "data", &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	*name = "";
	json_object *n;
	if (json_object_object_get_ex(f, "filename", &n) &&
	    json_object_is_type(n, json_type_string))
		*name = json_object_get_string(n);
	return v;
}

void do_bulk(const struct api_req *rq, int owner, struct resp *out)
{
	const char *product, *name;
	char err[200];
	if (api_str(rq, "product", &product) != FA_OK ||
	    strcmp(product, "initiate_payment") != 0) {
		api_bad_field(out, "product");
		return;
	}
	json_object *data = file_part(rq, &name);
	struct csv c = { 0 };
	if (!data || csv_parse(json_object_get_string(data),
			       (size_t)json_object_get_string_len(data),
			       &c) < 0) {
		api_bad_field(out, "file");
		return;
	}
	struct row *rows = xcalloc(c.n, sizeof *rows);
	if (read_rows(&c, rows, err, sizeof err) < 0) {
		api_fail(out, err);
		free(rows);
		csv_free(&c);
		return;
	}

	struct bulkfile *b = xcalloc(1, sizeof *b);
	b->created_at = now_ms();
	new_oid(b->created_at, b->id);
	b->owner = owner;
	b->env = rq->env;
	char seed[64];
	snprintf(seed, sizeof seed, "user:%s", g_model.owners[owner].id);
	derived_oid(seed, b->user);
	b->file_name = xstrdup(name);
	strcpy(b->status, "processed");
	b->npays = c.n - 1;
	b->pays = xcalloc(b->npays, sizeof *b->pays);
	for (size_t i = 0; i < b->npays; i++) {
		struct payment *p = payment_new(owner, rq->env, NULL);
		p->amount = rows[i].amount;
		memcpy(p->debit_account, rows[i].debit, OID_LEN + 1);
		memcpy(p->credit_account, rows[i].credit, OID_LEN + 1);
		snprintf(seed, sizeof seed, "customer:%s", rows[i].debit);
		derived_oid(seed, p->customer);
		p->source = "bulk";
		memcpy(b->pays[i], p->id, OID_LEN + 1);
	}
	LIST_APPEND(g_model.bulkfiles, g_model.bulkfiles_tail, b);
	free(rows);
	csv_free(&c);
	api_data1(out, MSG_BULK_OK, "bulkfile", shape_bulkfile(b));
}
