/*
 * output.c
 *	  Writing values as CSV, JSON, HTML text and aligned tables; reading one
 *	  field of a flat JSON object (the NOTIFY payload).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "careflags.h"

/* A CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
void
cf_csv_field(FILE *out, const char *s)
{
	const char *p;

	if (strpbrk(s, ",\"\r\n") == NULL)
	{
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (p = s; *p; p++)
	{
		if (*p == '"')
			fputc('"', out);
		fputc(*p, out);
	}
	fputc('"', out);
}

/* A JSON string literal. */
void
cf_json_string(FILE *out, const char *s)
{
	const unsigned char *p;

	fputc('"', out);
	for (p = (const unsigned char *) s; *p; p++)
	{
		switch (*p)
		{
			case '"':
				fputs("\\\"", out);
				break;
			case '\\':
				fputs("\\\\", out);
				break;
			case '\n':
				fputs("\\n", out);
				break;
			case '\r':
				fputs("\\r", out);
				break;
			case '\t':
				fputs("\\t", out);
				break;
			default:
				if (*p < 0x20)
					fprintf(out, "\\u%04x", *p);
				else
					fputc(*p, out);
		}
	}
	fputc('"', out);
}

/*
 * A result field as a JSON value: null, a number for numeric columns (int2,
 * int4, int8, numeric, float), true/false for booleans, else a string.
 */
void
cf_json_value(FILE *out, PGresult *res, int row, int col)
{
	Oid			type = PQftype(res, col);
	const char *v = PQgetvalue(res, row, col);

	if (PQgetisnull(res, row, col))
		fputs("null", out);
	else if (type == 20 || type == 21 || type == 23 || type == 1700 || type == 700 || type == 701)
		fputs(v, out);
	else if (type == 16)
		fputs(v[0] == 't' ? "true" : "false", out);
	else
		cf_json_string(out, v);
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
 * An aligned table of the columns cols[] of res under headers[]; numbers
 * right-aligned, NULL shown empty.
 */
void
cf_print_table(FILE *out, PGresult *res, const char *const *headers, const int *cols, int ncols)
{
	int		   *width = calloc((size_t) ncols, sizeof(int));
	int			r,
				c;

	if (width == NULL)
	{
		cf_error("out of memory");
		exit(CF_EXIT_FAIL);
	}
	for (c = 0; c < ncols; c++)
	{
		width[c] = text_width(headers[c]);
		for (r = 0; r < PQntuples(res); r++)
		{
			int			w = text_width(PQgetvalue(res, r, cols[c]));

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
	for (r = 0; r < PQntuples(res); r++)
	{
		for (c = 0; c < ncols; c++)
		{
			const char *v = PQgetvalue(res, r, cols[c]);
			Oid			t = PQftype(res, cols[c]);
			bool		num = (t == 20 || t == 21 || t == 23 || t == 1700 || t == 700 || t == 701);
			int			pad = width[c] - text_width(v);

			fputs(c ? " | " : " ", out);
			if (num)
				fprintf(out, "%*s%s", pad, "", v);
			else
				fprintf(out, "%s%*s", v, pad, "");
		}
		fputc('\n', out);
	}
	free(width);
}

/*
 * The value of "key" in a flat JSON object (strings and numbers), unescaped
 * into buf.  Returns false when the key is absent, null, or too long.
 */
bool
cf_json_get(const char *json, const char *key, char *buf, size_t size)
{
	size_t		klen = strlen(key);
	const char *p = json;

	while ((p = strchr(p, '"')) != NULL)
	{
		const char *k = p + 1;
		const char *q = k;

		while (*q && *q != '"')
			q += (*q == '\\' && q[1]) ? 2 : 1;
		if (*q != '"')
			return false;
		p = q + 1;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p != ':')
			continue;			/* a string value, not a key */
		p++;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if ((size_t) (q - k) == klen && strncmp(k, key, klen) == 0)
		{
			size_t		n = 0;

			if (*p == '"')
			{
				for (p++; *p && *p != '"'; p++)
				{
					char		ch = *p;

					if (ch == '\\' && p[1])
					{
						p++;
						ch = (*p == 'n') ? '\n' : (*p == 't') ? '\t' : *p;
					}
					if (n + 1 >= size)
						return false;
					buf[n++] = ch;
				}
			}
			else
			{
				for (; *p && *p != ',' && *p != '}' && *p != ' ' && *p != '\n'; p++)
				{
					if (n + 1 >= size)
						return false;
					buf[n++] = *p;
				}
				buf[n] = '\0';
				return n > 0 && strcmp(buf, "null") != 0;
			}
			buf[n] = '\0';
			return true;
		}
		/* skip this key's value when it is a string */
		if (*p == '"')
		{
			p++;
			while (*p && *p != '"')
				p += (*p == '\\' && p[1]) ? 2 : 1;
			if (*p)
				p++;
		}
	}
	return false;
}
