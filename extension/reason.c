/*-------------------------------------------------------------------------
 *
 * reason.c
 *	  Reasons, states and action rows in bokmål, nynorsk and English
 *	  (see reason.h).  One renderer per reason kind; every sentence is
 *	  written out per language (no word-by-word assembly), with the terms of
 *	  clinical-rules.md §8 and instrument names as published (taken from the
 *	  data as recorded: MST, MNA-SF, Morse, ...).
 *
 *	  Plain C: no PostgreSQL calls, no allocation; every output is cut to the
 *	  caller's buffer (snprintf).
 *
 *-------------------------------------------------------------------------
 */
#include "reason.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const month_long[CF_LANG_COUNT][12] = {
	{"januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
	"september", "oktober", "november", "desember"},
	{"januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
	"september", "oktober", "november", "desember"},
	{"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December"}
};

static const char *const month_short[CF_LANG_COUNT][12] = {
	{"jan.", "feb.", "mars", "apr.", "mai", "juni", "juli", "aug.", "sep.",
	"okt.", "nov.", "des."},
	{"jan.", "feb.", "mars", "apr.", "mai", "juni", "juli", "aug.", "sep.",
	"okt.", "nov.", "des."},
	{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec"}
};

static const char *const kind_names[CF_RK_COUNT] = {
	"none", "admission", "repeat", "no_plan", "plan_evaluation", "low_bmi",
	"weight_loss", "medicine_count", "fall_assessment", "fall_drug"
};

static const char *const action_names[CF_TODO_COUNT] = {
	"nutrition_screening", "nutrition_plan", "medication_review",
	"fall_risk_assessment", "fall_prevention_plan"
};

static const char *const action_labels[CF_LANG_COUNT][CF_TODO_COUNT] = {
	{"Ernæringsscreening", "Ernæringsplan", "Legemiddelgjennomgang",
	"Fallrisikovurdering", "Plan for fallforebygging"},
	{"Ernæringsscreening", "Ernæringsplan", "Legemiddelgjennomgang",
	"Fallrisikovurdering", "Plan for fallførebygging"},
	{"Nutrition screening", "Nutrition plan", "Medication review",
	"Fall-risk assessment", "Fall-prevention plan"}
};

int
cf_lang_parse(const char *name)
{
	if (name == NULL || strcmp(name, "nb") == 0)
		return CF_LANG_NB;
	if (strcmp(name, "nn") == 0)
		return CF_LANG_NN;
	if (strcmp(name, "en") == 0)
		return CF_LANG_EN;
	return -1;
}

const char *
cf_reason_kind_name(CfReasonKind kind)
{
	return (kind >= 0 && kind < CF_RK_COUNT) ? kind_names[kind] : "none";
}

int
cf_reason_kind_parse(const char *name)
{
	for (int i = 0; i < CF_RK_COUNT; i++)
		if (strcmp(kind_names[i], name) == 0)
			return i;
	return CF_RK_NONE;
}

const char *
cf_action_name(CfTodoKind a)
{
	return (a >= 0 && a < CF_TODO_COUNT) ? action_names[a] : NULL;
}

int
cf_action_parse(const char *name)
{
	for (int i = 0; i < CF_TODO_COUNT; i++)
		if (strcmp(action_names[i], name) == 0)
			return i;
	return -1;
}

const char *
cf_render_action_label(CfTodoKind a, CfLang lang)
{
	return (a >= 0 && a < CF_TODO_COUNT) ? action_labels[lang][a] : "?";
}

void
cf_render_date(int32_t ymd, CfLang lang, bool short_form, char *buf, size_t len)
{
	int			y = ymd / 10000,
				m = (ymd / 100) % 100,
				d = ymd % 100;

	if (ymd <= 0 || m < 1 || m > 12)
	{
		snprintf(buf, len, "?");
		return;
	}
	if (lang == CF_LANG_EN)
	{
		if (short_form)
			snprintf(buf, len, "%d %s", d, month_short[lang][m - 1]);
		else
			snprintf(buf, len, "%d %s %d", d, month_long[lang][m - 1], y);
	}
	else if (short_form)
		snprintf(buf, len, "%d. %s", d, month_short[lang][m - 1]);
	else
		snprintf(buf, len, "%d. %s %d", d, month_long[lang][m - 1], y);
}

void
cf_render_number(double v, int decimals, CfLang lang, char *buf, size_t len)
{
	if (decimals >= 0)
		snprintf(buf, len, "%.*f", decimals, v);
	else
		snprintf(buf, len, "%g", v);
	if (lang != CF_LANG_EN)
		for (char *p = buf; *p; p++)
			if (*p == '.')
				*p = ',';
}

const char *
cf_render_state(const char *state, CfLang lang)
{
	static const char *const names[] = {"upcoming", "due_soon", "due", "overdue", "resolved"};
	static const char *const text[CF_LANG_COUNT][5] = {
		{"kommende", "frist snart", "innen fristen", "over fristen", "avsluttet"},
		{"kommande", "frist snart", "innan fristen", "over fristen", "avslutta"},
		{"upcoming", "due soon", "due", "overdue", "resolved"}
	};

	if (state == NULL)
		return NULL;
	for (int i = 0; i < 5; i++)
		if (strcmp(state, names[i]) == 0)
			return text[lang][i];
	return state;
}

/* An instrument's name as published (MST, MNA-SF, Morse, ...). */
static const char *
instrument_name(const char *stored)
{
	static const char *const map[][2] = {
		{"mst", "MST"}, {"mna_sf", "MNA-SF"}, {"must", "MUST"}, {"nrs_2002", "NRS 2002"},
		{"morse", "Morse"}, {"stratify", "STRATIFY"}, {"downton", "Downton"},
		{"hendrich_ii", "Hendrich II"}
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(stored, map[i][0]) == 0)
			return map[i][1];
	return stored;
}

/* Home care (not a nursing-home stay): "oppstart", not "innkomst". */
static bool
home_setting(int setting)
{
	return setting == CF_SET_HOME_NURSING || setting == CF_SET_HOME_SERVICES ||
		setting == CF_SET_GP;
}

/* The noun of a domain's action, in the language. */
static const char *
domain_noun(int domain, CfLang lang)
{
	static const char *const nouns[CF_LANG_COUNT][CF_DOM_COUNT] = {
		{"ernæringsscreening", "legemiddelgjennomgang", "fallrisikovurdering"},
		{"ernæringsscreening", "legemiddelgjennomgang", "fallrisikovurdering"},
		{"nutrition screening", "medication review", "fall-risk assessment"}
	};

	return nouns[lang][(domain >= 0 && domain < CF_DOM_COUNT) ? domain : 0];
}

/* "no" before the domain's noun: nynorsk "inga" for the feminine -ing words. */
static const char *
no_word(int domain, CfLang lang, bool capital)
{
	if (lang == CF_LANG_EN)
		return capital ? "No" : "no";
	if (lang == CF_LANG_NN && domain != CF_DOM_MEDICATION_REVIEW)
		return capital ? "Inga" : "inga";
	return capital ? "Ingen" : "ingen";
}

/*
 * The first word of a medicine's name that starts with a letter, lower-case
 * when it is a capitalised generic name ("Zopiclone 7.5 MG Oral Tablet" ->
 * "zopiclone"): enough for a row of 140 characters.
 */
static void
short_medicine(const char *name, char *buf, size_t len)
{
	const char *p = name;
	size_t		n = 0;

	/* a letter: ASCII, or any byte of a UTF-8 sequence (Æ, Ø, Å, é, ...) */
	while (*p && !isalpha((unsigned char) *p) && (unsigned char) *p < 0x80)
	{
		while (*p && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
	}
	if (*p == '\0')
		p = name;
	while (p[n] && p[n] != ' ' && p[n] != ',' && p[n] != '(' && n + 1 < len && n < 24)
		n++;
	/* never end inside a UTF-8 character */
	while (n > 0 && ((unsigned char) p[n] & 0xC0) == 0x80)
		n--;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (n > 1 && isupper((unsigned char) buf[0]) && islower((unsigned char) buf[1]))
		buf[0] = (char) tolower((unsigned char) buf[0]);
}

/*
 * The fall-risk drugs of a fall_drug reason into names[] / atcs[] (at most
 * CF_REASON_DRUGS), longest in use first; the result is how many are kept,
 * *total how many there are.  Reason data written before the list (text1 /
 * text2 only) is one medicine.
 */
static int
fall_drugs(const CfReasonData *d, const char **names, const char **atcs, int *total)
{
	int			n = d->n_drugs;

	if (n <= 0 || n > CF_REASON_DRUGS)
	{
		names[0] = d->text1;
		atcs[0] = d->text2;
		*total = d->drugs_total > 1 ? d->drugs_total : 1;
		return 1;
	}
	for (int i = 0; i < n; i++)
	{
		names[i] = d->drugs[i].name;
		atcs[i] = d->drugs[i].atc;
	}
	*total = d->drugs_total > n ? d->drugs_total : n;
	return n;
}

/*
 * The first `shown` of n list items joined as a sentence does ("a, b og c"),
 * and the ones not shown counted ("a, b og 2 andre"; total: all there are).
 */
static void
join_list(const char *const *items, int shown, int total, CfLang lang, char *buf, size_t len)
{
	size_t		pos = 0;
	int			rest = total - shown;

	buf[0] = '\0';
	for (int i = 0; i < shown && pos < len; i++)
		pos += snprintf(buf + pos, len - pos, "%s%s",
						i == 0 ? "" : (i == shown - 1 && rest == 0) ? (lang == CF_LANG_EN ? " and " : " og ") : ", ",
						items[i]);
	if (rest > 0 && pos < len)
	{
		if (lang == CF_LANG_EN)
			snprintf(buf + pos, len - pos, " and %d other%s", rest, rest == 1 ? "" : "s");
		else if (rest == 1)
			snprintf(buf + pos, len - pos, " og %s", lang == CF_LANG_NB ? "ett annet" : "eitt anna");
		else
			snprintf(buf + pos, len - pos, " og %d andre", rest);
	}
}

void
cf_render_reason(const CfReasonData *d, CfLang lang, char *buf, size_t len)
{
	char		d1[40],
				d2[40],
				due[40],
				v1[CF_REASON_TEXT_LEN + 24],
				list[CF_REASON_DRUGS * (CF_REASON_TEXT_LEN + CF_REASON_ATC_LEN + 12) + 32],
				v2[24],
				v3[24],
				v4[24];
	bool		nb = lang == CF_LANG_NB,
				en = lang == CF_LANG_EN;

	cf_render_date(d->date1, lang, false, d1, sizeof(d1));
	cf_render_date(d->date2, lang, false, d2, sizeof(d2));
	cf_render_date(d->due, lang, false, due, sizeof(due));

	switch (d->kind)
	{
		case CF_RK_ADMISSION:
			if (en)
				snprintf(buf, len, "No %s since %s %s. Due %s.", domain_noun(d->domain, lang),
						 home_setting(d->setting) ? "the start of home care on" : "admission on", d1, due);
			else
				snprintf(buf, len, "%s %s %s %s %s. Frist %s.", no_word(d->domain, lang, true),
						 domain_noun(d->domain, lang), nb ? "siden" : "sidan",
						 home_setting(d->setting) ? (nb ? "oppstart av hjemmetjenester" : "oppstart av heimetenester") : "innkomst",
						 d1, due);
			break;
		case CF_RK_REPEAT:
			if (en)
				snprintf(buf, len, "Last %s on %s. Next due %s.", domain_noun(d->domain, lang), d1, due);
			else
				snprintf(buf, len, "Siste %s %s. Ny frist %s.", domain_noun(d->domain, lang), d1, due);
			break;
		case CF_RK_NO_PLAN:
			cf_render_number(d->value1, -1, lang, v1, sizeof(v1));
			if (d->domain == CF_DOM_NUTRITION)
			{
				if (en)
					snprintf(buf, len, "At risk of malnutrition (%s %s on %s) and no nutrition plan. Due %s.",
							 instrument_name(d->text1), v1, d1, due);
				else
					snprintf(buf, len, "I ernæringsmessig risiko (%s %s, %s) og ingen ernæringsplan. Frist %s.",
							 instrument_name(d->text1), v1, d1, due);
			}
			else if (en)
				snprintf(buf, len, "High fall risk (%s %s on %s) and no fall-prevention plan. Due %s.",
						 instrument_name(d->text1), v1, d1, due);
			else
				snprintf(buf, len, "%s fallrisiko (%s %s, %s) og ingen plan for %s. Frist %s.",
						 nb ? "Høy" : "Høg", instrument_name(d->text1), v1, d1,
						 nb ? "fallforebygging" : "fallførebygging", due);
			break;
		case CF_RK_PLAN_EVAL:
			if (en)
				snprintf(buf, len, "%s plan %s on %s. Evaluate by %s.",
						 d->domain == CF_DOM_NUTRITION ? "Nutrition" : "Fall-prevention",
						 d->flag ? "last evaluated" : "made", d1, due);
			else if (nb)
				snprintf(buf, len, "%s ble %s %s. Evaluer innen %s.",
						 d->domain == CF_DOM_NUTRITION ? "Ernæringsplanen" : "Planen for fallforebygging",
						 d->flag ? "sist evaluert" : "laget", d1, due);
			else
				snprintf(buf, len, "%s vart %s %s. Evaluer innan %s.",
						 d->domain == CF_DOM_NUTRITION ? "Ernæringsplanen" : "Planen for fallførebygging",
						 d->flag ? "sist evaluert" : "laga", d1, due);
			break;
		case CF_RK_LOW_BMI:
			cf_render_number(d->value1, 1, lang, v1, sizeof(v1));
			cf_render_number(d->value2, 1, lang, v2, sizeof(v2));
			if (en)
				snprintf(buf, len, "Signs of %s malnutrition: BMI %s (below %s). Due %s.",
						 d->flag ? "severe" : "moderate", v1, v2, due);
			else if (nb)
				snprintf(buf, len, "Tegn på %s underernæring: KMI %s (under %s). Frist %s.",
						 d->flag ? "alvorlig" : "moderat", v1, v2, due);
			else
				snprintf(buf, len, "Teikn på %s underernæring: KMI %s (under %s). Frist %s.",
						 d->flag ? "alvorleg" : "moderat", v1, v2, due);
			break;
		case CF_RK_WEIGHT_LOSS:
			cf_render_number(d->value1, 1, lang, v1, sizeof(v1));
			cf_render_number(d->value2, 1, lang, v2, sizeof(v2));
			cf_render_number(d->value3, 1, lang, v3, sizeof(v3));
			cf_render_number(d->value4, -1, lang, v4, sizeof(v4));
			if (en)
				snprintf(buf, len, "Signs of %s malnutrition: weight %s kg, %s %% below %s kg on %s "
						 "(over %s %% in %d month%s%s). Due %s.",
						 d->flag ? "severe" : "moderate", v1, v2, v3, d2, v4, d->count,
						 d->count == 1 ? "" : "s", d->flag2 ? " with low BMI" : "", due);
			else if (nb)
				snprintf(buf, len, "Tegn på %s underernæring: vekt %s kg, ned %s %% fra %s kg %s "
						 "(over %s %% på %d %s%s). Frist %s.",
						 d->flag ? "alvorlig" : "moderat", v1, v2, v3, d2, v4, d->count,
						 d->count == 1 ? "måned" : "måneder", d->flag2 ? ", med lav KMI" : "", due);
			else
				snprintf(buf, len, "Teikn på %s underernæring: vekt %s kg, ned %s %% frå %s kg %s "
						 "(over %s %% på %d %s%s). Frist %s.",
						 d->flag ? "alvorleg" : "moderat", v1, v2, v3, d2, v4, d->count,
						 d->count == 1 ? "månad" : "månader", d->flag2 ? ", med låg KMI" : "", due);
			break;
		case CF_RK_MED_COUNT:
			if (en)
			{
				if (d->flag)
					snprintf(buf, len, "%d regular medicines in use; last medication review %s. Due %s.",
							 d->count, d2, due);
				else
					snprintf(buf, len, "%d regular medicines in use and no medication review recorded. Due %s.",
							 d->count, due);
			}
			else if (d->flag)
				snprintf(buf, len, "%d faste %s i bruk, siste legemiddelgjennomgang %s. Frist %s.",
						 d->count, nb ? "legemidler" : "legemiddel", d2, due);
			else
				snprintf(buf, len, "%d faste %s i bruk og ingen legemiddelgjennomgang registrert. Frist %s.",
						 d->count, nb ? "legemidler" : "legemiddel", due);
			break;
		case CF_RK_FALL_ASSESS:
			if (en)
			{
				if (d->flag)
					snprintf(buf, len, "Fall on %s after the last fall-risk assessment (%s). Assess again by %s.",
							 d1, d2, due);
				else
					snprintf(buf, len, "Fall on %s and no fall-risk assessment recorded. Assess by %s.", d1, due);
			}
			else if (d->flag)
				snprintf(buf, len, "Fall %s etter siste fallrisikovurdering (%s). Vurder på nytt %s %s.",
						 d1, d2, nb ? "innen" : "innan", due);
			else
				snprintf(buf, len, "Fall %s og %s fallrisikovurdering registrert. Vurder %s %s.",
						 d1, nb ? "ingen" : "inga", nb ? "innen" : "innan", due);
			break;
		case CF_RK_FALL_DRUG:
			{
				/* every medicine by name and ATC, or by ATC alone when it has no name */
				const char *names[CF_REASON_DRUGS],
						   *atcs[CF_REASON_DRUGS];
				char		items[CF_REASON_DRUGS][CF_REASON_TEXT_LEN + CF_REASON_ATC_LEN + 8];
				const char *ip[CF_REASON_DRUGS];
				int			total,
							k = fall_drugs(d, names, atcs, &total);

				for (int i = 0; i < k; i++)
				{
					if (strcmp(names[i], atcs[i]) == 0 || atcs[i][0] == '\0')
						snprintf(items[i], sizeof(items[i]), "%s", names[i]);
					else
						snprintf(items[i], sizeof(items[i]), "%s (%s)", names[i], atcs[i]);
					ip[i] = items[i];
				}
				join_list(ip, k, total, lang, list, sizeof(list));
			}
			if (en)
				snprintf(buf, len, "%s on %s and %s in use; no medication review since. Due %s.",
						 d->flag ? "Fall" : "High fall-risk score", d1, list, due);
			else if (nb)
				snprintf(buf, len, "%s %s, bruker %s, ingen legemiddelgjennomgang siden. Frist %s.",
						 d->flag ? "Fall" : "Høy fallrisiko", d1, list, due);
			else
				snprintf(buf, len, "%s %s, brukar %s, ingen legemiddelgjennomgang sidan. Frist %s.",
						 d->flag ? "Fall" : "Høg fallrisiko", d1, list, due);
			break;
		default:
			snprintf(buf, len, "%s", "");
			break;
	}
}

/*
 * What one rule says in an action row, short ("ved innkomst 5. des."), in at
 * most max_chars characters where it can shorten itself: a fall_drug part
 * names as many of its medicines as fit and counts the rest ("bruker
 * furosemid og 2 andre etter fall"); the caller leaves out a part that is
 * still too long.
 */
static void
render_part(const CfReasonData *d, CfLang lang, char *buf, size_t len, size_t max_chars)
{
	char		d1[24],
				d2[24],
				v1[24],
				v2[24],
				v3[24];
	bool		nb = lang == CF_LANG_NB,
				en = lang == CF_LANG_EN;

	cf_render_date(d->date1, lang, true, d1, sizeof(d1));
	cf_render_date(d->date2, lang, true, d2, sizeof(d2));
	switch (d->kind)
	{
		case CF_RK_ADMISSION:
			if (en)
				snprintf(buf, len, "%s %s", home_setting(d->setting) ? "home care started" : "on admission", d1);
			else
				snprintf(buf, len, "ved %s %s",
						 home_setting(d->setting) ? (nb ? "oppstart av hjemmetjenester" : "oppstart av heimetenester") : "innkomst",
						 d1);
			break;
		case CF_RK_REPEAT:
			snprintf(buf, len, en ? "last done %s" : "sist gjort %s", d1);
			break;
		case CF_RK_NO_PLAN:
			cf_render_number(d->value1, -1, lang, v1, sizeof(v1));
			if (d->domain == CF_DOM_NUTRITION)
				snprintf(buf, len, en ? "at risk of malnutrition (%s %s, %s)" : "i ernæringsmessig risiko (%s %s, %s)",
						 instrument_name(d->text1), v1, d1);
			else
				snprintf(buf, len, "%s (%s %s, %s)", en ? "high fall risk" : nb ? "høy fallrisiko" : "høg fallrisiko",
						 instrument_name(d->text1), v1, d1);
			break;
		case CF_RK_PLAN_EVAL:
			if (en)
				snprintf(buf, len, "evaluate (%s %s)", d->flag ? "last evaluated" : "made", d1);
			else if (nb)
				snprintf(buf, len, "evalueres (%s %s)", d->flag ? "sist evaluert" : "laget", d1);
			else
				snprintf(buf, len, "skal evaluerast (%s %s)", d->flag ? "sist evaluert" : "laga", d1);
			break;
		case CF_RK_LOW_BMI:
			cf_render_number(d->value1, 1, lang, v1, sizeof(v1));
			cf_render_number(d->value2, 1, lang, v2, sizeof(v2));
			snprintf(buf, len, en ? "BMI %s (below %s)" : "KMI %s (under %s)", v1, v2);
			break;
		case CF_RK_WEIGHT_LOSS:
			cf_render_number(d->value2, 1, lang, v1, sizeof(v1));
			cf_render_number(d->value3, 1, lang, v2, sizeof(v2));
			cf_render_number(d->value1, 1, lang, v3, sizeof(v3));
			if (en)
				snprintf(buf, len, "weight loss %s %% since %s (%s to %s kg)", v1, d2, v2, v3);
			else
				snprintf(buf, len, "vekttap %s %% %s %s (%s til %s kg)", v1, nb ? "siden" : "sidan", d2, v2, v3);
			break;
		case CF_RK_MED_COUNT:
			if (en)
				snprintf(buf, len, "%d regular medicines", d->count);
			else
				snprintf(buf, len, "%d faste %s", d->count, nb ? "legemidler" : "legemiddel");
			break;
		case CF_RK_FALL_ASSESS:
			snprintf(buf, len, en ? "fall %s" : "fall %s", d1);
			break;
		case CF_RK_FALL_DRUG:
			{
				const char *names[CF_REASON_DRUGS],
						   *atcs[CF_REASON_DRUGS];
				char		meds[CF_REASON_DRUGS][32],
							list[CF_REASON_DRUGS * 40 + 32];
				const char *mp[CF_REASON_DRUGS];
				int			total,
							k = fall_drugs(d, names, atcs, &total);

				for (int i = 0; i < k; i++)
				{
					short_medicine(names[i], meds[i], sizeof(meds[i]));
					mp[i] = meds[i];
				}
				/* all medicines by name if they fit, else as many as fit */
				for (int shown = k; shown >= 1; shown--)
				{
					join_list(mp, shown, total, lang, list, sizeof(list));
					if (en)
						snprintf(buf, len, d->flag ? "takes %s after a fall" : "takes %s with high fall risk", list);
					else if (nb)
						snprintf(buf, len, d->flag ? "bruker %s etter fall" : "bruker %s ved høy fallrisiko", list);
					else
						snprintf(buf, len, d->flag ? "brukar %s etter fall" : "brukar %s ved høg fallrisiko", list);
					if (cf_utf8_chars(buf) <= max_chars)
						break;
				}
			}
			break;
		default:
			buf[0] = '\0';
			break;
	}
}

size_t
cf_utf8_chars(const char *s)
{
	size_t		n = 0;

	for (; *s; s++)
		if (((unsigned char) *s & 0xC0) != 0x80)
			n++;
	return n;
}

/* Cut a UTF-8 string to at most max characters, at a character boundary. */
static void
utf8_cut(char *s, size_t max)
{
	size_t		n = 0;

	for (char *p = s; *p; p++)
		if (((unsigned char) *p & 0xC0) != 0x80)
		{
			if (n == max)
			{
				*p = '\0';
				return;
			}
			n++;
		}
}

void
cf_render_action(CfTodoKind a, const CfReasonData *const *data, int n,
				 int32_t due, CfLang lang, char *buf, size_t len)
{
	char		tail[48],
				dd[24],
				body[1024],
				part[512],
				more[16];
	int			used = 0,
				left = 0;
	/* ". " and " (+N)", N having as many digits as n */
	size_t		reserve = 2 + 5 + (n >= 10) + (n >= 100) + (n >= 1000) + (n >= 10000);

	cf_render_date(due, lang, true, dd, sizeof(dd));
	/* a short Norwegian date ends with its own full stop ("12. des.") */
	snprintf(tail, sizeof(tail), "%s %s%s", lang == CF_LANG_EN ? "Due" : "Frist", dd,
			 dd[strlen(dd) - 1] == '.' ? "" : ".");
	snprintf(body, sizeof(body), "%s", cf_render_action_label(a, lang));

	for (int i = 0; i < n; i++)
	{
		char		trial[2048];
		bool		seen = false;

		size_t		fixed;

		if (data[i] == NULL || data[i]->kind == CF_RK_NONE)
			continue;
		render_part(data[i], lang, part, sizeof(part), SIZE_MAX);
		if (part[0] == '\0')
			continue;
		/* two rules saying the same (e.g. two admissions) say it once */
		for (int j = 0; j < i && !seen; j++)
		{
			char		other[512];

			if (data[j] == NULL)
				continue;
			render_part(data[j], lang, other, sizeof(other), SIZE_MAX);
			seen = strcmp(other, part) == 0;
		}
		if (seen)
			continue;
		/* the room left for this part; a list of medicines shortens to fit */
		fixed = cf_utf8_chars(body) + 2 + cf_utf8_chars(tail) + reserve;
		render_part(data[i], lang, part, sizeof(part),
					fixed < CF_ACTION_TEXT_MAX ? CF_ACTION_TEXT_MAX - fixed : 0);
		snprintf(trial, sizeof(trial), "%s%s%s", body, used == 0 ? ": " : ", ", part);
		/*
		 * room for ". ", the tail and a " (+N)" marker as wide as n needs,
		 * so that the deadline is never cut off
		 */
		if (cf_utf8_chars(trial) + cf_utf8_chars(tail) + reserve <= CF_ACTION_TEXT_MAX)
		{
			/* fits 140 characters, so the body's buffer too */
			memcpy(body, trial, strlen(trial) + 1);
			used++;
		}
		else
			left++;
	}
	if (left > 0)
	{
		snprintf(more, sizeof(more), " (+%d)", left);
		strncat(body, more, sizeof(body) - strlen(body) - 1);
	}
	snprintf(buf, len, "%s%s%s", body, body[strlen(body) - 1] == '.' ? " " : ". ", tail);
	utf8_cut(buf, CF_ACTION_TEXT_MAX);
}

/* Append a JSON string (escaped) to buf at *pos. */
static void
json_string(char *buf, size_t len, size_t *pos, const char *s)
{
	if (*pos < len)
		*pos += snprintf(buf + *pos, len - *pos, "\"");
	for (; *s && *pos + 8 < len; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
			*pos += snprintf(buf + *pos, len - *pos, "\\%c", c);
		else if (c < 0x20)
			*pos += snprintf(buf + *pos, len - *pos, "\\u%04x", c);
		else
			buf[(*pos)++] = (char) c;
	}
	if (*pos < len)
		*pos += snprintf(buf + *pos, len - *pos, "\"");
}

bool
cf_reason_to_json(const CfReasonData *d, char *buf, size_t len)
{
	static const char *const domains[CF_DOM_COUNT] = {"nutrition", "medication_review", "fall_risk"};
	static const char *const settings[CF_SET_COUNT] = {
		"nursing_home_long_term", "nursing_home_short_term", "home_nursing", "home_services", "gp"
	};
	size_t		pos = 0;
	int32_t		dates[3] = {d->date1, d->date2, d->due};
	const char *date_keys[3] = {"date1", "date2", "due"};
	double		values[4] = {d->value1, d->value2, d->value3, d->value4};

#define ADD(...) do { if (pos < len) pos += snprintf(buf + pos, len - pos, __VA_ARGS__); } while (0)
	ADD("{\"kind\": \"%s\", \"domain\": \"%s\", \"setting\": \"%s\"",
		cf_reason_kind_name(d->kind),
		domains[(d->domain >= 0 && d->domain < CF_DOM_COUNT) ? d->domain : 0],
		settings[(d->setting >= 0 && d->setting < CF_SET_COUNT) ? d->setting : 0]);
	for (int i = 0; i < 3; i++)
		if (dates[i] > 0)
			ADD(", \"%s\": \"%04d-%02d-%02d\"", date_keys[i], dates[i] / 10000,
				(dates[i] / 100) % 100, dates[i] % 100);
	for (int i = 0; i < 4; i++)
		if (values[i] != 0 && isfinite(values[i]))
			ADD(", \"value%d\": %.6g", i + 1, values[i]);
	if (d->count != 0)
		ADD(", \"count\": %d", d->count);
	if (d->flag)
		ADD(", \"flag\": true");
	if (d->flag2)
		ADD(", \"flag2\": true");
	if (d->text1[0])
	{
		ADD(", \"text1\": ");
		json_string(buf, len, &pos, d->text1);
	}
	if (d->text2[0])
	{
		ADD(", \"text2\": ");
		json_string(buf, len, &pos, d->text2);
	}
	/* fall_drug: every medicine, longest in use first (text1/text2: the first) */
	if (d->kind == CF_RK_FALL_DRUG && d->n_drugs > 0 && d->n_drugs <= CF_REASON_DRUGS)
	{
		ADD(", \"drugs\": [");
		for (int i = 0; i < d->n_drugs; i++)
		{
			ADD("%s{\"name\": ", i == 0 ? "" : ", ");
			json_string(buf, len, &pos, d->drugs[i].name);
			ADD(", \"atc\": ");
			json_string(buf, len, &pos, d->drugs[i].atc);
			ADD("}");
		}
		ADD("]");
		if (d->drugs_total > d->n_drugs)
			ADD(", \"drugs_total\": %d", d->drugs_total);
	}
	ADD("}");
#undef ADD
	return pos < len;
}
