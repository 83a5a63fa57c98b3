/*-------------------------------------------------------------------------
 *
 * key.c
 *	  Reads the Okra secret key from the file named by okra.api_key_file,
 *	  and the webhook token from the one okra.webhook_token_file names.
 *
 * Each is read when it is needed and cached by path, inode,
 * modification time and size, so an edited file is picked up at the next
 * call.  No message ever shows the file's contents, and only superusers
 * are shown its path (the setting itself is hidden from other roles).
 * "Superuser" is judged on the caller, not on the owner of a SECURITY
 * DEFINER function it went through (may_show_path()).
 * Every error here is 55000: the server is not set up to call Okra.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "okra.h"

/* Largest key file read; Okra's keys are JWTs of a few hundred bytes */
#define OKRA_KEY_FILE_MAX	8192

/* A secret kept in a file a superuser-only setting names */
typedef struct SecretFile
{
	const char *setting;		/* the setting's name */
	const char *what;			/* "Okra API key file": for messages */
	const char *label;			/* "Key file": before the path */
	const char *noun;			/* "key": what the file holds */
	const char *one_line;		/* a sentence: it is one line */
	const char *hint;
	/* the cache, in TopMemoryContext */
	char	   *cached_path;
	char	   *cached_secret;
	dev_t		cached_dev;
	ino_t		cached_ino;
	time_t		cached_mtime;
	long		cached_mtime_nsec;
	off_t		cached_size;
} SecretFile;

static SecretFile key_file = {
	"okra.api_key_file", "Okra API key file", "Key file", "key",
	"An Okra secret key is a single line of text.",
	"Store the Okra secret key in a file readable only by the server's operating-system user and name it in okra.api_key_file."
};

static SecretFile token_file = {
	"okra.webhook_token_file", "Okra webhook token file", "Token file", "token",
	"A webhook token is a single line of text.",
	"Store the bearer token set for webhooks in Okra's dashboard in a file readable only by the server's operating-system user and name it in okra.webhook_token_file."
};

/*---- static prototypes ----*/
static void forget_cached(SecretFile *sf);
static bool may_show_path(void);
static void secret_file_error(SecretFile *sf, const char *path, int err,
							  const char *msg, const char *why) pg_attribute_noreturn();
static char *read_secret(SecretFile *sf, const char *setting_value);

/*
 * Zero and free the cached secret.
 */
static void
forget_cached(SecretFile *sf)
{
	if (sf->cached_secret != NULL)
	{
		explicit_bzero(sf->cached_secret, strlen(sf->cached_secret));
		pfree(sf->cached_secret);
		sf->cached_secret = NULL;
	}
	if (sf->cached_path != NULL)
	{
		pfree(sf->cached_path);
		sf->cached_path = NULL;
	}
}

/*
 * May a message show the key file's path?  Only when both the current user
 * and the outer user (the role in effect outside every SECURITY DEFINER
 * function: the session user, or the role chosen with SET ROLE) are
 * superusers.  Inside a SECURITY DEFINER function owned by a superuser,
 * such as okra_outbox_health(), superuser() alone is true for any caller;
 * and a superuser who has SET ROLE to an ordinary role sees what that role
 * would.
 */
static bool
may_show_path(void)
{
	return superuser() && superuser_arg(GetOuterUserId());
}

/*
 * Raise a 55000 error about a secret file: "<what> <msg>".  A non-zero err
 * is an errno value, shown after msg as ": %m".  The path goes into the
 * detail only for superusers (may_show_path()); "why" is a full sentence
 * or NULL.
 */
static void
secret_file_error(SecretFile *sf, const char *path, int err, const char *msg,
				  const char *why)
{
	bool		show_path = may_show_path();

	errno = err;
	ereport(ERROR,
			errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			err ? errmsg("%s: %m", msg) : errmsg("%s", msg),
			show_path ?
			errdetail_internal("%s%s%s: \"%s\".", why ? why : "", why ? " " : "",
							   sf->label, path) :
			why ? errdetail("%s", why) : 0,
			errhint("%s", sf->hint));
}

/*
 * Return the secret key as a palloc'd string.  The caller should zero it
 * (explicit_bzero) when done.
 */
char *
okra_read_api_key(void)
{
	return read_secret(&key_file, okra_api_key_file);
}

/*
 * Return the webhook token (okra.webhook_token_file) as a palloc'd string;
 * the same rules and cache as the key.
 */
char *
okra_read_webhook_token(void)
{
	return read_secret(&token_file, okra_webhook_token_file);
}

/*
 * The secret in the file setting_value names (relative to the data
 * directory), cached by path, inode, modification time and size.
 */
static char *
read_secret(SecretFile *sf, const char *setting_value)
{
	char	   *path;
	int			fd;
	struct stat st;
	char	   *buf;
	ssize_t		nread;
	size_t		len;
	size_t		i;
	MemoryContext oldcxt;

	if (setting_value == NULL || setting_value[0] == '\0')
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("%s is not set", sf->setting),
				errhint("%s", sf->hint));

	if (is_absolute_path(setting_value))
		path = pstrdup(setting_value);
	else
		path = psprintf("%s/%s", DataDir, setting_value);

	/* (errno saved before psprintf may change it) */
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		int			err = errno;

		secret_file_error(sf, path, err, psprintf("could not open %s", sf->what), NULL);
	}
	if (fstat(fd, &st) != 0)
	{
		int			err = errno;

		secret_file_error(sf, path, err, psprintf("could not stat %s", sf->what), NULL);
	}
	if (!S_ISREG(st.st_mode))
		secret_file_error(sf, path, 0, psprintf("%s is not a regular file", sf->what), NULL);

	/* unchanged since last read: use the cached secret */
	if (sf->cached_secret != NULL && strcmp(sf->cached_path, path) == 0 &&
		sf->cached_dev == st.st_dev && sf->cached_ino == st.st_ino &&
		sf->cached_mtime == st.st_mtim.tv_sec &&
		sf->cached_mtime_nsec == st.st_mtim.tv_nsec &&
		sf->cached_size == st.st_size)
	{
		CloseTransientFile(fd);
		pfree(path);
		return pstrdup(sf->cached_secret);
	}

	if (st.st_mode & (S_IRGRP | S_IROTH))
		ereport(WARNING,
				errcode(ERRCODE_WARNING),
				errmsg("%s is readable by group or others", sf->what),
				may_show_path() ? errdetail_internal("%s: \"%s\".", sf->label, path) : 0,
				errhint("Make it readable only by the server's operating-system user, for example with chmod 600."));

	if (st.st_size > OKRA_KEY_FILE_MAX)
		secret_file_error(sf, path, 0, psprintf("%s is too large", sf->what), sf->one_line);

	buf = palloc(OKRA_KEY_FILE_MAX + 1);
	len = 0;
	for (;;)
	{
		nread = read(fd, buf + len, OKRA_KEY_FILE_MAX + 1 - len);
		if (nread < 0)
		{
			int			err = errno;

			if (err == EINTR)
				continue;
			explicit_bzero(buf, OKRA_KEY_FILE_MAX + 1);
			secret_file_error(sf, path, err, psprintf("could not read %s", sf->what), NULL);
		}
		if (nread == 0)
			break;
		len += nread;
		if (len > OKRA_KEY_FILE_MAX)
		{
			explicit_bzero(buf, OKRA_KEY_FILE_MAX + 1);
			secret_file_error(sf, path, 0, psprintf("%s is too large", sf->what), sf->one_line);
		}
	}
	CloseTransientFile(fd);

	/* strip the trailing line break(s); then it must be one clean line */
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';

	if (len == 0)
		secret_file_error(sf, path, 0, psprintf("%s is empty", sf->what), NULL);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) buf[i];

		if (c < 0x20 || c == 0x7f)
		{
			explicit_bzero(buf, OKRA_KEY_FILE_MAX + 1);
			secret_file_error(sf, path, 0,
							  psprintf("%s is not a single line of text", sf->what),
							  psprintf("The %s must not contain line breaks or other control characters.",
									   sf->noun));
		}
	}

	/* remember it */
	forget_cached(sf);
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	sf->cached_secret = pstrdup(buf);
	sf->cached_path = pstrdup(path);
	MemoryContextSwitchTo(oldcxt);
	sf->cached_dev = st.st_dev;
	sf->cached_ino = st.st_ino;
	sf->cached_mtime = st.st_mtim.tv_sec;
	sf->cached_mtime_nsec = st.st_mtim.tv_nsec;
	sf->cached_size = st.st_size;

	explicit_bzero(buf, OKRA_KEY_FILE_MAX + 1);
	pfree(buf);
	pfree(path);
	return pstrdup(sf->cached_secret);
}
