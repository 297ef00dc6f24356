/*
 * output.c
 *	  Printing text from the database safely, aligned tables, HTML text, and
 *	  the server's own COPY output (CSV).
 *
 *	  Text from the database (a medicine name in a reason, a unit name, a
 *	  server message quoting a value) may hold terminal control sequences
 *	  such as ESC[2J.  Everything the client prints for a terminal goes
 *	  through cf_safe(): C0 and C1 control characters, DEL, Unicode
 *	  direction overrides and bytes that are not UTF-8 are written as visible
 *	  escapes (\n, \t, \r, \x1B, \u009B, \u202E), never raw.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "careflags.h"

/* Length of the UTF-8 sequence starting at p (1-4), or 0 when it is not valid UTF-8. */
static int
utf8_len(const unsigned char *p)
{
	int			n,
				i;
	unsigned int cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2, cp = p[0] & 0x1F;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3, cp = p[0] & 0x0F;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++)
	{
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		(n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

/* The code point of a valid UTF-8 sequence of length n. */
static unsigned int
utf8_code(const unsigned char *p, int n)
{
	unsigned int cp = (n == 1) ? p[0] : (n == 2) ? (p[0] & 0x1Fu) : (n == 3) ? (p[0] & 0x0Fu) : (p[0] & 0x07u);
	int			i;

	for (i = 1; i < n; i++)
		cp = (cp << 6) | (p[i] & 0x3Fu);
	return cp;
}

/*
 * s with every character a terminal would act on written as a visible escape;
 * malloc'd.  keep_newlines leaves line breaks as they are (multi-line server
 * messages).
 */
char *
cf_safe_dup(const char *s, bool keep_newlines)
{
	const unsigned char *p = (const unsigned char *) (s ? s : "");
	size_t		cap = strlen((const char *) p) * 6 + 1;
	char	   *buf = malloc(cap);
	size_t		n = 0;

	if (buf == NULL)
	{
		cf_error("out of memory");
		exit(CF_EXIT_FAIL);
	}
	while (*p)
	{
		int			len = utf8_len(p);
		unsigned int cp;

		if (len == 0)
		{
			n += (size_t) snprintf(buf + n, cap - n, "\\x%02X", *p);
			p++;
			continue;
		}
		cp = utf8_code(p, len);
		if (cp == '\n' && keep_newlines)
			buf[n++] = '\n';
		else if (cp == '\n')
			n += (size_t) snprintf(buf + n, cap - n, "\\n");
		else if (cp == '\t')
			n += (size_t) snprintf(buf + n, cap - n, "\\t");
		else if (cp == '\r')
			n += (size_t) snprintf(buf + n, cap - n, "\\r");
		else if (cp < 0x20 || cp == 0x7F)
			n += (size_t) snprintf(buf + n, cap - n, "\\x%02X", cp);
		else if ((cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
				 (cp >= 0x2066 && cp <= 0x2069))
			n += (size_t) snprintf(buf + n, cap - n, "\\u%04X", cp);
		else
		{
			memcpy(buf + n, p, (size_t) len);
			n += (size_t) len;
		}
		p += len;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * cf_safe_dup(s, false) for use as a printf argument: the result lives until
 * 16 more calls have been made (enough for one line of output).
 */
const char *
cf_safe(const char *s)
{
	static char *ring[16];
	static int	next = 0;

	free(ring[next]);
	ring[next] = cf_safe_dup(s, false);
	s = ring[next];
	next = (next + 1) % 16;
	return s;
}

/* Text for HTML content or attribute values. */
void
cf_html_text(FILE *out, const char *s)
{
	const char *p;

	for (p = s; *p; p++)
	{
		switch (*p)
		{
			case '&':
				fputs("&amp;", out);
				break;
			case '<':
				fputs("&lt;", out);
				break;
			case '>':
				fputs("&gt;", out);
				break;
			case '"':
				fputs("&quot;", out);
				break;
			case '\'':
				fputs("&#39;", out);
				break;
			default:
				if ((unsigned char) *p < 0x20 && *p != '\n' && *p != '\t')
					fprintf(out, "&#xFFFD;");	/* not allowed in HTML text */
				else
					fputc(*p, out);
		}
	}
}

/* Display width of a UTF-8 string (code points; good enough for names). */
static int
text_width(const char *s)
{
	int			w = 0;

	for (; *s; s++)
		if ((*s & 0xC0) != 0x80)
			w++;
	return w;
}

/*
 * An aligned table of the columns cols[] of res under headers[]; right[c]
 * right-aligns a column (numbers), NULL is shown empty, every value escaped.
 */
void
cf_print_table(FILE *out, PGresult *res, const char *const *headers, const int *cols,
			   const bool *right, int ncols)
{
	int			nrows = PQntuples(res);
	int		   *width = calloc((size_t) ncols, sizeof(int));
	char	  **cell = calloc((size_t) (nrows * ncols + 1), sizeof(char *));
	int			r,
				c;

	if (width == NULL || cell == NULL)
	{
		cf_error("out of memory");
		exit(CF_EXIT_FAIL);
	}
	for (c = 0; c < ncols; c++)
	{
		width[c] = text_width(headers[c]);
		for (r = 0; r < nrows; r++)
		{
			int			w;

			cell[r * ncols + c] = cf_safe_dup(PQgetvalue(res, r, cols[c]), false);
			w = text_width(cell[r * ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	}
	for (c = 0; c < ncols; c++)
		fprintf(out, "%s%-*s", c ? " | " : " ", width[c] + (int) strlen(headers[c]) - text_width(headers[c]), headers[c]);
	fputc('\n', out);
	for (c = 0; c < ncols; c++)
	{
		int			k;

		fputs(c ? "-+-" : "-", out);
		for (k = 0; k < width[c]; k++)
			fputc('-', out);
	}
	fputs("-\n", out);
	for (r = 0; r < nrows; r++)
	{
		for (c = 0; c < ncols; c++)
		{
			const char *v = cell[r * ncols + c];
			int			pad = width[c] - text_width(v);

			fputs(c ? " | " : " ", out);
			if (right[c])
				fprintf(out, "%*s%s", pad, "", v);
			else
				fprintf(out, "%s%*s", v, pad, "");
		}
		fputc('\n', out);
	}
	for (r = 0; r < nrows * ncols; r++)
		free(cell[r]);
	free(cell);
	free(width);
}

/*
 * Run a COPY ... TO STDOUT and write what the server sends to out; each row
 * ends in CRLF when crlf (RFC 4180 CSV).  On failure print the server's error
 * and return false.
 */
bool
cf_copy_out(FILE *out, PGconn *conn, const char *sql, bool crlf)
{
	PGresult   *res = PQexec(conn, sql);
	char	   *buf;
	int			len;
	bool		ok = true;

	if (PQresultStatus(res) != PGRES_COPY_OUT)
	{
		cf_pq_error(conn, "query failed");
		PQclear(res);
		return false;
	}
	PQclear(res);
	while ((len = PQgetCopyData(conn, &buf, 0)) > 0)
	{
		if (crlf && buf[len - 1] == '\n')
		{
			fwrite(buf, 1, (size_t) len - 1, out);
			fputs("\r\n", out);
		}
		else
			fwrite(buf, 1, (size_t) len, out);
		PQfreemem(buf);
	}
	if (len == -2)
	{
		cf_pq_error(conn, "COPY failed");
		ok = false;
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			cf_pq_error(conn, "query failed");
			ok = false;
		}
		PQclear(res);
	}
	return ok;
}
