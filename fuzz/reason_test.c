/*-------------------------------------------------------------------------
 *
 * reason_test.c
 *	  Unit cases of the reason renderer (extension/reason.c) outside
 *	  PostgreSQL: Norwegian dates and decimal commas, one sentence per kind
 *	  and language, and the 140-character action row with many rules behind
 *	  it (parts that do not fit are counted, a UTF-8 character is never cut).
 *	  Then the renderer's fuzz run: pseudo-random reason data (every kind,
 *	  domain and setting, impossible dates, huge and negative figures, long
 *	  UTF-8 names) in every language, one to twelve rules per action row;
 *	  every text must be valid UTF-8 and every row at most 140 characters.
 *	  Built with ASan and UBSan (fuzz/Makefile), run by fuzz/run.sh.
 *
 *	  reason_test [-n INPUTS]       (default 20000 pseudo-random inputs)
 *
 *	  Prints "ok - ..." / "not ok - ..." lines; exit status 1 on a failure.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reason.h"

static int	failures = 0;

/* Compare a rendered text with the expected one. */
static void
expect(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		printf("ok - %s\n", what);
	else
	{
		printf("not ok - %s\n#   got:  %s\n#   want: %s\n", what, got, want);
		failures++;
	}
}

/* A condition. */
static void
check(const char *what, int ok)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	if (!ok)
		failures++;
}

/* xorshift64*: the same pseudo-random inputs on every run. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* True when s is well-formed UTF-8 (no cut or stray continuation byte). */
static int
valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	while (*p)
	{
		int			more = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;

		if (more < 0)
			return 0;
		p++;
		for (; more > 0; more--, p++)
			if ((*p & 0xC0) != 0x80)
				return 0;
	}
	return 1;
}

/* A date as the data holds it (yyyymmdd), now and then an impossible one. */
static int32_t
random_date(void)
{
	switch (rng() % 8)
	{
		case 0:
			return 0;
		case 1:
			return (int32_t) (rng() % 100000000) - 50000000;
		case 2:
			return 20261300 + (int32_t) (rng() % 100);	/* month 13 */
		default:
			return 19000101 + (int32_t) (rng() % 200) * 10000 + (int32_t) (rng() % 12) * 100 + (int32_t) (rng() % 31);
	}
}

/* A figure: ordinary, negative, tiny or huge. */
static double
random_value(void)
{
	switch (rng() % 6)
	{
		case 0:
			return -(double) (rng() % 100000) / 7.0;
		case 1:
			return 1e300 * (double) (rng() % 10);
		case 2:
			return 1e-300;
		default:
			return (double) (rng() % 100000) / 10.0;
	}
}

/* A name of up to len - 1 bytes: ASCII, spaces, digits and Norwegian letters. */
static void
random_text(char *buf, size_t len)
{
	static const char *const pieces[] = {
		"a", "Z", " ", "7", ".", ",", "(", ")", "-", "æ", "ø", "å", "Å", "é", "€", "mst", "morse", "mna_sf",
		"Zopiclone", " 7.5 MG Oral Tablet", "𝔘"
	};
	size_t		n = 0,
				want = (size_t) (rng() % len);

	buf[0] = '\0';
	while (n < want)
	{
		const char *piece = pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))];
		size_t		plen = strlen(piece);

		if (n + plen >= len)
			break;
		memcpy(buf + n, piece, plen + 1);
		n += plen;
	}
}

static void
random_data(CfReasonData *d)
{
	memset(d, 0, sizeof(*d));
	d->kind = (CfReasonKind) (rng() % CF_RK_COUNT);
	d->domain = (int) (rng() % (CF_DOM_COUNT + 1)) - (rng() % 16 == 0 ? 1 : 0);
	d->setting = (int) (rng() % (CF_SET_COUNT + 1));
	d->date1 = random_date();
	d->date2 = random_date();
	d->due = random_date();
	d->value1 = random_value();
	d->value2 = random_value();
	d->value3 = random_value();
	d->value4 = random_value();
	d->count = (int) (rng() % 1000) - (rng() % 8 == 0 ? 1000 : 0);
	d->flag = rng() % 2;
	d->flag2 = rng() % 2;
	random_text(d->text1, sizeof(d->text1));
	random_text(d->text2, sizeof(d->text2));
	/* a list of medicines: none (stored before the list), some, or out of range */
	d->n_drugs = (int) (rng() % (CF_REASON_DRUGS + 1)) - (rng() % 16 == 0 ? 3 : 0) +
		(rng() % 16 == 0 ? 100 : 0);
	d->drugs_total = (int) (rng() % 20) - (rng() % 8 == 0 ? 10 : 0);
	for (int i = 0; i < CF_REASON_DRUGS; i++)
	{
		random_text(d->drugs[i].name, sizeof(d->drugs[i].name));
		random_text(d->drugs[i].atc, sizeof(d->drugs[i].atc));
	}
}

/* A fall_drug reason of n named medicines (after a fall), due 12 Dec 2026. */
static void
fall_drug_data(CfReasonData *d, const char *const *names, const char *const *atcs, int n, int total)
{
	memset(d, 0, sizeof(*d));
	d->kind = CF_RK_FALL_DRUG;
	d->domain = CF_DOM_MEDICATION_REVIEW;
	d->setting = CF_SET_NURSING_HOME_LONG_TERM;
	d->flag = 1;
	d->date1 = 20261205;
	d->due = 20261212;
	snprintf(d->text1, sizeof(d->text1), "%s", names[0]);
	snprintf(d->text2, sizeof(d->text2), "%s", atcs[0]);
	d->n_drugs = n;
	d->drugs_total = total;
	for (int i = 0; i < n; i++)
	{
		snprintf(d->drugs[i].name, sizeof(d->drugs[i].name), "%s", names[i]);
		snprintf(d->drugs[i].atc, sizeof(d->drugs[i].atc), "%s", atcs[i]);
	}
}

/* The fuzz run: inputs pseudo-random reasons and action rows. */
static void
fuzz(long inputs)
{
	static CfReasonData data[12];
	const CfReasonData *ptrs[12];
	char		buf[2048];
	long		bad_utf8 = 0,
				too_long = 0,
				no_deadline = 0;

	for (long i = 0; i < inputs; i++)
	{
		int			n = 1 + (int) (rng() % 12);
		CfTodoKind	a = (CfTodoKind) (rng() % CF_TODO_COUNT);
		int32_t		due = random_date();

		for (int j = 0; j < n; j++)
		{
			random_data(&data[j]);
			ptrs[j] = rng() % 10 == 0 ? NULL : &data[j];
		}
		for (int l = 0; l < CF_LANG_COUNT; l++)
		{
			cf_render_reason(&data[0], (CfLang) l, buf, sizeof(buf));
			if (!valid_utf8(buf))
				bad_utf8++;
			cf_render_action(a, ptrs, n, due, (CfLang) l, buf, sizeof(buf));
			if (!valid_utf8(buf))
				bad_utf8++;
			if (cf_utf8_chars(buf) > CF_ACTION_TEXT_MAX)
				too_long++;
			if (strstr(buf, l == CF_LANG_EN ? " Due " : " Frist ") == NULL || buf[strlen(buf) - 1] != '.')
			{
				if (no_deadline++ < 3)
					printf("# no deadline: %s\n", buf);
			}
		}
	}
	printf("# %ld pseudo-random inputs, %d languages\n", inputs, CF_LANG_COUNT);
	check("fuzz: every reason and row is valid UTF-8", bad_utf8 == 0);
	check("fuzz: every action row is at most 140 characters", too_long == 0);
	check("fuzz: every action row keeps its whole deadline", no_deadline == 0);
}

int
main(int argc, char **argv)
{
	long		inputs = 20000;
	char		buf[512];
	CfReasonData d;
	CfReasonData many[12];
	const CfReasonData *ptrs[12];

	cf_render_date(20260503, CF_LANG_NB, false, buf, sizeof(buf));
	expect("a bokmål date", buf, "3. mai 2026");
	cf_render_date(20261205, CF_LANG_NN, true, buf, sizeof(buf));
	expect("a short nynorsk date", buf, "5. des.");
	cf_render_date(20261205, CF_LANG_EN, false, buf, sizeof(buf));
	expect("an English date", buf, "5 December 2026");
	cf_render_number(61.0, 1, CF_LANG_NB, buf, sizeof(buf));
	expect("a decimal comma", buf, "61,0");

	memset(&d, 0, sizeof(d));
	d.kind = CF_RK_ADMISSION;
	d.domain = CF_DOM_NUTRITION;
	d.setting = CF_SET_NURSING_HOME_LONG_TERM;
	d.date1 = 20261205;
	d.due = 20261212;
	cf_render_reason(&d, CF_LANG_NB, buf, sizeof(buf));
	expect("the spec's example sentence (§8)", buf,
		   "Ingen ernæringsscreening siden innkomst 5. desember 2026. Frist 12. desember 2026.");
	cf_render_reason(&d, CF_LANG_NN, buf, sizeof(buf));
	expect("nynorsk: inga for a feminine noun", buf,
		   "Inga ernæringsscreening sidan innkomst 5. desember 2026. Frist 12. desember 2026.");

	memset(&d, 0, sizeof(d));
	d.kind = CF_RK_NO_PLAN;
	d.domain = CF_DOM_FALL_RISK;
	d.date1 = 20261202;
	d.due = 20261209;
	d.value1 = 50;
	snprintf(d.text1, sizeof(d.text1), "morse");
	cf_render_reason(&d, CF_LANG_NN, buf, sizeof(buf));
	expect("instrument as published, nynorsk", buf,
		   "Høg fallrisiko (Morse 50, 2. desember 2026) og ingen plan for fallførebygging. Frist 9. desember 2026.");

	/* an action row with more than fits: at most 140 characters */
	for (int i = 0; i < 12; i++)
	{
		memset(&many[i], 0, sizeof(many[i]));
		many[i].kind = CF_RK_FALL_DRUG;
		many[i].domain = CF_DOM_MEDICATION_REVIEW;
		many[i].flag = 1;
		many[i].date1 = 20261201 + i;
		snprintf(many[i].text1, sizeof(many[i].text1), "Åtterførsteløsning%02d 7.5 MG Oral Tablet", i);
		snprintf(many[i].text2, sizeof(many[i].text2), "N05CF%02d", i % 100);
		ptrs[i] = &many[i];
	}
	for (int l = 0; l < CF_LANG_COUNT; l++)
	{
		cf_render_action(CF_TODO_MEDICATION_REVIEW, ptrs, 12, 20261208, (CfLang) l, buf, sizeof(buf));
		check("a row of twelve rules fits 140 characters", cf_utf8_chars(buf) <= CF_ACTION_TEXT_MAX);
		check("and counts what did not fit", strstr(buf, "(+") != NULL);
		check("and still ends with the deadline", strstr(buf, l == CF_LANG_EN ? "Due 8 Dec." : "Frist 8. des.") != NULL);
	}

	/* issue 17: every fall-risk drug by name, in a sentence's list */
	{
		static const char *const names[] = {
			"Furosemid 40 mg tablett", "Oksazepam 10 mg tablett", "Zopiklon 7,5 mg tablett",
			"Citalopram 20 mg tablett", "Olanzapin 5 mg tablett", "Morfinhydroklorid 10 mg mikstur"
		};
		static const char *const atcs[] = {"C03CA01", "N05BA04", "N05CF01", "N06AB04", "N05AH03", "N02AA01"};
		const CfReasonData *one[1];

		fall_drug_data(&d, names, atcs, 3, 3);
		one[0] = &d;
		cf_render_action(CF_TODO_MEDICATION_REVIEW, one, 1, 20261212, CF_LANG_NB, buf, sizeof(buf));
		expect("three fall-risk drugs, bokmål row", buf,
			   "Legemiddelgjennomgang: bruker furosemid, oksazepam og zopiklon etter fall. Frist 12. des.");
		cf_render_action(CF_TODO_MEDICATION_REVIEW, one, 1, 20261212, CF_LANG_NN, buf, sizeof(buf));
		expect("three fall-risk drugs, nynorsk row", buf,
			   "Legemiddelgjennomgang: brukar furosemid, oksazepam og zopiklon etter fall. Frist 12. des.");
		cf_render_action(CF_TODO_MEDICATION_REVIEW, one, 1, 20261212, CF_LANG_EN, buf, sizeof(buf));
		expect("three fall-risk drugs, English row", buf,
			   "Medication review: takes furosemid, oksazepam and zopiklon after a fall. Due 12 Dec.");
		cf_render_reason(&d, CF_LANG_EN, buf, sizeof(buf));
		expect("three fall-risk drugs, English reason", buf,
			   "Fall on 5 December 2026 and Furosemid 40 mg tablett (C03CA01), Oksazepam 10 mg tablett (N05BA04) "
			   "and Zopiklon 7,5 mg tablett (N05CF01) in use; no medication review since. Due 12 December 2026.");

		fall_drug_data(&d, names, atcs, 2, 2);
		cf_render_reason(&d, CF_LANG_NB, buf, sizeof(buf));
		expect("two fall-risk drugs, bokmål reason", buf,
			   "Fall 5. desember 2026, bruker Furosemid 40 mg tablett (C03CA01) og Oksazepam 10 mg tablett (N05BA04), "
			   "ingen legemiddelgjennomgang siden. Frist 12. desember 2026.");

		/* stored before the list: text1/text2 alone */
		fall_drug_data(&d, names, atcs, 0, 0);
		cf_render_action(CF_TODO_MEDICATION_REVIEW, one, 1, 20261212, CF_LANG_NB, buf, sizeof(buf));
		expect("one fall-risk drug as stored before the list", buf,
			   "Legemiddelgjennomgang: bruker furosemid etter fall. Frist 12. des.");

		/* six kept of nine, one row with many other rules */
		fall_drug_data(&many[0], names, atcs, 6, 9);
		for (int l = 0; l < CF_LANG_COUNT; l++)
		{
			cf_render_reason(&many[0], (CfLang) l, buf, sizeof(buf));
			check("six of nine drugs: the reason names the sixth", strstr(buf, "Morfinhydroklorid") != NULL);
			check("and counts the other three", strstr(buf, l == CF_LANG_EN ? "and 3 others" : "og 3 andre") != NULL);
			cf_render_action(CF_TODO_MEDICATION_REVIEW, ptrs, 12, 20261208, (CfLang) l, buf, sizeof(buf));
			check("a row of many drugs and rules fits 140 characters", cf_utf8_chars(buf) <= CF_ACTION_TEXT_MAX);
			check("and names the drug in use longest", strstr(buf, "furosemid") != NULL);
			check("and counts the drugs it leaves out", strstr(buf, l == CF_LANG_EN ? " others " : " andre ") != NULL);
		}
	}

	if (argc == 3 && strcmp(argv[1], "-n") == 0)
		inputs = atol(argv[2]);
	fuzz(inputs);
	return failures ? 1 : 0;
}
