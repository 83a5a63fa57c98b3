/*-------------------------------------------------------------------------
 *
 * key.c
 *	  Reads the Okra secret key from the file named by okra.api_key_file.
 *
 * The key is read when a request needs it and cached by path, inode,
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

/*---- the cache, in TopMemoryContext ----*/
static char *cached_path = NULL;
static char *cached_key = NULL;
static dev_t cached_dev;
static ino_t cached_ino;
static time_t cached_mtime;
static long cached_mtime_nsec;
static off_t cached_size;

/*---- static prototypes ----*/
static void forget_cached_key(void);
static bool may_show_path(void);
static void key_file_error(const char *path, int err, const char *msg,
						   const char *why) pg_attribute_noreturn();

/*
 * Zero and free the cached key.
 */
static void
forget_cached_key(void)
{
	if (cached_key != NULL)
	{
		explicit_bzero(cached_key, strlen(cached_key));
		pfree(cached_key);
		cached_key = NULL;
	}
	if (cached_path != NULL)
	{
		pfree(cached_path);
		cached_path = NULL;
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
 * Raise a 55000 error about the key file.  A non-zero err is an errno
 * value, shown after msg as ": %m".  The path goes into the detail only
 * for superusers (may_show_path()); "why" is a full sentence or NULL.
 */
static void
key_file_error(const char *path, int err, const char *msg, const char *why)
{
	bool		show_path = may_show_path();

	errno = err;
	ereport(ERROR,
			errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			err ? errmsg("%s: %m", msg) : errmsg("%s", msg),
			show_path ?
			errdetail_internal("%s%sKey file: \"%s\".",
							   why ? why : "", why ? " " : "", path) :
			why ? errdetail("%s", why) : 0,
			errhint("Store the Okra secret key in a file readable only by the server's operating-system user and name it in okra.api_key_file."));
}

/*
 * Return the secret key as a palloc'd string.  The caller should zero it
 * (explicit_bzero) when done.
 */
char *
okra_read_api_key(void)
{
	char	   *path;
	int			fd;
	struct stat st;
	char	   *buf;
	ssize_t		nread;
	size_t		len;
	size_t		i;
	MemoryContext oldcxt;

	if (okra_api_key_file == NULL || okra_api_key_file[0] == '\0')
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("okra.api_key_file is not set"),
				errhint("Store the Okra secret key in a file readable only by the server's operating-system user and name it in okra.api_key_file."));

	if (is_absolute_path(okra_api_key_file))
		path = pstrdup(okra_api_key_file);
	else
		path = psprintf("%s/%s", DataDir, okra_api_key_file);

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		key_file_error(path, errno, "could not open Okra API key file", NULL);
	}

	if (fstat(fd, &st) != 0)
	{
		key_file_error(path, errno, "could not stat Okra API key file", NULL);
	}
	if (!S_ISREG(st.st_mode))
		key_file_error(path, 0, "Okra API key file is not a regular file", NULL);

	/* unchanged since last read: use the cached key */
	if (cached_key != NULL && strcmp(cached_path, path) == 0 &&
		cached_dev == st.st_dev && cached_ino == st.st_ino &&
		cached_mtime == st.st_mtim.tv_sec &&
		cached_mtime_nsec == st.st_mtim.tv_nsec &&
		cached_size == st.st_size)
	{
		CloseTransientFile(fd);
		pfree(path);
		return pstrdup(cached_key);
	}

	if (st.st_mode & (S_IRGRP | S_IROTH))
		ereport(WARNING,
				errcode(ERRCODE_WARNING),
				errmsg("Okra API key file is readable by group or others"),
				may_show_path() ? errdetail_internal("Key file: \"%s\".", path) : 0,
				errhint("Make it readable only by the server's operating-system user, for example with chmod 600."));

	if (st.st_size > OKRA_KEY_FILE_MAX)
		key_file_error(path, 0, "Okra API key file is too large",
					   "An Okra secret key is a single line of text.");

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
			key_file_error(path, err, "could not read Okra API key file", NULL);
		}
		if (nread == 0)
			break;
		len += nread;
		if (len > OKRA_KEY_FILE_MAX)
		{
			explicit_bzero(buf, OKRA_KEY_FILE_MAX + 1);
			key_file_error(path, 0, "Okra API key file is too large",
						   "An Okra secret key is a single line of text.");
		}
	}
	CloseTransientFile(fd);

	/* strip the trailing line break(s); then it must be one clean line */
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';

	if (len == 0)
		key_file_error(path, 0, "Okra API key file is empty", NULL);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) buf[i];

		if (c < 0x20 || c == 0x7f)
		{
			explicit_bzero(buf, OKRA_KEY_FILE_MAX + 1);
			key_file_error(path, 0, "Okra API key file is not a single line of text",
						   "The key must not contain line breaks or other control characters.");
		}
	}

	/* remember it */
	forget_cached_key();
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	cached_key = pstrdup(buf);
	cached_path = pstrdup(path);
	MemoryContextSwitchTo(oldcxt);
	cached_dev = st.st_dev;
	cached_ino = st.st_ino;
	cached_mtime = st.st_mtim.tv_sec;
	cached_mtime_nsec = st.st_mtim.tv_nsec;
	cached_size = st.st_size;

	explicit_bzero(buf, OKRA_KEY_FILE_MAX + 1);
	pfree(buf);
	pfree(path);
	return pstrdup(cached_key);
}
