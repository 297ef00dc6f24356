/*
 * report.c
 *	  careflags report: the national quality indicators of one period, as an
 *	  aligned table, CSV, JSON, or one self-contained HTML page with inline
 *	  SVG charts (each indicator per unit, and its monthly trend).
 *
 *	  Every number comes from the extension's SQL functions
 *	  (careflags.indicators, indicator_by_unit, indicator_series,
 *	  flag_response_times); the client only lays them out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "careflags.h"

/* Columns of careflags.indicators() as selected by Q_INDICATORS. */
enum
{
	I_INDICATOR, I_TITLE, I_PERIOD_END, I_SETTING, I_UNIT, I_NUMERATOR, I_DENOMINATOR,
	I_SHARE, I_ASSESSED, I_NOT_ASSESSED, I_NOT_RELEVANT, I_NOT_RECORDED, I_POPULATION, I_DISCLOSURE
};

/*
 * The queries.  search_path is '' in the client's sessions, and every name
 * and operator is schema-qualified as well.  $3 (setting) is text, cast to
 * careflags.care_setting where it is used.
 */
#define SQL_INDICATORS \
"SELECT indicator, title, period_end, setting::pg_catalog.text AS setting, unit_id, numerator, denominator, share, " \
"       assessed, not_assessed, not_relevant, not_recorded, population, disclosure " \
"FROM careflags.indicators(%s::pg_catalog.date, %s::pg_catalog.int4, %s::pg_catalog.text::careflags.care_setting, %s::pg_catalog.text)"

#define SQL_RESPONSE \
"SELECT COALESCE(domain::pg_catalog.text, 'all') AS domain, " \
"       COALESCE(rule_id, CASE WHEN domain IS NULL THEN 'all' " \
"                              ELSE 'all ' OPERATOR(pg_catalog.||) domain::pg_catalog.text END) AS rule_id, " \
"       resolved, median_days, p90_days, on_time_share " \
"FROM careflags.flag_response_times(%s::pg_catalog.date, %s::pg_catalog.int4, %s::pg_catalog.text::careflags.care_setting, %s::pg_catalog.text)"

static const char *Q_INDICATORS = SQL_INDICATORS;
static const char *Q_RESPONSE = SQL_RESPONSE;

/* The whole JSON document, built by the server (json_build_object, json_agg). */
static const char *Q_JSON =
"WITH ind AS (" SQL_INDICATORS "), resp AS (" SQL_RESPONSE ") "
"SELECT pg_catalog.json_build_object("
"    'period_end', (SELECT i.period_end FROM ind AS i LIMIT 1), "
"    'min_age', $2::pg_catalog.int4, "
"    'setting', $3::pg_catalog.text, "
"    'unit', $4::pg_catalog.text, "
"    'indicators', COALESCE((SELECT pg_catalog.json_agg(i) FROM ind AS i), '[]'::pg_catalog.json), "
"    'response_times', COALESCE((SELECT pg_catalog.json_agg(r) FROM resp AS r), '[]'::pg_catalog.json))";

/* The CSV, written by the server: COPY (SQL_INDICATORS) TO STDOUT, with quoted literals. */
static const char *Q_CSV = "COPY (" SQL_INDICATORS ") TO STDOUT (FORMAT csv, HEADER)";

static const char *Q_BY_UNIT =
"SELECT COALESCE(unit_id, '(no unit)') AS unit_id, COALESCE(unit_name, unit_id, 'episodes without a unit') AS unit_name, "
"       numerator, denominator, share "
"FROM careflags.indicator_by_unit($1::pg_catalog.text, $2::pg_catalog.date, $3::pg_catalog.int4, $4::pg_catalog.text::careflags.care_setting)";

static const char *Q_NATIONAL =
"SELECT year, share, population, source FROM careflags.national_figure_latest "
"WHERE indicator OPERATOR(pg_catalog.=) $1::pg_catalog.text";

static const char *Q_SERIES =
"SELECT period_end, numerator, denominator, share "
"FROM careflags.indicator_series($1::pg_catalog.text, $2::pg_catalog.date, 12, $3::pg_catalog.int4, "
"                                $4::pg_catalog.text::careflags.care_setting, $5::pg_catalog.text)";

/* A query of the SQL_* form with $1..$4 in place of its four %s. */
static char *
with_params(const char *fmt)
{
	size_t		size = strlen(fmt) + 16;
	char	   *sql = malloc(size);

	if (sql == NULL)
	{
		cf_error("out of memory");
		exit(CF_EXIT_FAIL);
	}
	snprintf(sql, size, fmt, "$1", "$2", "$3", "$4");
	return sql;
}

static void
report_usage(FILE *out)
{
	fprintf(out,
			"careflags report - the national quality indicators from this database\n"
			"\n"
			"Usage: careflags report [OPTION]...\n"
			"\n"
			"Indicators (12 months before the period end; patients aged 67+ in the setting at the\n"
			"period end): nutrition screening, nutrition plan among those at risk, medication\n"
			"review (long-term residents), fall-risk assessment, fall-prevention plan among\n"
			"those at high risk; each with numerator, denominator, share and the categories\n"
			"assessed / not assessed / not relevant / not recorded.\n"
			"\n"
			"Options:\n"
			"      --period-end=DATE    last day of the period, taken to the end of its month\n"
			"                           or of the month before (default: the last month that\n"
			"                           is over)\n"
			"      --unit=UNIT          one unit only (default: all units)\n"
			"      --setting=SETTING    nursing_home_long_term, nursing_home_short_term,\n"
			"                           home_nursing, home_services, gp (default: all; the\n"
			"                           medication review counts long-term residents)\n"
			"      --min-age=N          minimum age at the period end (default: 67)\n"
			"      --format=FORMAT      table (default), csv, json or html\n"
			"  -o, --output=FILE        write to FILE instead of standard output\n"
			"      --language=LANG      nb (bokmål, default), nn (nynorsk) or en (English) for the\n"
			"                           table and html texts; CSV and JSON keep their machine names\n"
			"      --help               show this help\n"
			"\n"
			"html writes one self-contained page (inline SVG charts: each indicator per unit\n"
			"and its monthly trend) to open in a browser.\n"
			"\n"
			"Connection options:\n%s",
			cf_conn_help());
}

/* ---- language (issue 15: Norwegian by default) --------------------------- */

typedef enum
{
	L_NB = 0,
	L_NN,
	L_EN,
	L_COUNT
} Lang;

/* The report's words in bokmål, nynorsk and English. */
typedef struct ReportWords
{
	const char *code;			/* html lang */
	const char *doc_title;
	const char *h1;
	const char *th[9];			/* indicator table headings (the last: national figure) */
	const char *note;
	const char *per_unit;
	const char *trend;
	const char *no_patients;
	const char *no_units;
	const char *of;
	const char *national;		/* "National figure %s: %s %%" (year, share) */
	const char *source;
	const char *no_national;
	const char *resp_h2;
	const char *resp_note;
	const char *resp_th[6];
	const char *period;			/* "12 months ending %s, patients aged %s or more" */
	const char *setting;
	const char *unit;
	const char *all_settings;
	const char *all_units;
	const char *database;
	const char *made;
} ReportWords;

static const ReportWords words[L_COUNT] = {
	{"nb", "careflags kvalitetsrapport", "Kvalitetsindikatorer",
		{"Indikator", "Teller", "Nevner", "Andel %", "Vurdert", "Ikke vurdert", "Ikke relevant",
		"Ikke registrert", "Landstall"},
		"Andel = teller / nevner; nevneren er vurdert + ikke vurdert + ikke registrert (pasienter "
		"indikatoren ikke er relevant for, er holdt utenfor). <em>Ikke registrert</em> betyr at "
		"opplysningene som trengs mangler (f.eks. fødselsdato, eller en screening uten resultat): "
		"et tall for datakvalitet.",
		"Andel per enhet (alle enheter, samme periode)",
		"Utvikling per måned: hvert punkt gjelder de 12 månedene før det",
		"ingen pasienter", "ingen pasienter i noen enhet", "av",
		"Landstall %s: %s %%", "kilde", "Ingen landstall for denne indikatoren",
		"Svartid på flagg",
		"Flagg avsluttet som utført i perioden: dager fra frist til utført (0 når det ble gjort før "
		"fristen), og andelen utført innen fristen.",
		{"Område", "Regel", "Avsluttet", "Median dager", "90-persentil dager", "I tide %"},
		"12 måneder til og med %s, pasienter %s år eller eldre", "tjeneste", "enhet",
		"alle (legemiddelgjennomgang: langtidsbeboere)", "alle", "Database", "laget"},
	{"nn", "careflags kvalitetsrapport", "Kvalitetsindikatorar",
		{"Indikator", "Teljar", "Nemnar", "Del %", "Vurdert", "Ikkje vurdert", "Ikkje relevant",
		"Ikkje registrert", "Landstal"},
		"Del = teljar / nemnar; nemnaren er vurdert + ikkje vurdert + ikkje registrert (pasientar "
		"indikatoren ikkje er relevant for, er haldne utanfor). <em>Ikkje registrert</em> tyder at "
		"opplysningane som trengst manglar (t.d. fødselsdato, eller ei screening utan resultat): "
		"eit tal for datakvalitet.",
		"Del per eining (alle einingar, same periode)",
		"Utvikling per månad: kvart punkt gjeld dei 12 månadene før det",
		"ingen pasientar", "ingen pasientar i nokon eining", "av",
		"Landstal %s: %s %%", "kjelde", "Ikkje noko landstal for denne indikatoren",
		"Svartid på flagg",
		"Flagg avslutta som utført i perioden: dagar frå frist til utført (0 når det vart gjort før "
		"fristen), og delen utført innan fristen.",
		{"Område", "Regel", "Avslutta", "Median dagar", "90-persentil dagar", "I tide %"},
		"12 månader til og med %s, pasientar %s år eller eldre", "teneste", "eining",
		"alle (legemiddelgjennomgang: langtidsbebuarar)", "alle", "Database", "laga"},
	{"en", "careflags quality report", "Quality indicators",
		{"Indicator", "Numerator", "Denominator", "Share %", "Assessed", "Not assessed", "Not relevant",
		"Not recorded", "National figure"},
		"Share = numerator / denominator; the denominator is assessed + not assessed + not recorded "
		"(patients for whom the indicator is not relevant are left out). <em>Not recorded</em> means "
		"the data needed to judge is missing (e.g. no birth date, or a screening without a result): "
		"it is a data-quality figure.",
		"Share per unit (all units, same period)",
		"Monthly trend: each point covers the 12 months before it",
		"no patients", "no patients in any unit", "of",
		"National figure %s: %s %%", "source", "No national figure for this indicator",
		"Flag response times",
		"Flags resolved as done in the period: days from due to done (0 when done before it was "
		"due), and the share done by the deadline.",
		{"Domain", "Rule", "Resolved", "Median days", "90th percentile days", "On time %"},
		"12 months ending %s, patients aged %s or more", "setting", "unit",
		"all (medication review: long-term residents)", "all", "Database", "made"}
};

/* An indicator's title in the language (the SQL title in English). */
static const char *
indicator_title(const char *indicator, const char *sql_title, Lang l)
{
	static const char *const t[][3] = {
		{"nutrition_screening", "Ernæringsscreening siste 12 måneder", "Ernæringsscreening siste 12 månader"},
		{"nutrition_plan", "Ernæringsplan blant dem i ernæringsmessig risiko", "Ernæringsplan blant dei i ernæringsmessig risiko"},
		{"medication_review", "Legemiddelgjennomgang siste 12 måneder (langtidsbeboere)",
		"Legemiddelgjennomgang siste 12 månader (langtidsbebuarar)"},
		{"fall_risk_assessment", "Fallrisikovurdering siste 12 måneder", "Fallrisikovurdering siste 12 månader"},
		{"fall_risk_plan", "Plan for fallforebygging blant dem med høy fallrisiko",
		"Plan for fallførebygging blant dei med høg fallrisiko"}
	};

	if (l == L_EN)
		return sql_title;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i][0], indicator) == 0)
			return t[i][l == L_NB ? 1 : 2];
	return sql_title;
}

/* A number from the server ("57.0") with the language's decimal sign. */
static void
html_number(FILE *out, const char *v, Lang l)
{
	for (const char *p = v; *p; p++)
		fputc(*p == '.' && l != L_EN ? ',' : *p, out);
}

/* The period, setting and unit a report is about, as one line (escaped for a terminal, or for HTML). */
static void
describe(FILE *out, PGresult *ind, const char *min_age, const char *setting, const char *unit, bool html,
		 Lang l)
{
	const ReportWords *w = &words[l];

	fprintf(out, w->period, PQntuples(ind) ? PQgetvalue(ind, 0, I_PERIOD_END) : "?", min_age);
	fprintf(out, ", %s: ", w->setting);
	setting = setting ? setting : w->all_settings;
	unit = unit ? unit : w->all_units;
	if (html)
		cf_html_text(out, setting);
	else
		fputs(cf_safe(setting), out);
	fprintf(out, ", %s: ", w->unit);
	if (html)
		cf_html_text(out, unit);
	else
		fputs(cf_safe(unit), out);
}

/*
 * Figures the server withheld or merged (careflags.min_cell_size): one line
 * each, so an empty cell is never read as a zero.
 */
static void
write_disclosures(FILE *out, PGresult *ind)
{
	for (int r = 0; r < PQntuples(ind); r++)
	{
		if (PQgetisnull(ind, r, I_DISCLOSURE))
			continue;
		fprintf(out, "  %s: %s\n", cf_safe(PQgetvalue(ind, r, I_INDICATOR)), cf_safe(PQgetvalue(ind, r, I_DISCLOSURE)));
	}
}

static void
write_table(FILE *out, PGresult *ind, PGresult *resp, const char *min_age,
			const char *setting, const char *unit, Lang l)
{
	static const char *const ih[] = {"indicator", "numerator", "denominator", "share %",
		"assessed", "not assessed", "not relevant", "not recorded"};
	static const int ic[] = {I_INDICATOR, I_NUMERATOR, I_DENOMINATOR, I_SHARE,
		I_ASSESSED, I_NOT_ASSESSED, I_NOT_RELEVANT, I_NOT_RECORDED};
	static const bool ir[] = {false, true, true, true, true, true, true, true};
	static const char *const rh[] = {"domain", "rule", "resolved", "median days", "p90 days", "on time %"};
	static const int rc[] = {0, 1, 2, 3, 4, 5};
	static const bool rr[] = {false, false, true, true, true, true};

	fputs("careflags quality indicators: ", out);
	describe(out, ind, min_age, setting, unit, false, l);
	fputs("\n\n", out);
	cf_print_table(out, ind, ih, ic, ir, 8);
	write_disclosures(out, ind);
	fputs("\nshare % = numerator / denominator; denominator = assessed + not assessed + not recorded\n"
		  "(patients for whom the indicator is not relevant are left out).\n", out);
	fputs("\nFlag response times (flags resolved as done in the period; days from due to done):\n\n", out);
	cf_print_table(out, resp, rh, rc, rr, 6);
}

/* The CSV of the indicators, as the server writes it (COPY ... (FORMAT csv, HEADER)), rows ending in CRLF. */
static bool
write_csv(FILE *out, PGconn *conn, const char *const *params)
{
	char	   *lit[4];
	size_t		size;
	char	   *sql;
	bool		ok;
	int			i;

	for (i = 0; i < 4; i++)
		lit[i] = cf_quote_literal(conn, params[i]);
	size = strlen(Q_CSV) + strlen(lit[0]) + strlen(lit[1]) + strlen(lit[2]) + strlen(lit[3]) + 1;
	sql = malloc(size);
	if (sql == NULL)
	{
		cf_error("out of memory");
		exit(CF_EXIT_FAIL);
	}
	snprintf(sql, size, Q_CSV, lit[0], lit[1], lit[2], lit[3]);
	ok = cf_copy_out(out, conn, sql, true);
	free(sql);
	for (i = 0; i < 4; i++)
		free(lit[i]);
	return ok;
}

/* ---- HTML ---------------------------------------------------------------- */

static const char *HTML_STYLE =
"body{font-family:'DejaVu Sans',Arial,sans-serif;margin:2em auto;max-width:62em;color:#222;padding:0 1em}"
"h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}"
".meta{color:#555}table{border-collapse:collapse;margin:1em 0}"
"th,td{border:1px solid #ccc;padding:.25em .6em}td.n{text-align:right;font-variant-numeric:tabular-nums}"
"th{background:#f0f3f6;text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1.5em}"
"figure{margin:0}figcaption{font-size:.85em;color:#555}"
"svg text{font-family:'DejaVu Sans',Arial,sans-serif;font-size:11px;fill:#333}"
"svg .bar{fill:#3b7dd8}svg .grid{stroke:#ddd;stroke-width:1}svg .line{fill:none;stroke:#d8703b;stroke-width:2}"
"svg .point{fill:#d8703b}svg .axis{stroke:#888;stroke-width:1}"
".note{font-size:.9em;color:#444}";

/* A table cell; numbers (num) right-aligned by the page's style. */
static void
html_cell(FILE *out, PGresult *res, int r, int c, const char *field, bool num)
{
	fprintf(out, "<td%s data-field=\"%s\">", num ? " class=\"n\"" : "", field);
	cf_html_text(out, PQgetvalue(res, r, c));
	fputs("</td>", out);
}

/* Horizontal bars: the indicator's share in each unit. */
static void
svg_units(FILE *out, const char *indicator, PGresult *u, Lang l)
{
	const int	bar_w = 300,
				row_h = 24,
				top = 8;
	int			label_w = 170;
	int			n = PQntuples(u);
	int			h = top * 2 + (n ? n : 1) * row_h + 18;
	int			r,
				k;

	/*
	 * Room for the longest unit name: 11px DejaVu Sans is at most about 7.5px
	 * a character (counted in UTF-8 characters), so no label is cut off.
	 */
	for (r = 0; r < n; r++)
	{
		const char *name = PQgetvalue(u, r, 1);
		int			chars = 0;

		for (const char *p = name; *p; p++)
			if (((unsigned char) *p & 0xC0) != 0x80)
				chars++;
		if (chars * 15 / 2 + 16 > label_w)
			label_w = chars * 15 / 2 + 16;
	}

	fprintf(out, "<svg class=\"chart unit-chart\" data-indicator=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
			"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
			indicator, label_w + bar_w + 110, h, label_w + bar_w + 110, h);
	for (k = 0; k <= 4; k++)
	{
		int			x = label_w + bar_w * k / 4;

		fprintf(out, "<line class=\"grid\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", x, top, x, h - 18);
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d%%</text>", x, h - 5, 25 * k);
	}
	if (n == 0)
		fprintf(out, "<text x=\"%d\" y=\"%d\">%s</text>", label_w, top + 16, words[l].no_units);
	for (r = 0; r < n; r++)
	{
		const char *share = PQgetvalue(u, r, 4);
		bool		null = PQgetisnull(u, r, 4);
		double		v = null ? 0.0 : atof(share);
		int			y = top + r * row_h;
		int			w = (int) (v * bar_w / 100.0 + 0.5);

		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 6, y + 16);
		cf_html_text(out, PQgetvalue(u, r, 1));
		fputs("</text>", out);
		fputs("<rect class=\"bar\" data-unit=\"", out);
		cf_html_text(out, PQgetvalue(u, r, 0));
		fprintf(out, "\" data-share=\"%s\" data-numerator=\"%s\" data-denominator=\"%s\" "
				"x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"><title>",
				null ? "" : share, PQgetvalue(u, r, 2), PQgetvalue(u, r, 3),
				label_w, y + 4, w, row_h - 8);
		cf_html_text(out, PQgetvalue(u, r, 1));
		fprintf(out, ": %s%s (%s %s %s)</title></rect>", null ? words[l].no_patients : share,
				null ? "" : " %", PQgetvalue(u, r, 2), words[l].of, PQgetvalue(u, r, 3));
		fprintf(out, "<text x=\"%d\" y=\"%d\">", label_w + w + 6, y + 16);
		if (null)
			fputs("–", out);
		else
		{
			html_number(out, share, l);
			fputs(" %", out);
		}
		fprintf(out, " (%s/%s)</text>", PQgetvalue(u, r, 2), PQgetvalue(u, r, 3));
	}
	fputs("</svg>", out);
}

/* A line of the monthly values (gaps where a month had no patients). */
static void
svg_trend(FILE *out, const char *indicator, PGresult *s, Lang l)
{
	const int	W = 520,
				H = 210,
				L = 44,
				R = 14,
				T = 10,
				B = 46;
	int			n = PQntuples(s);
	int			r,
				k;
	bool		pen = false;

	fprintf(out, "<svg class=\"chart trend-chart\" data-indicator=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
			"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">", indicator, W, H, W, H);
	for (k = 0; k <= 4; k++)
	{
		int			y = T + (H - T - B) * (4 - k) / 4;

		fprintf(out, "<line class=\"grid\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", L, y, W - R, y);
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%d%%</text>", L - 4, y + 4, 25 * k);
	}
	fprintf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", L, H - B, W - R, H - B);
	fputs("<path class=\"line\" d=\"", out);
	for (r = 0; r < n; r++)
	{
		int			x = L + (n > 1 ? (W - L - R) * r / (n - 1) : (W - L - R) / 2);
		double		v = atof(PQgetvalue(s, r, 3));
		int			y = T + (int) ((H - T - B) * (100.0 - v) / 100.0 + 0.5);

		if (PQgetisnull(s, r, 3))
		{
			pen = false;
			continue;
		}
		fprintf(out, "%s%d %d ", pen ? "L" : "M", x, y);
		pen = true;
	}
	fputs("\"/>", out);
	for (r = 0; r < n; r++)
	{
		int			x = L + (n > 1 ? (W - L - R) * r / (n - 1) : (W - L - R) / 2);
		const char *pe = PQgetvalue(s, r, 0);
		bool		null = PQgetisnull(s, r, 3);
		double		v = null ? 0.0 : atof(PQgetvalue(s, r, 3));
		int			y = T + (int) ((H - T - B) * (100.0 - v) / 100.0 + 0.5);

		if (!null)
			fprintf(out, "<circle class=\"point\" data-period-end=\"%s\" data-share=\"%s\" "
					"data-numerator=\"%s\" data-denominator=\"%s\" cx=\"%d\" cy=\"%d\" r=\"3.5\">"
					"<title>%s: %s %% (%s %s %s)</title></circle>",
					pe, PQgetvalue(s, r, 3), PQgetvalue(s, r, 1), PQgetvalue(s, r, 2), x, y,
					pe, PQgetvalue(s, r, 3), PQgetvalue(s, r, 1), words[l].of, PQgetvalue(s, r, 2));
		/* label: YYYY-MM, slanted */
		fprintf(out, "<text x=\"%d\" y=\"%d\" transform=\"rotate(-40 %d %d)\" text-anchor=\"end\">%.7s</text>",
				x, H - B + 14, x, H - B + 14, pe);
	}
	fputs("</svg>", out);
}

static void
write_html(FILE *out, PGconn *conn, PGresult *ind, PGresult *resp, const char *const *params,
		   const char *min_age, const char *setting, const char *unit, Lang l)
{
	const ReportWords *wd = &words[l];
	int			r,
				c;
	char		stamp[64];
	time_t		now = time(NULL);
	static const char *const fields[] = {"indicator", "title", "period_end", "setting", "unit_id",
		"numerator", "denominator", "share", "assessed", "not_assessed", "not_relevant",
	"not_recorded", "population"};

	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M", localtime(&now));
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
			"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>%s, ",
			wd->code, wd->doc_title);
	cf_html_text(out, PQntuples(ind) ? PQgetvalue(ind, 0, I_PERIOD_END) : "");
	fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n", HTML_STYLE);
	fprintf(out, "<h1>%s</h1>\n<p class=\"meta\" id=\"period\">", wd->h1);
	describe(out, ind, min_age, setting, unit, true, l);
	fprintf(out, ". %s ", wd->database);
	cf_html_text(out, PQdb(conn));
	fprintf(out, ", %s %s.</p>\n", wd->made, stamp);

	fputs("<table id=\"indicators\">\n<thead><tr>", out);
	for (c = 0; c < 9; c++)
		fprintf(out, "<th>%s</th>", wd->th[c]);
	fputs("</tr></thead>\n<tbody>\n", out);
	for (r = 0; r < PQntuples(ind); r++)
	{
		fputs("<tr data-indicator=\"", out);
		cf_html_text(out, PQgetvalue(ind, r, I_INDICATOR));
		fputs("\"><td data-field=\"title\">", out);
		cf_html_text(out, indicator_title(PQgetvalue(ind, r, I_INDICATOR), PQgetvalue(ind, r, I_TITLE), l));
		fputs("</td>", out);
		for (c = I_NUMERATOR; c <= I_NOT_RECORDED; c++)
			html_cell(out, ind, r, c, fields[c], true);
		{
			const char *pn[1];
			PGresult   *nat;

			pn[0] = PQgetvalue(ind, r, I_INDICATOR);
			nat = cf_query(conn, Q_NATIONAL, 1, pn);
			fputs("<td class=\"n\" data-field=\"national\">", out);
			if (PQntuples(nat) > 0)
			{
				html_number(out, PQgetvalue(nat, 0, 1), l);
				fprintf(out, " (%s)", PQgetvalue(nat, 0, 0));
			}
			fputs("</td>", out);
			PQclear(nat);
		}
		fputs("</tr>\n", out);
	}
	fputs("</tbody>\n</table>\n", out);
	for (r = 0; r < PQntuples(ind); r++)
	{
		if (PQgetisnull(ind, r, I_DISCLOSURE))
			continue;
		fputs("<p class=\"note disclosure\">", out);
		cf_html_text(out, PQgetvalue(ind, r, I_TITLE));
		fputs(": ", out);
		cf_html_text(out, PQgetvalue(ind, r, I_DISCLOSURE));
		fputs("</p>\n", out);
	}
	fprintf(out, "<p class=\"note\">%s</p>\n", wd->note);

	for (r = 0; r < PQntuples(ind); r++)
	{
		const char *name = PQgetvalue(ind, r, I_INDICATOR);
		const char *pu[4];
		const char *ps[5];
		PGresult   *units,
				   *series;

		pu[0] = name;
		pu[1] = PQgetvalue(ind, r, I_PERIOD_END);
		pu[2] = params[1];
		pu[3] = params[2];
		units = cf_query(conn, Q_BY_UNIT, 4, pu);
		ps[0] = name;
		ps[1] = PQgetvalue(ind, r, I_PERIOD_END);
		ps[2] = params[1];
		ps[3] = params[2];
		ps[4] = params[3];
		series = cf_query(conn, Q_SERIES, 5, ps);

		fprintf(out, "<section class=\"indicator\" id=\"ind-%s\">\n<h2>", name);
		cf_html_text(out, indicator_title(name, PQgetvalue(ind, r, I_TITLE), l));
		fputs(": ", out);
		if (PQgetisnull(ind, r, I_SHARE))
			fputs(wd->no_patients, out);
		else
		{
			html_number(out, PQgetvalue(ind, r, I_SHARE), l);
			fputs(" %", out);
		}
		fputs("</h2>\n<p class=\"national\">", out);
		{
			const char *pn[1];
			PGresult   *nat;

			pn[0] = name;
			nat = cf_query(conn, Q_NATIONAL, 1, pn);
			if (PQntuples(nat) > 0)
			{
				char		share[32];
				size_t		k;

				snprintf(share, sizeof(share), "%s", PQgetvalue(nat, 0, 1));
				for (k = 0; l != L_EN && share[k]; k++)
					if (share[k] == '.')
						share[k] = ',';
				fprintf(out, wd->national, PQgetvalue(nat, 0, 0), share);
				/* population and source are site data: escaped */
				fputs(" (", out);
				cf_html_text(out, PQgetvalue(nat, 0, 2));
				fprintf(out, "; %s: ", wd->source);
				cf_html_text(out, PQgetvalue(nat, 0, 3));
				fputs(")", out);
			}
			else
				fputs(wd->no_national, out);
			PQclear(nat);
		}
		fputs("</p>\n<div class=\"charts\">\n<figure>", out);
		svg_units(out, name, units, l);
		fprintf(out, "<figcaption>%s</figcaption></figure>\n<figure>", wd->per_unit);
		svg_trend(out, name, series, l);
		fprintf(out, "<figcaption>%s</figcaption></figure>\n</div>\n</section>\n", wd->trend);
		PQclear(units);
		PQclear(series);
	}

	fprintf(out, "<h2>%s</h2>\n<p class=\"note\">%s</p>\n<table id=\"response-times\">\n<thead><tr>",
			wd->resp_h2, wd->resp_note);
	for (c = 0; c < 6; c++)
		fprintf(out, "<th>%s</th>", wd->resp_th[c]);
	fputs("</tr></thead>\n<tbody>\n", out);
	for (r = 0; r < PQntuples(resp); r++)
	{
		static const char *const rf[] = {"domain", "rule_id", "resolved", "median_days", "p90_days", "on_time_share"};

		fputs("<tr>", out);
		for (c = 0; c < 6; c++)
			html_cell(out, resp, r, c, rf[c], c >= 2);
		fputs("</tr>\n", out);
	}
	fputs("</tbody>\n</table>\n</body>\n</html>\n", out);
}

int
cf_cmd_report(int argc, char **argv)
{
	static const struct option long_options[] = {
		CF_CONN_LONG_OPTIONS,
		{"period-end", required_argument, NULL, 1},
		{"unit", required_argument, NULL, 2},
		{"setting", required_argument, NULL, 3},
		{"min-age", required_argument, NULL, 4},
		{"format", required_argument, NULL, 5},
		{"output", required_argument, NULL, 'o'},
		{"language", required_argument, NULL, 6},
		{NULL, 0, NULL, 0}
	};
	CfConnOpts	co = {0};
	const char *period_end = NULL,
			   *unit = NULL,
			   *setting = NULL,
			   *min_age = "67",
			   *format = "table",
			   *output = NULL,
			   *language = "nb";
	Lang		lang;
	const char *params[4];
	PGconn	   *conn;
	PGresult   *ind = NULL,
			   *resp = NULL;
	FILE	   *out = stdout;
	bool		ok = true;
	int			c;

	if (cf_wants_help(argc, argv))
	{
		report_usage(stdout);
		return CF_EXIT_OK;
	}
	while ((c = getopt_long(argc, argv, CF_CONN_SHORT_OPTIONS "o:", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 1:
				period_end = optarg;
				break;
			case 2:
				unit = optarg;
				break;
			case 3:
				setting = optarg;
				break;
			case 4:
				min_age = optarg;
				break;
			case 5:
				format = optarg;
				break;
			case 'o':
				output = optarg;
				break;
			case 6:
				language = optarg;
				break;
			case CF_OPT_HELP:
				report_usage(stdout);
				return CF_EXIT_OK;
			default:
				if (!cf_conn_getopt(&co, c, optarg))
					return cf_bad_usage("report");
		}
	}
	if (cf_extra_args("report", argc, argv))
		return CF_EXIT_USAGE;
	if (strcmp(format, "table") != 0 && strcmp(format, "csv") != 0 &&
		strcmp(format, "json") != 0 && strcmp(format, "html") != 0)
	{
		cf_error("report: unknown format \"%s\" (table, csv, json or html)", cf_safe(format));
		return CF_EXIT_USAGE;
	}
	if (strcmp(language, "nb") == 0)
		lang = L_NB;
	else if (strcmp(language, "nn") == 0)
		lang = L_NN;
	else if (strcmp(language, "en") == 0)
		lang = L_EN;
	else
	{
		cf_error("report: unknown language \"%s\" (nb, nn or en)", cf_safe(language));
		return CF_EXIT_USAGE;
	}
	if (min_age[0] == '\0' || strspn(min_age, "0123456789") != strlen(min_age) || strlen(min_age) > 3)
	{
		cf_error("report: --min-age must be a whole number, not \"%s\"", cf_safe(min_age));
		return CF_EXIT_USAGE;
	}

	conn = cf_connect(&co, false);
	if (conn == NULL)
		return CF_EXIT_USAGE;
	params[0] = period_end;
	params[1] = min_age;
	params[2] = setting;
	params[3] = unit;
	if (strcmp(format, "table") == 0 || strcmp(format, "html") == 0)
	{
		char	   *q_ind = with_params(Q_INDICATORS);
		char	   *q_resp = with_params(Q_RESPONSE);

		ind = cf_query(conn, q_ind, 4, params);
		resp = cf_query(conn, q_resp, 4, params);
		free(q_ind);
		free(q_resp);
	}
	else if (strcmp(format, "json") == 0)
	{
		char	   *q_json = malloc(strlen(Q_JSON) + 64);

		if (q_json == NULL)
		{
			cf_error("out of memory");
			return CF_EXIT_FAIL;
		}
		/* the two SQL_* parts of Q_JSON take $1..$4 as well */
		snprintf(q_json, strlen(Q_JSON) + 64, Q_JSON, "$1", "$2", "$3", "$4", "$1", "$2", "$3", "$4");
		ind = cf_query(conn, q_json, 4, params);
		free(q_json);
	}

	if (output != NULL && strcmp(output, "-") != 0)
	{
		out = fopen(output, "w");
		if (out == NULL)
		{
			cf_error("report: could not write \"%s\": %s", cf_safe(output), strerror(errno));
			PQfinish(conn);
			return CF_EXIT_FAIL;
		}
	}
	if (strcmp(format, "table") == 0)
		write_table(out, ind, resp, min_age, setting, unit, lang);
	else if (strcmp(format, "csv") == 0)
		ok = write_csv(out, conn, params);
	else if (strcmp(format, "json") == 0)
		fprintf(out, "%s\n", PQgetvalue(ind, 0, 0));
	else
		write_html(out, conn, ind, resp, params, min_age, setting, unit, lang);

	PQclear(ind);
	PQclear(resp);
	PQfinish(conn);
	if (out != stdout)
	{
		if (fclose(out) != 0)
		{
			cf_error("report: could not write \"%s\": %s", cf_safe(output), strerror(errno));
			return CF_EXIT_FAIL;
		}
	}
	else if (fflush(stdout) != 0 || ferror(stdout))
	{
		cf_error("report: could not write to standard output");
		return CF_EXIT_FAIL;
	}
	return ok ? CF_EXIT_OK : CF_EXIT_FAIL;
}
